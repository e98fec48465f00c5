"""Audit the installed dependencies for known vulnerabilities with pip-audit (PyPI's
advisory data). pip-audit reports "no known vulnerabilities" even when it could look
nothing up, so this counts what it could check, and says plainly when the data was
out of reach: an error by default, a skip (exit 0) with --skip-if-unreachable (CI
on machines without that data)."""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-if-unreachable", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip_audit",
                "--skip-editable",
                "--progress-spinner",
                "off",
                "--format",
                "json",
                "--output",
                str(report),
            ],
            capture_output=True,
            text=True,
        )
        if not report.exists():
            return unreachable(f"pip-audit did not run: {run.stderr.strip()[-500:]}", args.skip_if_unreachable)
        dependencies = json.loads(report.read_text()).get("dependencies", [])
    checked = [d for d in dependencies if "skip_reason" not in d]
    if not checked:
        return unreachable(
            f"none of the {len(dependencies)} installed packages could be looked up "
            f"({dependencies[0]['skip_reason'] if dependencies else 'nothing installed'})",
            args.skip_if_unreachable,
        )
    vulnerable = [d for d in checked if d.get("vulns")]
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            print(f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
    skipped = len(dependencies) - len(checked)
    print(
        f"pip-audit: {len(checked)} package(s) checked, {len(vulnerable)} with known vulnerabilities"
        + (f", {skipped} could not be looked up" if skipped else "")
        + "."
    )
    return 1 if vulnerable else 0


def unreachable(why: str, skip: bool) -> int:
    if skip:
        print(f"pip-audit: SKIPPED, vulnerability data not reachable here: {why}.")
        return 0
    print(f"pip-audit: vulnerability data not reachable: {why}.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
