"""`make run` on SQLite: web, worker and beat write one file at once. The
settings (dcc/settings/base.py) put it in WAL mode with a busy timeout and
begin every transaction IMMEDIATE, so concurrent writers queue for the lock
instead of failing with "database is locked" (issue 13 point 10)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import os, sys, time
    import django
    django.setup()
    from django.db import connection, transaction
    rounds, start = int(sys.argv[1]), float(sys.argv[2])
    time.sleep(max(0.0, start - time.time()))  # all writers begin together
    for i in range(rounds):
        # Read, then write, in one transaction: under DEFERRED two such
        # transactions deadlock on upgrading their read locks and one fails
        # at once, whatever the timeout.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM beat")
                (n,) = cursor.fetchone()
                cursor.execute("INSERT INTO beat (writer, seen) VALUES (%s, %s)", [os.getpid(), n])
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        print(cursor.fetchone()[0])
    """
)


def _env(db: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env.update(
        DATABASE_URL=f"sqlite:///{db}",
        DJANGO_SETTINGS_MODULE="dcc.settings.base",
        PYTHONPATH=str(ROOT),
    )
    return env


def test_concurrent_writers_never_see_database_is_locked(tmp_path):
    import sqlite3

    db = tmp_path / "run.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE beat (id INTEGER PRIMARY KEY, writer INTEGER, seen INTEGER)")
    writers, rounds = 4, 150
    start = time.time() + 4
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(rounds), str(start)],
            cwd=ROOT,
            env=_env(db),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(writers)
    ]
    results = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert "database is locked" not in err
        assert proc.returncode == 0, err
        assert out.strip().splitlines()[-1] == "wal"
    with sqlite3.connect(db) as conn:
        (total,) = conn.execute("SELECT COUNT(*) FROM beat").fetchone()
        # Each writer saw every earlier row: the transactions ran one after another.
        seen = sorted(row[0] for row in conn.execute("SELECT seen FROM beat"))
    assert total == writers * rounds
    assert seen == list(range(total))


def test_sqlite_settings():
    from django.conf import settings

    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("sqlite3"):
        return
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    # WAL: switched on for each new connection by dcc.sqlite (with retries).
    from django.db.backends.signals import connection_created

    assert any(key[0] == "dcc.sqlite.wal" for key, *_ in connection_created.receivers)
    assert db["OPTIONS"]["timeout"] >= 5


def test_wal_is_switched_on_once_a_lock_holder_lets_go(tmp_path):
    """dcc.sqlite.enable_wal waits for a process holding the file (here: an
    open write transaction in rollback-journal mode) instead of failing, and
    leaves the file in WAL mode; a second call changes nothing."""
    import sqlite3
    import threading

    from dcc.sqlite import enable_wal

    db = tmp_path / "new.sqlite3"
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO t VALUES (1)")
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    release.start()
    other = sqlite3.connect(db, timeout=0.05, isolation_level=None, check_same_thread=False)
    try:
        began = time.monotonic()
        assert enable_wal(other, timeout=10) == "wal"
        assert time.monotonic() - began >= 0.4
        assert enable_wal(other, timeout=0) == "wal"
    finally:
        release.join()
        other.close()
        holder.close()
