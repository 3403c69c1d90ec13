"""The import never rescans the calls table (issue 20): a first import into
a store looks up no stored calls but those it wrote itself (a late leg in a
later batch); an import into a store that has calls probes the (store, key)
index once per key, never a sequential scan of the table, whatever its size
and however many batches. What it finds is what it found before: re-imports
add nothing, late legs are merged (test_import_matching.py)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from telephony import cdr
from telephony.models import Call
from tests.telephony.test_import_matching import at, cdr_line, inbound, run

pytestmark = pytest.mark.postgres


def _seq_scans() -> int:
    """Sequential scans of the calls table in this transaction so far."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(seq_scan), 0) FROM pg_stat_xact_user_tables"
            " WHERE relname = 'telephony_call'"
        )
        return int(cursor.fetchone()[0])


class _Watched(cdr.CdrImport):
    """Small batches; each lookup of stored calls recorded with the
    sequential scans of the calls table it made."""

    lookups: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batch_size = 5

    def _stored(self, keys):
        before = _seq_scans()
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            found = super()._stored(keys)
        _Watched.lookups.append((len(keys), len(queries), _seq_scans() - before, len(found)))
        return found


@pytest.fixture
def watched(monkeypatch, settings):
    settings.TIME_ZONE = "UTC"  # the lines are written in UTC
    monkeypatch.setattr(cdr, "CdrImport", _Watched)
    _Watched.lookups = []
    return _Watched.lookups


def _calls(count, *, day=2, first=0):
    start = datetime(2024, 3, day, 9, tzinfo=UTC)
    return "".join(
        inbound(f"1380000{i:04d}", "8001", start + timedelta(minutes=3 * i), uid=f"{day}.{i}")
        for i in range(first, first + count)
    )


def test_a_first_import_looks_up_no_stored_calls(watched, sue, store_a):
    report = run(sue, store_a, _calls(23))
    assert report.calls == 23
    assert len(watched) >= 5  # one lookup per batch, each answered without a query
    assert all(queries == 0 for _keys, queries, _scans, _found in watched)


def test_a_late_leg_of_a_first_import_is_looked_up_alone(watched, sue, store_a, alice, bob):
    late = cdr_line(
        "13800000000", "4008001234", "PJSIP/trunk-0001", "PJSIP/8002-0009", at(2, 9, 1),
        at(2, 9, 1), at(2, 9, 4), "ANSWERED", "2.late", linked="2.0", sequence="2",
    )  # fmt: skip
    # The file moves on seven hours (the first calls are written), then the
    # first call's second leg comes late.
    later = inbound("13900000000", "8002", at(2, 16), uid="2.later")
    report = run(sue, store_a, _calls(12) + later + late)
    assert (report.calls, report.imported) == (13, 14)
    assert len(Call.objects.get(key="2.0").legs) == 2
    # Only the batch with the late leg asked the database (and found its call).
    asked = [(queries, found) for _keys, queries, _scans, found in watched if queries]
    assert asked == [(1, 1)]


def test_an_import_into_a_store_with_calls_probes_the_index(watched, sue, store_a):
    run(sue, store_a, _calls(40, day=1))
    watched.clear()
    # New calls and calls already stored, in batches of five.
    report = run(sue, store_a, _calls(20, day=3) + _calls(10, day=1, first=30))
    assert (report.calls, report.duplicates) == (20, 10)
    assert len(watched) >= 6
    assert all(queries == 1 for _keys, queries, _scans, _found in watched)
    assert sum(found for *_rest, found in watched) == 10
    # Not one sequential scan of the calls table by any lookup (the counter
    # does see one).
    assert sum(scans for _keys, _queries, scans, _found in watched) == 0
    before = _seq_scans()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SELECT count(*) FROM telephony_call WHERE key = '1.0'")
    assert _seq_scans() == before + 1


class _Settings(cdr.CdrImport):
    seen: dict = {}

    def run(self, fileobj):
        with connection.cursor() as cursor:
            cursor.execute("SHOW jit")
            _Settings.seen["jit"] = cursor.fetchone()[0]
        return super().run(fileobj)


def test_the_import_runs_with_jit_off(monkeypatch, sue, store_a):
    monkeypatch.setattr(cdr, "CdrImport", _Settings)
    with connection.cursor() as cursor:
        cursor.execute("SET jit = on")  # the session's, as a server may have it
    report = run(sue, store_a, _calls(3))
    assert report.calls == 3
    assert _Settings.seen["jit"] == "off"


def test_pg_settings_are_local_to_the_transaction(transactional_db):
    from django.db import transaction

    from dcc.pgsettings import pg_settings

    def show():
        with connection.cursor() as cursor:
            cursor.execute("SHOW work_mem")
            return cursor.fetchone()[0]

    before = show()
    with transaction.atomic(), pg_settings(jit="off", work_mem="64MB"):
        assert show() == "64MB"
    assert show() == before
