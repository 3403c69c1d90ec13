"""What a test needs from its environment, and what the environment promises.

A test that only makes sense on a server (``@pytest.mark.postgres``: real
row locks, concurrent writers, a worker in another process;
``@pytest.mark.redis``: the Redis broker's own settings) or in a browser
(``@pytest.mark.e2e``: Chromium) skips where that is missing, so that
``make test`` works on a bare machine.

A skip is silent, though: a CI whose PostgreSQL, Redis or Chromium went
missing would pass with less tested. ``DCC_REQUIRE`` (comma-separated:
``postgres,redis,chromium``; .ci/run sets it) turns such a skip into a
failure, and a session whose configured database or broker is not the one
required refuses to start.
"""

import os
import shutil
from pathlib import Path

import pytest

ENV = "DCC_REQUIRE"
NEEDS = ("postgres", "redis", "chromium")


def required(environ=None) -> frozenset[str]:
    """The needs ``DCC_REQUIRE`` names (a usage error on an unknown one)."""
    value = (os.environ if environ is None else environ).get(ENV, "")
    names = frozenset(name.strip().lower() for name in value.split(",") if name.strip())
    unknown = names - set(NEEDS)
    if unknown:
        raise pytest.UsageError(
            f"{ENV}: unknown {', '.join(sorted(unknown))}; known: {', '.join(NEEDS)}"
        )
    return names


def chromium_path() -> str | None:
    """The Chromium Playwright launches (CHROMIUM_PATH, else Debian's), if present."""
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if Path(path).exists():
        return path
    return shutil.which("chromium")


def available(need: str) -> bool:
    """Whether this run's configuration provides ``need``."""
    if need == "postgres":
        from django.db import connection

        return connection.vendor == "postgresql"
    if need == "redis":
        from django.conf import settings

        return settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
    if need == "chromium":
        return chromium_path() is not None
    raise ValueError(f"unknown need {need!r}")


REASONS = {
    "postgres": "needs PostgreSQL (DATABASE_URL=postgres://…); this run uses SQLite",
    "redis": "needs the Redis broker (REDIS_URL); this run uses the filesystem broker",
    "chromium": "needs Chromium (CHROMIUM_PATH or /usr/bin/chromium)",
}
MARKERS = {"postgres": "postgres", "redis": "redis", "chromium": "e2e"}


def missing(item) -> list[str]:
    """The needs ``item`` is marked with that this run lacks."""
    return [
        need
        for need, marker in MARKERS.items()
        if item.get_closest_marker(marker) is not None and not available(need)
    ]


def mark_skips(items, *, required_needs: frozenset[str]) -> None:
    """At collection: a skip marker on each test with a missing need that is
    not required (reported at the test, with the reason)."""
    for item in items:
        for need in missing(item):
            if need not in required_needs:
                item.add_marker(pytest.mark.skip(reason=REASONS[need]))


def fail_required(item, *, required_needs: frozenset[str]) -> None:
    """At setup, before any fixture: fail a test whose missing need is required."""
    for need in missing(item):
        if need in required_needs:
            pytest.fail(f"{REASONS[need]}, and {ENV} requires {need}: not skipped", pytrace=False)


def check_session(required_needs: frozenset[str]) -> None:
    """A run that requires the server database or broker must be configured
    with it (else its server tests would all fail one by one, or a leg run
    on the wrong configuration would pass)."""
    for need in ("postgres", "redis"):
        if need in required_needs and not available(need):
            raise pytest.UsageError(f"{ENV} requires {need}: {REASONS[need]}")
