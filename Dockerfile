FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY dashboard dashboard
COPY providers providers
COPY templates templates
COPY static static
COPY manage.py ./
# Static files get hashed names and gzip/brotli copies (whitenoise's manifest storage).
ENV STATIC_MANIFEST=true
RUN pip install --no-cache-dir . && python manage.py collectstatic --noinput
ENV DASHBOARD_STATE_DIR=/var/lib/ci-dashboard
EXPOSE 8000
CMD ["gunicorn", "dashboard.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
