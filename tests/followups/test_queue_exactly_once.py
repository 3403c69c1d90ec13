"""Issue 13, point 4: a queue that loses no lead. Every open lead an agent
owns is in exactly one section, whatever its status, next follow-up, visit,
first-contact deadline and unanswered calls; first calls due within the
store's warning hours come before overdue follow-ups; a re-activated lead
comes back with a next follow-up and shows."""

from datetime import timedelta
from itertools import product

import pytest
from django.utils import timezone

from dcc.timeutils import local_day_start
from followups import selectors, services
from followups.models import Appointment, AppointmentStatus, FollowupPolicy
from leads.models import OPEN_STATUSES, Customer, Lead, Source, Status
from leads.services import lead_activate, lead_defeat

pytestmark = pytest.mark.django_db


def _moments(now):
    today = timezone.localdate(now)
    today_start = local_day_start(today)
    tomorrow_start = local_day_start(today + timedelta(days=1))
    return {
        "next": {
            "none": None,
            "yesterday": today_start - timedelta(hours=10),
            "earlier_today": max(today_start, now - timedelta(minutes=5)),
            "later_today": min(tomorrow_start - timedelta(minutes=1), now + timedelta(minutes=5)),
            "tomorrow": tomorrow_start + timedelta(hours=10),
            "next_week": now + timedelta(days=7),
        },
        "visit": {
            "none": None,
            "booked_today": (AppointmentStatus.BOOKED, now + timedelta(minutes=30)),
            "booked_tomorrow": (AppointmentStatus.BOOKED, tomorrow_start + timedelta(hours=11)),
            "confirmed_tomorrow": (
                AppointmentStatus.CONFIRMED,
                tomorrow_start + timedelta(hours=11),
            ),
            "booked_later": (AppointmentStatus.BOOKED, tomorrow_start + timedelta(days=3)),
        },
        "first_contact": {
            "none": {},
            "due_soon": {"first_contact_due": now + timedelta(hours=2)},
            "due_later": {"first_contact_due": now + timedelta(days=1, hours=12)},
            "missed": {"first_contact_due": now - timedelta(hours=3)},
            "met": {"first_contact_due": now + timedelta(hours=2), "sla_met_at": now},
        },
        "attempts": {
            "none": {},
            "retry_due": {"unanswered_attempts": 1, "last_attempt_at": now - timedelta(hours=3)},
            "retry_later": {"unanswered_attempts": 1, "last_attempt_at": now},
        },
    }


