"""The visits list and the actions on a pending visit (from the queue, the
lead page or the list)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from followups import services, sla
from followups.models import (
    Appointment,
    AppointmentStatus,
)
from leads.models import Lead, Status
from tests.desk.helpers import HX, local

pytestmark = pytest.mark.django_db


def test_no_show_and_arrive_from_the_lead_page(web, alice, mike, make_lead):
    lead = make_lead(alice)
    first = services.appointment_book(actor=alice, lead=lead, scheduled_at=local(1))
    client = web(alice)
    page = client.get(reverse("desk:lead", args=[lead.pk])).content.decode()
    assert 'data-testid="lead-appointments"' in page
    assert 'data-testid="appointment-arrive"' in page
    response = client.post(
        reverse("desk:appointment-action", args=[first.pk, "arrive"]),
        {"return_to": "lead", f"appt{first.pk}-group_size": 3, f"appt{first.pk}-test_drive": "on"},
        **HX,
    )
    assert response.status_code == 200
    assert 'id="lead-panel"' in response.content.decode()
    first.refresh_from_db()
    assert (first.status, first.test_drive, first.group_size, first.visit_number) == (
        AppointmentStatus.ARRIVED,
        True,
        3,
        1,
    )
    assert Lead.objects.get(pk=lead.pk).status == Status.VISITED
    # Repeating is refused with a message, not a silent no-op.
    response = client.post(
        reverse("desk:appointment-action", args=[first.pk, "no-show"]),
        {"return_to": "lead"},
        **HX,
    )
    first.refresh_from_db()
    assert first.status == AppointmentStatus.ARRIVED
    assert 'data-testid="message"' in response.content.decode()


def test_appointment_actions_are_scoped(web, bob, dave, queue):
    appointment = queue["appointment"]
    for user in (bob, dave):
        url = reverse("desk:appointment-action", args=[appointment.pk, "cancel"])
        assert web(user).post(url, {"return_to": "lead"}).status_code == 404
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


def test_flagged_appointments_for_the_manager(web, mike, mary, alice, make_lead):
    lead = make_lead(alice)
    appointment = services.appointment_book(actor=alice, lead=lead, scheduled_at=local(1))
    Appointment.objects.filter(pk=appointment.pk).update(
        scheduled_at=timezone.now() - timedelta(hours=5)
    )
    assert sla.flag_overdue_appointments() == 1
    client = web(mike)
    html = client.get(reverse("desk:appointments")).content.decode()
    assert html.count('data-testid="appointment-row"') == 1
    assert (
        'data-testid="no-appointments"'
        in web(mary).get(reverse("desk:appointments")).content.decode()
    )
    client = web(mike)
    response = client.post(
        reverse("desk:appointment-action", args=[appointment.pk, "no-show"]),
        {"return_to": "list", "view": "flagged"},
        **HX,
    )
    assert 'data-testid="no-appointments"' in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.NO_SHOW
