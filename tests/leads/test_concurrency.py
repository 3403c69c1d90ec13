"""Two people enter the same phone at the same moment: exactly one lead.

Real threads, real transactions, each on its own database connection; the
barrier lines both up on the insert after both have checked for an existing
lead, so the application-level check cannot save us: only the database's
partial unique constraint can. PostgreSQL only (SQLite serialises writers).
"""

import threading

import pytest
from django.db import connections

from leads.models import Lead, Source
from leads.services import DuplicateLead, lead_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_entry_of_one_phone_yields_one_lead(alice, bob, envision, monkeypatch):
    barrier = threading.Barrier(2, timeout=20)
    real_find = __import__("leads.services", fromlist=["find_open_lead"]).find_open_lead

    def find_then_wait(**kwargs):
        found = real_find(**kwargs)
        if found is None:
            barrier.wait()  # both threads saw "no open lead": now race to insert
        return found

    # Only the timing is steered; the service, ORM and database are real.
    monkeypatch.setattr("leads.services.find_open_lead", find_then_wait)
    outcomes = {}

    def enter(user):
        try:
            lead = lead_create(
                actor=user,
                store=user.store,
                name="并发客户",
                phone="13700000000",
                source=Source.WEB,
                intended_model=envision,
            )
            outcomes[user.username] = ("created", lead.pk)
        except DuplicateLead as exc:
            outcomes[user.username] = ("duplicate", exc.existing.pk)
        except Exception as exc:  # reported by the assertion below
            outcomes[user.username] = ("error", repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=enter, args=(user,)) for user in (alice, bob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(kind for kind, _ in outcomes.values()) == ["created", "duplicate"], outcomes
    assert Lead.objects.filter(phone="+8613700000000").count() == 1
    winner = Lead.objects.get(phone="+8613700000000")
    assert {value for _, value in outcomes.values()} == {winner.pk}
