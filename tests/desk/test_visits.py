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


def test_the_lead_page_fetches_a_visits_forms_when_opened(web, alice, make_lead):
    """Issue 20: the lead page builds no form of a pending visit's actions;
    each one that asks something fetches its form (htmx) when it is opened,
    and posts as before."""
    lead = make_lead(alice)
    visit = services.appointment_book(actor=alice, lead=lead, scheduled_at=local(1))
    client = web(alice)
    page = client.get(reverse("desk:lead", args=[lead.pk])).content.decode()
    url = reverse("desk:appointment-action", args=[visit.pk, "arrive"])
    for slug in ("confirm", "arrive", "no-show", "reschedule", "cancel"):
        assert f'data-testid="appointment-{slug}"' in page
    assert f'hx-get="{url}?return_to=lead"' in page
    assert f'name="appt{visit.pk}-group_size"' not in page
    assert f'name="appt{visit.pk}-scheduled_at"' not in page

    fragment = client.get(url, {"return_to": "lead"}, **HX)
    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert f'name="appt{visit.pk}-group_size"' in html
    assert 'data-testid="submit-arrive"' in html
    assert "<html" not in html

    response = client.post(
        url,
        {"return_to": "lead", f"appt{visit.pk}-group_size": 2, f"appt{visit.pk}-test_drive": ""},
        **HX,
    )
    assert response.status_code == 200
    assert 'id="lead-panel"' in response.content.decode()
    visit.refresh_from_db()
    assert (visit.status, visit.group_size) == (AppointmentStatus.ARRIVED, 2)


def test_without_htmx_a_visit_action_opens_on_a_page_of_its_own(web, alice, make_lead):
    lead = make_lead(alice)
    visit = services.appointment_book(actor=alice, lead=lead, scheduled_at=local(1))
    url = reverse("desk:appointment-action", args=[visit.pk, "reschedule"])
    response = web(alice).get(url, {"return_to": "lead"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="appointment-action-page"' in html
    assert f'action="{url}"' in html
    assert f'name="appt{visit.pk}-scheduled_at"' in html
    assert "<details open" in html
    assert 'name="return_to" value="lead"' in html
    # Posted from there (no htmx), it goes back to the lead page as before.
    response = web(alice).post(
        url, {"return_to": "lead", f"appt{visit.pk}-scheduled_at": "2099-01-02T10:00"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("desk:lead", args=[lead.pk])
    visit.refresh_from_db()
    assert visit.status in (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED)


def test_a_visits_form_is_scoped_and_only_for_actions_it_offers(web, alice, bob, dave, make_lead):
    lead = make_lead(alice)
    visit = services.appointment_book(actor=alice, lead=lead, scheduled_at=local(1))
    url = reverse("desk:appointment-action", args=[visit.pk, "arrive"])
    for user in (bob, dave):  # another agent's lead; another store's agent
        assert web(user).get(url, **HX).status_code == 404
        assert web(user).get(url).status_code == 404
    client = web(alice)
    assert (
        client.get(reverse("desk:appointment-action", args=[visit.pk, "nope"]), **HX).status_code
        == 404
    )
    services.appointment_confirm(actor=alice, appointment=visit)
    confirm = reverse("desk:appointment-action", args=[visit.pk, "confirm"])
    assert client.get(confirm, **HX).status_code == 404  # confirmed already
    services.appointment_arrive(actor=alice, appointment=visit)
    assert client.get(url, **HX).status_code == 404  # done: no action left
    assert client.delete(url).status_code == 405
