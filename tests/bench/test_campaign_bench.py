"""Benchmark: a campaign SMS round of 50,000 members (`make bench`).

The volume: one store with 50,000 owners (customers, phones and vehicles,
written with ``dcc.bulk.bulk_insert``). The measurement:

1. planning: the launch (members frozen from the segment) and the round's
   outbox rows, one per member, through ``services.campaign_launch``;
2. dispatch: every message sent through the Tencent backend to the fake
   Tencent Cloud SMS server (its own process, tests/followups/fake_sms_server.py)
   by ``followups.sms.send_batch`` over the round's ranges, with
   ``BENCH_SMS_WORKERS`` threads (default 4) standing in for Celery workers and
   pacing off (``SMS_RATE_PER_SECOND = 0``): the ceiling the outbox reaches,
   above any provider's rate.

Printed: planning seconds, overall messages/s, and messages/s per second of
the dispatch (the fake provider's arrival times): median, p95 and the floor
(p5, the slow seconds). A measurement, not a timed test: it asserts only
facts (each member's key reached the provider exactly once; all sent).
``BENCH_CAMPAIGN_MEMBERS`` sets the volume.
"""

import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, connections
from django.utils import timezone

from dcc.bulk import build, bulk_insert
from dcc.models import Store, User
from dcc.roles import Role
from followups import sms
from followups.campaigns import services
from followups.campaigns.models import Campaign
from followups.models import SmsMessage, SmsStatus
from leads.models import Customer, CustomerPhone, OwnedVehicle, VehicleModel, VehicleSource
from tests.bench.common import cpu_reference, nearest_rank, reference_data
from tests.followups.fake_sms_server import read_records, tencent_settings

pytestmark = [pytest.mark.bench, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

MEMBERS = int(os.environ.get("BENCH_CAMPAIGN_MEMBERS", "50000"))
WORKERS = int(os.environ.get("BENCH_SMS_WORKERS", "4"))
# BENCH_PROFILE=1: where one sender spends its time (one thread).
PROFILE = bool(os.environ.get("BENCH_PROFILE"))
ROOT = Path(__file__).resolve().parents[2]


def _owners(store, vehicle_model):
    now = timezone.now()
    today = timezone.localdate()
    customers = [
        build(Customer, {"store_id": store.pk, "name": f"车主{i}", "has_full_name": True})
        for i in range(MEMBERS)
    ]
    bulk_insert(Customer, customers, reason="bench")
    bulk_insert(
        CustomerPhone,
        [
            build(
                CustomerPhone,
                {
                    "customer_id": c.pk,
                    "store_id": store.pk,
                    "number": f"+86139{i:08d}",
                    "is_primary": True,
                    "created_at": now,
                },
            )
            for i, c in enumerate(customers)
        ],
        reason="bench",
    )
    OwnedVehicle.objects.bulk_create(
        [
            OwnedVehicle(
                store=store,
                customer_id=c.pk,
                vehicle_model=vehicle_model,
                model_name=vehicle_model.name,
                delivered_on=today - timedelta(days=365 * 3 + 2 + i % 700),
                source=VehicleSource.IMPORT,
            )
            for i, c in enumerate(customers)
        ],
        batch_size=5000,
    )


@pytest.fixture
def fake_provider(tmp_path):
    record = tmp_path / "sms.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.followups.fake_sms_server", "--record", str(record)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        port = int(process.stdout.readline())
        yield f"127.0.0.1:{port}", record
    finally:
        process.terminate()
        process.wait(15)
        process.stdout.close()


def test_a_round_of_50000_members(request, settings, fake_provider):
    write = request.config.pluginmanager.get_plugin("terminalreporter").write_line
    endpoint, record = fake_provider
    settings.SMS_BACKEND = "followups.backends.tencent.TencentBackend"
    settings.SMS_TENCENT = tencent_settings(endpoint)
    settings.SMS_RATE_PER_SECOND = 0
    reference_data()
    store = Store.objects.create(code="BENCH", name="基盘店")
    manager = User.objects.create_user(
        username="bench-manager", password="x", role=Role.MANAGER, store=store
    )
    vehicle_model = VehicleModel.objects.order_by("pk").first()
    started = time.perf_counter()
    _owners(store, vehicle_model)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    write("")
    write(f"{MEMBERS:,} owners written in {time.perf_counter() - started:.1f} s")

    segment = services.segment_save(
        actor=manager, store=store, name="三年以上", filters={"vehicle_age_min": 3}
    )
    campaign = services.campaign_save(
        actor=manager,
        campaign=Campaign(
            store=store,
            name="基盘再购",
            segment=segment,
            sms_template_id="2001",
            sms_params=["name", "model", "store"],
        ),
    )
    started = time.perf_counter()
    round_ = services.campaign_launch(actor=manager, campaign=campaign)
    planning = time.perf_counter() - started
    assert round_.planned_count == MEMBERS
    batch = services.batch_name(round_)
    ranges = sms.batch_ranges(batch, size=1000)
    queue = list(ranges)
    lock = threading.Lock()
    errors = []

    def work():
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    first_id, last_id = queue.pop(0)
                if PROFILE:
                    import cProfile
                    import pstats

                    profile = cProfile.Profile()
                    profile.runcall(sms.send_batch, batch, first_id=first_id, last_id=last_id)
                    pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
                else:
                    sms.send_batch(batch, first_id=first_id, last_id=last_id)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    dispatch = time.perf_counter() - started
    assert not errors, errors

    records = read_records(record)
    keys = Counter(r["json"]["SessionContext"] for r in records)
    assert len(keys) == MEMBERS
    assert set(keys.values()) == {1}
    assert SmsMessage.objects.filter(batch=batch, status=SmsStatus.SENT).count() == MEMBERS
    arrivals = sorted(r["received_at"] for r in records)
    first = int(arrivals[0])
    per_second = Counter(int(t) - first for t in arrivals)
    # Whole seconds only: the first and last are partial.
    seconds = [per_second[s] for s in range(1, max(per_second))] or list(per_second.values())
    write(f"launch + planning of {MEMBERS:,} members: {planning:.1f} s")
    write(
        f"dispatch to the fake provider ({WORKERS} senders): {dispatch:.1f} s, "
        f"{MEMBERS / dispatch:.0f} messages/s overall"
    )
    write(
        "messages/s per second: "
        f"median {statistics.median(seconds):.0f}, "
        f"p95 {nearest_rank(seconds, 0.95):.0f}, "
        f"floor (p5) {nearest_rank(seconds, 0.05):.0f} "
        f"over {len(seconds)} s"
    )
    write(f"cpu reference: {cpu_reference():.2f} s")
