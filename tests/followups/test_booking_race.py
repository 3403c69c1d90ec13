"""Twenty bookings of one lead at the same moment: exactly one visit, one
booking SMS to the customer; the others are refused as a booking on a lead
with a pending visit.

Real threads, real transactions, each on its own database connection,
released together by a barrier; the services, ORM and database are not
steered at all. PostgreSQL only (SQLite serialises writers).
"""

import threading
from datetime import timedelta

import pytest
from django.db import connections

from dcc.celery import app
from followups import services
from followups.models import Appointment, FollowUp, SmsKind, SmsMessage
from tests.desk.helpers import local

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20


@pytest.fixture(autouse=True)
def _outbox_only(settings):
    settings.SMS_BACKEND = "followups.backends.console.OutboxOnlyBackend"
    yield
    app.control.purge()  # the one booking's SMS task: no later worker test should get it


def race(book) -> list[tuple[str, object]]:
    """``book(i)`` in THREADS threads at once; each one's outcome."""
    barrier = threading.Barrier(THREADS, timeout=30)
    outcomes = [None] * THREADS

    def run(i):
        try:
            barrier.wait()
            outcomes[i] = ("booked", book(i))
        except services.AppointmentPending as exc:
            outcomes[i] = ("pending", exc.existing.pk)
        except Exception as exc:  # reported by the assertions below
            outcomes[i] = ("error", repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


@pytest.mark.parametrize("way", ["invited follow-up", "booking"])
def test_twenty_bookings_at_once_make_one_visit_and_one_sms(alice, make_lead, way):
    lead = make_lead(alice)

    def book(i):
        when = local(2) + timedelta(minutes=i)  # each asks for its own time
        if way == "booking":
            return services.appointment_book(actor=alice, lead=lead, scheduled_at=when).pk
        followup = services.followup_log(
            actor=alice,
            lead=lead,
            channel="call",
            result="invited",
            appointment={"scheduled_at": when},
        )
        return followup.pk

    outcomes = race(book)

    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["booked"] + ["pending"] * (THREADS - 1), outcomes
    (visit,) = Appointment.objects.filter(lead=lead)
    assert {value for kind, value in outcomes if kind == "pending"} == {visit.pk}
    assert FollowUp.objects.filter(lead=lead).count() == (1 if way != "booking" else 0)
    customer = SmsMessage.objects.filter(lead=lead, kind=SmsKind.BOOKING_CUSTOMER)
    assert list(customer.values_list("appointment", flat=True)) == [visit.pk]
