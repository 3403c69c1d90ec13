"""The agent call queue (their home page) and its work panel."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from followups.models import (
    Appointment,
    AppointmentStatus,
    FollowUp,
    SmsMessage,
)
from leads.models import Lead, Status
from tests.desk.helpers import HX, local

pytestmark = pytest.mark.django_db


def test_agent_home_is_the_queue_in_order_of_urgency(web, alice, queue, bob, make_lead):
    make_lead(bob, name="别人的")
    response = web(alice).get("/")
    html = response.content.decode()
    assert response.status_code == 200
    order = [html.index(name) for name in ("赵一", "钱二", "孙三", "李四")]
    assert order == sorted(order)
    assert "别人的" not in html
    assert html.count('data-testid="queue-row"') == 4
    # Each row says why it is there; the new lead counts down to its deadline.
    assert 'data-testid="countdown"' in html
    # The first item's work panel is fetched right after the page arrives …
    first = f"overdue-{queue['overdue'].pk}"
    assert f'hx-get="/followups/queue/{first}/" hx-trigger="load"' in html
    panel = web(alice).get(f"/followups/queue/{first}/", **HX).content.decode()
    assert f'data-key="{first}"' in panel
    assert 'data-testid="log-form"' in panel
    # … or comes with it when the page names the item (links work without JS).
    html = web(alice).get("/", {"item": first}).content.decode()
    assert 'data-testid="log-form"' in html


def test_queue_page_queries_are_bounded(web, alice, make_lead, django_assert_max_num_queries):
    for i in range(30):
        lead = make_lead(alice, name=f"客户{i}")
        Lead.objects.filter(pk=lead.pk).update(
            status=Status.ACTIVE, next_followup_at=timezone.now() - timedelta(days=1 + i % 3)
        )
    client = web(alice)
    client.get("/")
    # Session, user, the store's policy, tomorrow's visits, the book's
    # sections and the rows shown (issue 20).
    with django_assert_max_num_queries(6):
        assert client.get("/").status_code == 200
    # The desk's other sections, fetched as the page loads: session, user,
    # the goals (calls, visits booked, targets), the callbacks' two lists in
    # one query, the campaign calls.
    with django_assert_max_num_queries(7):
        assert client.get(reverse("desk:desk-extras"), **HX).status_code == 200


def test_the_desk_extras_need_a_login_and_swap_into_place(client, web, bob):
    response = client.get(reverse("desk:desk-extras"), **HX)
    assert response.status_code == 302
    assert "login" in response.url
    html = web(bob).get(reverse("desk:desk-extras"), **HX).content.decode()
    # Each section swaps into its place on the desk.
    assert 'id="desk-goals" hx-swap-oob="true"' in html
    assert 'id="desk-side" hx-swap-oob="true"' in html
    home = web(bob).get("/").content.decode()
    assert 'id="desk-goals"' in home
    assert 'id="desk-side"' in home


def test_opening_an_item_loads_its_panel(web, alice, queue):
    key = f"new-{queue['new'].pk}"
    response = web(alice).get(reverse("desk:queue-item", args=[key]), **HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-key="{key}"' in html
    assert "钱二" in html
    # Without htmx it is the queue page with that item open.
    response = web(alice).get(reverse("desk:queue-item", args=[key]))
    assert response.status_code == 302
    assert response.url.endswith(f"?item={key}")


def test_an_item_out_of_scope_is_404(web, bob, queue):
    for key in (f"new-{queue['new'].pk}", f"confirm-{queue['appointment'].pk}"):
        assert web(bob).get(reverse("desk:queue-item", args=[key]), **HX).status_code == 404
        response = web(bob).post(reverse("desk:queue-log", args=[key]), {}, **HX)
        assert response.status_code == 404


def test_logging_a_call_brings_up_the_next_item(web, alice, queue):
    lead = queue["overdue"]
    response = web(alice).post(
        reverse("desk:queue-log", args=[f"overdue-{lead.pk}"]),
        {
            "followup-result": "reached",
            "followup-channel": "call",
            "followup-purpose": "other",
            "followup-level": "A",
            "followup-note": "下周再联系",
        },
        **HX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    followup = FollowUp.objects.get(lead=lead)
    assert (followup.result, followup.note, followup.agent) == ("reached", "下周再联系", alice)
    # The next item is in the panel and the queue comes back out of band without the done row.
    assert f'data-key="new-{queue["new"].pk}"' in html
    assert 'hx-swap-oob="true"' in html
    assert f'id="row-overdue-{lead.pk}"' not in html
    assert "赵一" in html  # the success message names the customer


def test_invited_needs_a_visit_time_and_books_it(web, alice, queue, connie):
    lead = queue["new"]
    key = f"new-{lead.pk}"
    data = {
        "followup-result": "invited",
        "followup-channel": "call",
        "followup-purpose": "test_drive",
        "followup-level": "H",
    }
    response = web(alice).post(reverse("desk:queue-log", args=[key]), data, **HX)
    assert "is-invalid" in response.content.decode()
    assert not FollowUp.objects.filter(lead=lead).exists()

    when = local(2, 14)
    data.update(
        {
            "followup-scheduled_at": timezone.localtime(when).strftime("%Y-%m-%dT%H:%M"),
            "followup-receiver": connie.pk,
        }
    )
    web(alice).post(reverse("desk:queue-log", args=[key]), data, **HX)
    appointment = Appointment.objects.get(lead=lead)
    assert (appointment.scheduled_at, appointment.receiver) == (when, connie)
    assert Lead.objects.get(pk=lead.pk).status == Status.INVITED
    assert SmsMessage.objects.filter(appointment=appointment, kind="booking_customer").exists()


def test_service_errors_come_back_on_the_form_and_nothing_is_written(web, alice, queue):
    lead = queue["today"]
    yesterday = timezone.localtime(timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = web(alice).post(
        reverse("desk:queue-log", args=[f"today-{lead.pk}"]),
        {
            "followup-result": "reached",
            "followup-channel": "call",
            "followup-purpose": "other",
            "followup-level": "B",
            "followup-occurred_at": yesterday,
        },
        **HX,
    )
    assert "earlier today" in response.content.decode() or "今天" in response.content.decode()
    assert not FollowUp.objects.filter(lead=lead).exists()


def test_confirming_tomorrows_visit_from_the_queue(web, alice, queue):
    appointment = queue["appointment"]
    response = web(alice).post(
        reverse("desk:appointment-action", args=[appointment.pk, "confirm"]),
        {"return_to": "queue"},
        **HX,
    )
    assert response.status_code == 200
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert f'id="row-confirm-{appointment.pk}"' not in response.content.decode()


def test_the_page_shows_the_most_urgent_rows_and_the_rest_on_demand(web, alice, make_lead):
    now = timezone.now()
    for i in range(35):
        lead = make_lead(alice, name=f"客户{i}")
        Lead.objects.filter(pk=lead.pk).update(
            status=Status.ACTIVE, next_followup_at=now - timedelta(days=2, minutes=i)
        )
    client = web(alice)
    html = client.get("/").content.decode()
    assert html.count('data-testid="queue-row"') == 30
    assert 'data-testid="queue-show-all"' in html
    rest = client.get(reverse("desk:queue-list"), **HX).content.decode()
    assert rest.count('data-testid="queue-row"') == 35
    assert 'data-testid="queue-show-all"' not in rest
