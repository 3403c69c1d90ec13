"""Benchmark: the funnel of a 50,000-member campaign (`make bench`).

The volume (``BENCH_FUNNEL_MEMBERS``, default 50,000): one launched campaign
whose members all got the round's SMS (90% delivered, 5% replied), 30,000 of
them on the lists of 20 callers with one or two calls each (a third reached,
a tenth of those interested with a lead), plus an event with invitations.
Rows are written with ``bulk_create`` and the tables ANALYZEd.

The measurement: 20 runs (after a warm-up) of ``kpi.campaigns.funnel`` (one
query) and ``funnel_by_caller`` (one query and the names), median, p95 and
max. It asserts facts only (the counts add up), never a time.
"""

import os
import statistics
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from dcc.roles import Role
from followups.campaigns.models import Campaign, CampaignMember, CampaignRound
from followups.campaigns.models_outreach import CampaignCall
from followups.models import SmsKind, SmsMessage, SmsStatus
from kpi import campaigns as funnels
from leads.models import Customer
from tests.factories import StaffFactory

pytestmark = [pytest.mark.bench, pytest.mark.postgres, pytest.mark.django_db]

MEMBERS = int(os.environ.get("BENCH_FUNNEL_MEMBERS", "50000"))
RUNS = 20


def _timed(fn) -> list[float]:
    fn()
    times = []
    for _n in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _report(write, name: str, times: list[float]) -> None:
    ordered = sorted(times)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    write(
        f"{name}: median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, "
        f"max {max(times):.1f} ms ({MEMBERS} members, {RUNS} runs)"
    )


def test_funnel_of_a_large_campaign(request, store_a, team_a1, mike):
    write = request.config.pluginmanager.get_plugin("terminalreporter").write_line
    callers = [
        StaffFactory(username=f"caller{i}", role=Role.CALLER, store=store_a, team=team_a1)
        for i in range(20)
    ]
    now = timezone.now()
    campaign = Campaign.objects.create(
        store=store_a, team=team_a1, name="bench", status="launched", launched_at=now
    )
    CampaignRound.objects.create(
        campaign=campaign, number=1, planned_at=now, dispatched_at=now, status="done"
    )
    customers = Customer.objects.bulk_create(
        [Customer(store=store_a, name=f"车主{i}") for i in range(MEMBERS)], batch_size=5000
    )
    messages = SmsMessage.objects.bulk_create(
        [
            SmsMessage(
                store=store_a,
                kind=SmsKind.CAMPAIGN,
                phone=f"+86139{i:08d}",
                idempotency_key=f"bench:{campaign.pk}:{i}",
                status=SmsStatus.SENT,
                send_after=now,
                sent_at=now,
                delivered_at=now if i % 10 else None,
            )
            for i in range(MEMBERS)
        ],
        batch_size=5000,
    )
    called = min(30000, MEMBERS)
    members = CampaignMember.objects.bulk_create(
        [
            CampaignMember(
                campaign=campaign,
                customer=customer,
                phone=message.phone,
                sms=message,
                replied_at=now if i % 20 == 0 else None,
                caller=callers[i % 20] if i < called else None,
                call_due_at=now if i < called else None,
            )
            for i, (customer, message) in enumerate(zip(customers, messages, strict=True))
        ],
        batch_size=5000,
    )
    calls = []
    for i, member in enumerate(members[:called]):
        calls.append(
            CampaignCall(
                member=member,
                caller_id=member.caller_id,
                called_at=now - timedelta(hours=3),
                outcome="no_answer",
            )
        )
        if i % 3 == 0:
            calls.append(
                CampaignCall(
                    member=member,
                    caller_id=member.caller_id,
                    called_at=now,
                    outcome="interested" if i % 30 == 0 else "not_interested",
                )
            )
    CampaignCall.objects.bulk_create(calls, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE campaigns_campaignmember; ANALYZE campaigns_campaigncall;"
            " ANALYZE followups_smsmessage;"
        )

    counts = funnels.funnel(campaign, user=mike)
    assert counts["members"] == MEMBERS
    assert counts["called"] == called
    assert counts["reached"] == len(range(0, called, 3))
    rows = funnels.funnel_by_caller(campaign, user=mike)
    assert sum(row["members"] for row in rows) == MEMBERS

    _report(write, "funnel", _timed(lambda: funnels.funnel(campaign, user=mike)))
    _report(
        write, "funnel_by_caller", _timed(lambda: funnels.funnel_by_caller(campaign, user=mike))
    )
