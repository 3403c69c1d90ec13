"""One pending visit per lead: a second booking is refused (409
``appointment_pending`` in the API, a form error on the pages), whatever the
way in (booking, "invited" follow-up); a visit recorded after its time texts
nobody. The race of many bookings at once: test_booking_race.py."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from followups import services
from followups.models import Appointment, AppointmentStatus, FollowUp, SmsMessage
from leads.models import Lead, Status
from tests.desk.helpers import HX, local

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"


@pytest.fixture(autouse=True)
def _outbox_only(settings):
    settings.SMS_BACKEND = "followups.backends.console.OutboxOnlyBackend"


def book(actor, lead, when):
    return services.appointment_book(actor=actor, lead=lead, scheduled_at=when)


def local_input(when) -> str:
    return timezone.localtime(when).strftime("%Y-%m-%dT%H:%M")


# ---------------------------------------------------------------- the rule


def test_a_second_booking_is_refused_and_the_first_stands(alice, make_lead):
    lead = make_lead(alice)
    first = book(alice, lead, local(2))
    sms_before = list(SmsMessage.objects.values_list("pk", "status"))

    with pytest.raises(services.AppointmentPending) as refused:
        book(alice, lead, local(3))
    assert refused.value.existing == first
    assert refused.value.code == "appointment_pending"
    assert "scheduled_at" in refused.value.message_dict
    with pytest.raises(services.AppointmentPending):
        services.followup_log(
            actor=alice,
            lead=lead,
            channel="call",
            result="invited",
            appointment={"scheduled_at": local(4)},
        )

    assert list(Appointment.objects.values_list("pk", flat=True)) == [first.pk]
    assert list(SmsMessage.objects.values_list("pk", "status")) == sms_before
    assert not FollowUp.objects.exists()  # the refused "invited" contact is not half-logged
    # Moving the visit is the reschedule; a new booking once it is over.
    services.appointment_reschedule(actor=alice, appointment=first, scheduled_at=local(3))
    services.appointment_arrive(actor=alice, appointment=first)
    again = book(alice, lead, local(9))
    assert again.status == AppointmentStatus.BOOKED
    services.appointment_cancel(actor=alice, appointment=again)
    assert book(alice, lead, local(10)).status == AppointmentStatus.BOOKED


def test_the_database_holds_one_pending_visit_per_lead(alice, make_lead):
    lead = make_lead(alice)
    first = book(alice, lead, local(2))
    fields = {"store": lead.store, "lead": lead, "agent": alice, "scheduled_at": local(5)}
    for status in (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED):
        with pytest.raises(IntegrityError), transaction.atomic():
            Appointment.objects.create(status=status, **fields)
    for status in (AppointmentStatus.ARRIVED, AppointmentStatus.CANCELLED):
        Appointment.objects.create(status=status, **fields)
    assert Appointment.objects.pending().get(lead=lead) == first


def test_a_walk_in_is_recorded_while_a_visit_is_booked(alice, make_lead):
    lead = make_lead(alice)
    booked = book(alice, lead, local(2))
    walk_in = services.visit_record(actor=alice, lead=lead)
    assert (walk_in.status, walk_in.visit_number, walk_in.is_walk_in) == ("arrived", 1, True)
    booked.refresh_from_db()
    assert booked.status == AppointmentStatus.BOOKED
    assert not SmsMessage.objects.filter(appointment=walk_in).exists()


# ---------------------------------------------------------------- API


def test_the_api_answers_a_second_booking_with_409(api, alice, make_lead):
    lead = make_lead(alice)
    client = api(alice)
    url = f"{LEADS}{lead.pk}/appointments/"
    first = client.post(url, {"scheduled_at": local(2).isoformat()}, format="json")
    assert first.status_code == 201, first.content

    second = client.post(url, {"scheduled_at": local(3).isoformat()}, format="json")
    assert second.status_code == 409, second.content
    body = second.json()
    assert body["code"] == "appointment_pending"
    assert body["existing_appointment"] == first.json()["id"]
    assert body["scheduled_at"] == first.json()["scheduled_at"]
    assert body["detail"]

    invited = client.post(
        f"{LEADS}{lead.pk}/followups/",
        {"channel": "call", "result": "invited", "scheduled_at": local(4).isoformat()},
        format="json",
    )
    assert invited.status_code == 409, invited.content
    assert invited.json()["existing_appointment"] == first.json()["id"]
    assert not FollowUp.objects.exists()
    assert Appointment.objects.count() == 1
    assert SmsMessage.objects.filter(kind="booking_customer").count() == 1

    # What the 409 points to: the visit's own reschedule.
    moved = client.post(
        f"/api/v1/appointments/{body['existing_appointment']}/reschedule/",
        {"scheduled_at": local(3).isoformat()},
        format="json",
    )
    assert moved.status_code == 200, moved.content


# ---------------------------------------------------------------- pages


def test_the_lead_page_shows_a_second_booking_as_a_form_error(web, alice, make_lead):
    lead = make_lead(alice)
    first = book(alice, lead, local(2))
    url = reverse("desk:lead-action", args=[lead.pk, "book"])
    data = {"book-scheduled_at": local_input(local(3)), "book-purpose": "test_drive"}

    response = web(alice).post(url, data, **HX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "is-invalid" in html
    assert "该潜客已预约" in html  # the form error, in the page's language
    assert list(Appointment.objects.values_list("pk", flat=True)) == [first.pk]


def test_the_queue_shows_an_invited_result_on_a_booked_lead_as_a_form_error(web, alice, make_lead):
    lead = make_lead(alice)
    appointment = book(alice, lead, local(1, 15))  # in the queue: to confirm tomorrow's visit
    data = {
        "followup-result": "invited",
        "followup-channel": "call",
        "followup-purpose": "test_drive",
        "followup-level": lead.level,
        "followup-scheduled_at": local_input(local(4)),
    }

    response = web(alice).post(
        reverse("desk:queue-log", args=[f"confirm-{appointment.pk}"]), data, **HX
    )

    html = response.content.decode()
    assert "is-invalid" in html
    assert "该潜客已预约" in html  # the form error, in the page's language
    assert not FollowUp.objects.filter(lead=lead).exists()
    assert list(Appointment.objects.filter(lead=lead)) == [appointment]


# ---------------------------------------------------------------- history


def test_a_back_entered_visit_texts_nobody(api, alice, mike, connie, make_lead):
    connie.mobile = "+8613911112222"
    connie.save()
    last_week = timezone.now() - timedelta(days=7)
    booked_lead, logged_lead, walk_in_lead = make_lead(alice), make_lead(alice), make_lead(alice)
    client = api(mike)

    booked = client.post(
        f"{LEADS}{booked_lead.pk}/appointments/",
        {"scheduled_at": last_week.isoformat(), "receiver": connie.pk},
        format="json",
    )
    logged = client.post(
        f"{LEADS}{logged_lead.pk}/followups/",
        {
            "channel": "call",
            "result": "invited",
            "agent": alice.pk,
            "occurred_at": (last_week - timedelta(days=1)).isoformat(),
            "scheduled_at": last_week.isoformat(),
            "receiver": connie.pk,
        },
        format="json",
    )
    services.visit_record(actor=mike, lead=walk_in_lead, arrived_at=last_week, receiver=connie)

    assert booked.status_code == 201, booked.content
    assert logged.status_code == 201, logged.content
    assert Appointment.objects.count() == 3
    assert not SmsMessage.objects.exists()
    assert Lead.objects.get(pk=booked_lead.pk).status == Status.INVITED
    # A visit still ahead is announced as ever.
    ahead = book(mike, make_lead(alice), timezone.now() + timedelta(days=1))
    assert SmsMessage.objects.filter(appointment=ahead, kind="booking_customer").exists()
