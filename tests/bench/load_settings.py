"""The production settings (dcc.settings.production) as the load test runs
them: gunicorn on the loopback over plain HTTP, so the cookies may travel
without TLS and static files come from the finders (locust fetches no
assets; a browser caches them). Nothing else differs: the same password
hasher, sessions, middleware, CSP, database and cache settings."""

from dcc.settings.production import *  # noqa: F403

SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
