"""Races of the pool and of distribution, on real PostgreSQL connections.

* 20 agents claim one pool lead at the same moment: exactly one owns it,
  the other 19 are told it is gone, one claim is recorded.
* 20 leads arrive at once under a round-robin rule over 4 agents: the
  rule's row lock plans them one after another, so each agent gets 5.
"""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from dcc.roles import Role
from followups import pool as pool_rules
from followups.models import FollowupPolicy
from leads import distribution
from leads.lifecycle import LeadStateError
from leads.models import Lead, PoolEvent, PoolEventKind, Source
from leads.services import lead_create
from tests.factories import StaffFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20


def _race(work, args):
    barrier = threading.Barrier(len(args), timeout=60)
    outcomes = []

    def run(arg):
        try:
            barrier.wait()
            outcomes.append(("ok", work(arg)))
        except LeadStateError:
            outcomes.append(("gone", None))
        except Exception as exc:  # reported by the assertions
            outcomes.append(("error", repr(exc)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(arg,)) for arg in args]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return outcomes


def test_twenty_agents_claim_one_pool_lead(store_a, mike, alice):
    FollowupPolicy.objects.create(store=store_a, pool_on_first_contact=True)
    agents = [
        StaffFactory(username=f"racer{i}", role=Role.AGENT, store=store_a) for i in range(THREADS)
    ]
    lead = lead_create(
        actor=alice, store=store_a, name="公海客户", phone="13900000001", source=Source.MANUFACTURER
    )
    Lead.objects.filter(pk=lead.pk).update(first_contact_due=timezone.now() - timedelta(hours=1))
    assert pool_rules.sweep_to_pool() == 1

    outcomes = _race(lambda agent: pool_rules.claim(actor=agent, lead_id=lead.pk).owner_id, agents)

    kinds = Counter(kind for kind, _value in outcomes)
    assert kinds == {"ok": 1, "gone": THREADS - 1}, outcomes
    winner = next(value for kind, value in outcomes if kind == "ok")
    lead.refresh_from_db()
    assert lead.owner_id == winner
    assert lead.pooled_at is None
    claims = PoolEvent.objects.filter(lead=lead, kind=PoolEventKind.CLAIMED)
    assert list(claims.values_list("staff_id", flat=True)) == [winner]


def test_twenty_arrivals_share_round_robin_evenly(store_a, mike):
    agents = [StaffFactory(username=f"rr{i}", role=Role.AGENT, store=store_a) for i in range(4)]
    distribution.rule_save(
        actor=mike, store=store_a, name="轮询", targets=[(agent, 1) for agent in agents]
    )

    def arrive(number):
        return lead_create(
            actor=mike,
            store=store_a,
            name="并发",
            phone=f"139000000{number:02d}",
            source=Source.WEB,
        ).owner_id

    outcomes = _race(arrive, list(range(THREADS)))

    assert all(kind == "ok" for kind, _value in outcomes), outcomes
    assert Counter(value for _kind, value in outcomes) == {agent.pk: 5 for agent in agents}
