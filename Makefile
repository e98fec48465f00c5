# `make demo` and `make test` work on a fresh machine with Python 3.11+ and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: demo test lint bench install clean audit

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	PORT=$(PORT) $(BIN)/python manage.py demo --port $(PORT)

test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Writes var/bench.md; each section in a fresh database (var/bench-*.sqlite3 unless
# DATABASE_URL is set; the fan-out and freshness sections need PostgreSQL and Redis).
# BENCH_ARGS=--quick for CI.
bench: $(BIN)/.installed
	DATABASE_URL=$${DATABASE_URL:-sqlite:///$(CURDIR)/var/bench.sqlite3} $(BIN)/python manage.py bench $(BENCH_ARGS)

# Known vulnerabilities in the pinned dependencies (pip-audit, PyPI's advisory data).
# AUDIT_ARGS=--skip-if-unreachable skips, saying so, where that data cannot be reached.
audit: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,audit]"
	$(BIN)/python .ci/audit.py $(AUDIT_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) var staticfiles
