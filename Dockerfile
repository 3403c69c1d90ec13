# One image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=dcc.settings.production

RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 dcc

WORKDIR /app
# The runtime lock first (exact versions and hashes: `make lock`), its own
# layer; then the project itself, without dependencies.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY dcc dcc
COPY leads leads
COPY followups followups
COPY kpi kpi
COPY telephony telephony
COPY desk desk
RUN pip install --no-cache-dir --no-deps .
COPY . .
# collectstatic needs settings but no real secrets or database.
RUN SECRET_KEY=build-only-not-secret-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx \
    ALLOWED_HOSTS=localhost DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var /data/media && chown -R dcc /app/var /data/media

USER dcc
EXPOSE 8000
CMD ["gunicorn", "dcc.wsgi:application", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", "--workers", "3", "--threads", "4"]