def test_every_open_lead_is_in_exactly_one_section(alice, bob, store_a, envision):
    now = timezone.now()
    moments = _moments(now)
    combos = list(
        product(
            OPEN_STATUSES,
            moments["next"],
            moments["visit"],
            moments["first_contact"],
            moments["attempts"],
        )
    )
    customers = Customer.objects.bulk_create(
        Customer(store=store_a, name=f"客户{i}") for i in range(len(combos) + 3)
    )
    leads = []
    for i, (status, nxt, _visit, first, attempts) in enumerate(combos):
        leads.append(
            Lead(
                store=store_a,
                customer=customers[i],
                phone=f"+86139{i:08d}",
                source=Source.WEB,
                intended_model=envision,
                status=status,
                owner=alice,
                received_at=now - timedelta(days=3),
                first_contacted_at=None if status == Status.NEW else now - timedelta(days=2),
                next_followup_at=moments["next"][nxt],
                **moments["first_contact"][first],
                **moments["attempts"][attempts],
            )
        )
    # Closed leads: only a defeated one due a re-contact belongs in the queue.
    closed = [
        (Status.DEFEATED, None),
        (Status.DELIVERED, now + timedelta(days=3)),
        (Status.DEFEATED, now - timedelta(hours=1)),
    ]
    for j, (status, recontact_at) in enumerate(closed):
        leads.append(
            Lead(
                store=store_a,
                customer=customers[len(combos) + j],
                phone=f"+86138{j:08d}",
                source=Source.WEB,
                status=status,
                owner=alice,
                received_at=now - timedelta(days=30),
                next_followup_at=now - timedelta(days=20),
                recontact_at=recontact_at,
            )
        )
    leads = Lead.objects.bulk_create(leads)
    Appointment.objects.bulk_create(
        Appointment(
            store=store_a,
            lead=lead,
            agent=alice,
            status=moments["visit"][visit][0],
            scheduled_at=moments["visit"][visit][1],
        )
        for lead, (_s, _n, visit, _f, _a) in zip(leads, combos, strict=False)
        if moments["visit"][visit] is not None
    )

    items = selectors.queue_for_agent(agent=alice, now=now, limit=100_000)
    seen = {}
    for item in items:
        seen.setdefault(item.lead.pk, []).append(item.kind)
    open_ids = {lead.pk for lead in leads[: len(combos)]}
    lost = [combos[i] for i, lead in enumerate(leads[: len(combos)]) if lead.pk not in seen]
    twice = {pk: kinds for pk, kinds in seen.items() if len(kinds) > 1}
    assert not lost, f"open leads in no section: {lost[:5]}"
    assert not twice, f"leads in several sections: {list(twice.items())[:5]}"
    # The closed ones: only the defeated lead due a re-contact, as "recontact".
    assert {pk: kinds for pk, kinds in seen.items() if pk not in open_ids} == {
        leads[-1].pk: ["recontact"]
    }
    # The counts are the rows, section by section.
    _rows, counts = selectors.queue_page(agent=alice, total=0, now=now)
    by_kind = {kind: sum(1 for i in items if i.kind == kind) for kind in selectors.QUEUE_KINDS}
    assert counts == by_kind
    assert sum(counts.values()) == len(combos) + 1
    # The home page's first rows (one ordered query) are the full queue's
    # first rows (ranked within sections by a window): one order, two paths.
    page, _counts = selectors.queue_page(agent=alice, total=60, now=now)
    assert [(i.kind, i.lead.pk) for i in page] == [(i.kind, i.lead.pk) for i in items[:60]]
    # Another agent sees none of them.
    assert selectors.queue_for_agent(agent=bob, now=now) == []

    # Sections follow the rules they name.
    by_lead = {pk: kinds[0] for pk, kinds in seen.items()}
    for lead, (status, nxt, visit, first, attempts) in zip(leads, combos, strict=False):
        kind = by_lead[lead.pk]
        if first in ("due_soon", "missed"):
            assert kind == "soon", (status, nxt, visit, first, attempts)
        elif nxt == "yesterday":
            assert kind == "overdue"
        elif kind == "confirm":
            assert visit == "booked_tomorrow"
            assert status in selectors.BOOKED_VISIT_STATUSES
    # Within the page order, "soon" comes before "overdue".
    kinds = [item.kind for item in items]
    assert kinds.index("soon") < kinds.index("overdue")
    # A confirm row carries its visit; no lead shows for both a visit and a follow-up.
    confirm = [item for item in items if item.kind == "confirm"]
    assert confirm
    assert all(item.appointment.lead_id == item.lead.pk for item in confirm)


def test_the_warning_hours_are_a_store_setting(alice, mike, make_lead, store_a):
    received = timezone.now()
    lead = make_lead(mike, source=Source.MANUFACTURER, owner=alice, received_at=received)
    due = Lead.objects.get(pk=lead.pk).first_contact_due  # 48 h after receipt
    now = received + timedelta(minutes=1)

    def kind():
        return [i.kind for i in selectors.queue_for_agent(agent=alice, now=now) if i.lead == lead]

    assert kind() == ["new"]
    FollowupPolicy.objects.create(store=store_a, first_contact_warning_hours=48)
    assert kind() == ["soon"]
    assert selectors.queue_for_agent(agent=alice, now=now)[0].deadline == due


def test_a_reactivated_lead_gets_a_next_followup_and_shows(
    alice, bob, mike, make_lead, price_reason, store_a
):
    lead = make_lead(alice)
    services.followup_log(actor=alice, lead=lead, channel="call", result="reached")
    lead_defeat(actor=mike, lead=Lead.objects.get(pk=lead.pk), reason=price_reason)
    assert not [i for i in selectors.queue_for_agent(agent=bob) if i.lead.pk == lead.pk]

    lead = lead_activate(
        actor=mike, lead=Lead.objects.get(pk=lead.pk), owner=bob, reason="客户重新询价"
    )
    lead.refresh_from_db()
    assert lead.status == Status.ACTIVE
    assert lead.next_followup_at == lead.first_contact_due  # the transfer rule's deadline
    assert lead.first_contact_due - lead.transferred_at == timedelta(
        days=store_a.transfer_first_contact_days
    )
    items = [i for i in selectors.queue_for_agent(agent=bob) if i.lead.pk == lead.pk]
    assert [(i.kind, i.deadline) for i in items] == [("new", lead.first_contact_due)]
    # Within the warning hours of its deadline it comes first.
    near = lead.first_contact_due - timedelta(hours=1)
    first = selectors.queue_for_agent(agent=bob, now=near)[0]
    assert (first.kind, first.lead.pk) == ("soon", lead.pk)
    # Its first call takes it out of "new": the call plans the next one.
    services.followup_log(actor=bob, lead=lead, channel="call", result="reached")
    items = [i for i in selectors.queue_for_agent(agent=bob) if i.lead.pk == lead.pk]
    assert [i.kind for i in items] == ["later"]
