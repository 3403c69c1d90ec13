"""SQLite for `make run`: web, worker and beat write one file at once.

Each new connection puts the file in WAL mode (readers go on while one
writes) and relaxes fsync to NORMAL (safe in WAL mode). Switching a file to
WAL needs it to itself for a moment: when three processes open a new file
together, the switch can meet SQLITE_BUSY without SQLite's busy handler
being asked, so it is retried here for as long as the busy timeout allows,
instead of a process failing at start with "database is locked" (seen in CI
under load). A file already in WAL mode is left as it is.
"""

from __future__ import annotations

import sqlite3
import time

from django.db.backends.signals import connection_created
from django.dispatch import receiver

# The settings' "timeout" (seconds) bounds the retries too.
DEFAULT_TIMEOUT = 20.0


def enable_wal(raw, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Put the database of ``raw`` (a sqlite3 connection) in WAL mode, retrying
    while it is locked; returns the journal mode now in force."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            mode = raw.execute("PRAGMA journal_mode").fetchone()[0]
            if mode in ("wal", "memory"):  # in-memory databases have no WAL
                return mode
            return raw.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


@receiver(connection_created, dispatch_uid="dcc.sqlite.wal")
def _sqlite_wal(sender, connection, **kwargs):
    if connection.vendor != "sqlite":
        return
    timeout = float(connection.settings_dict.get("OPTIONS", {}).get("timeout", DEFAULT_TIMEOUT))
    enable_wal(connection.connection, timeout=timeout)
    connection.connection.execute("PRAGMA synchronous=NORMAL")
