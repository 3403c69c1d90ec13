"""Tests: the database and broker come from DATABASE_URL / REDIS_URL when set
(CI points them at PostgreSQL and Redis), else the embedded defaults."""

from .base import *

DEBUG = False
SECRET_KEY = "test-only-key-not-secret"  # noqa: S105 - test settings only
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]
# A media folder per database engine, so that CI's two legs (PostgreSQL and
# SQLite, run side by side) never share files.
MEDIA_ROOT = VAR_DIR / f"test-media-{DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"
# Static files straight from the finders: tests need no collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
LOGGING["root"]["level"] = "WARNING"
# Throttle counters in the test process itself (tests/conftest.py clears them
# before each test), never in the Redis that CI shares between runs.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
