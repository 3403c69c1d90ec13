"""The follow-up pages: the agent's call queue and its work panel, appointment
actions, team health, first-contact distribution, breaches, flagged visits
and the SMS outbox. Scoping per role on each."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dcc.timeutils import local_day_start
from followups import selectors, services, sla
from followups.models import (
    Appointment,
    AppointmentStatus,
    FollowUp,
    SlaBreach,
    SmsMessage,
    SmsStatus,
)
from leads.models import Lead, Source, Status

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _outbox_only(settings):
    settings.SMS_BACKEND = "followups.backends.console.OutboxOnlyBackend"


def _log(actor, lead, result="reached", **kwargs):
    kwargs.setdefault("channel", "call")
    return services.followup_log(actor=actor, lead=lead, result=result, **kwargs)


def _local(days=0, hour=10):
    day = timezone.localdate() + timedelta(days=days)
    return local_day_start(day) + timedelta(hours=hour)


@pytest.fixture
def queue(alice, mike, make_lead):
    """Alice's queue: one of each kind, plus a lead of Bob's."""
    now = timezone.now()
    overdue = make_lead(alice, name="赵一")
    Lead.objects.filter(pk=overdue.pk).update(
        status=Status.ACTIVE, next_followup_at=now - timedelta(days=3)
    )
    new = make_lead(mike, name="钱二", source=Source.MANUFACTURER, owner=alice)
    today = make_lead(alice, name="李四")
    Lead.objects.filter(pk=today.pk).update(
        status=Status.ACTIVE,
        next_followup_at=local_day_start(timezone.localdate()) + timedelta(hours=23, minutes=59),
    )
    invited = make_lead(alice, name="孙三")
    appointment = services.appointment_book(actor=alice, lead=invited, scheduled_at=_local(1, 15))
    Lead.objects.filter(pk=invited.pk).update(next_followup_at=now + timedelta(days=5))
    return {"overdue": overdue, "new": new, "today": today, "appointment": appointment}


# ---------------------------------------------------------------- the queue page


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
    with django_assert_max_num_queries(25):
        assert client.get("/").status_code == 200


def test_opening_an_item_loads_its_panel(web, alice, queue):
    key = f"new-{queue['new'].pk}"
    response = web(alice).get(reverse("followups:queue-item", args=[key]), **HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-key="{key}"' in html
    assert "钱二" in html
    # Without htmx it is the queue page with that item open.
    response = web(alice).get(reverse("followups:queue-item", args=[key]))
    assert response.status_code == 302
    assert response.url.endswith(f"?item={key}")


def test_an_item_out_of_scope_is_404(web, bob, queue):
    for key in (f"new-{queue['new'].pk}", f"confirm-{queue['appointment'].pk}"):
        assert web(bob).get(reverse("followups:queue-item", args=[key]), **HX).status_code == 404
        response = web(bob).post(reverse("followups:queue-log", args=[key]), {}, **HX)
        assert response.status_code == 404


def test_logging_a_call_brings_up_the_next_item(web, alice, queue):
    lead = queue["overdue"]
    response = web(alice).post(
        reverse("followups:queue-log", args=[f"overdue-{lead.pk}"]),
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
    response = web(alice).post(reverse("followups:queue-log", args=[key]), data, **HX)
    assert "is-invalid" in response.content.decode()
    assert not FollowUp.objects.filter(lead=lead).exists()

    when = _local(2, 14)
    data.update(
        {
            "followup-scheduled_at": timezone.localtime(when).strftime("%Y-%m-%dT%H:%M"),
            "followup-receiver": connie.pk,
        }
    )
    web(alice).post(reverse("followups:queue-log", args=[key]), data, **HX)
    appointment = Appointment.objects.get(lead=lead)
    assert (appointment.scheduled_at, appointment.receiver) == (when, connie)
    assert Lead.objects.get(pk=lead.pk).status == Status.INVITED
    assert SmsMessage.objects.filter(appointment=appointment, kind="booking_customer").exists()


def test_service_errors_come_back_on_the_form_and_nothing_is_written(web, alice, queue):
    lead = queue["today"]
    yesterday = timezone.localtime(timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = web(alice).post(
        reverse("followups:queue-log", args=[f"today-{lead.pk}"]),
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
        reverse("followups:appointment-action", args=[appointment.pk, "confirm"]),
        {"return_to": "queue"},
        **HX,
    )
    assert response.status_code == 200
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert f'id="row-confirm-{appointment.pk}"' not in response.content.decode()


def test_no_show_and_arrive_from_the_lead_page(web, alice, mike, make_lead):
    lead = make_lead(alice)
    first = services.appointment_book(actor=alice, lead=lead, scheduled_at=_local(1))
    client = web(alice)
    page = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert 'data-testid="lead-appointments"' in page
    assert 'data-testid="appointment-arrive"' in page
    response = client.post(
        reverse("followups:appointment-action", args=[first.pk, "arrive"]),
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
        reverse("followups:appointment-action", args=[first.pk, "no-show"]),
        {"return_to": "lead"},
        **HX,
    )
    first.refresh_from_db()
    assert first.status == AppointmentStatus.ARRIVED
    assert 'data-testid="message"' in response.content.decode()


def test_followup_tab_on_the_lead_page(web, alice, make_lead):
    lead = make_lead(alice)
    client = web(alice)
    assert (
        'data-testid="action-followup"'
        in client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    )
    client.post(
        reverse("leads:action", args=[lead.pk, "followup"]),
        {
            "followup-result": "no_answer",
            "followup-channel": "call",
            "followup-purpose": "other",
            "followup-level": lead.level,
        },
    )
    followup = FollowUp.objects.get(lead=lead)
    assert followup.result == "no_answer"
    assert Lead.objects.get(pk=lead.pk).unanswered_attempts == 1


def test_an_unanswered_call_comes_back_after_the_retry_interval(alice, make_lead, store_a):
    lead = make_lead(alice, level="C")
    followup = _log(alice, lead, result="no_answer")
    # The next follow-up follows the level's cadence (API.md) …
    assert followup.next_followup_at == followup.occurred_at + timedelta(days=14)
    assert not [i for i in selectors.queue_for_agent(agent=alice) if i.lead.pk == lead.pk]
    # … but the queue brings the lead back once the store's retry interval has passed.
    later = followup.occurred_at + timedelta(hours=2, minutes=1)
    items = [i for i in selectors.queue_for_agent(agent=alice, now=later) if i.lead.pk == lead.pk]
    assert [(i.kind, i.deadline) for i in items] == [
        ("retry", followup.occurred_at + timedelta(hours=2))
    ]
    _log(alice, lead, result="reached", occurred_at=followup.occurred_at + timedelta(minutes=1))
    assert not [
        i for i in selectors.queue_for_agent(agent=alice, now=later) if i.lead.pk == lead.pk
    ]


def test_confirmations_go_to_the_owner_and_not_for_closed_leads(
    alice, bob, mike, make_lead, price_reason
):
    lead = make_lead(alice)
    appointment = services.appointment_book(actor=alice, lead=lead, scheduled_at=_local(1, 11))
    assert [i.kind for i in selectors.queue_for_agent(agent=alice)] == ["confirm"]
    from leads.services import lead_assign, lead_defeat

    lead_assign(actor=mike, lead=lead, owner=bob, reason="调岗")
    assert not [i for i in selectors.queue_for_agent(agent=alice) if i.kind == "confirm"]
    assert [i.appointment for i in selectors.queue_for_agent(agent=bob) if i.kind == "confirm"] == [
        appointment
    ]
    # Closing the lead cancels the visit and withdraws its pending SMS.
    lead_defeat(actor=mike, lead=Lead.objects.get(pk=lead.pk), reason=price_reason)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert not SmsMessage.objects.filter(appointment=appointment, status=SmsStatus.PENDING).exists()
    assert not [i for i in selectors.queue_for_agent(agent=bob) if i.kind == "confirm"]


def test_appointment_actions_are_scoped(web, bob, dave, queue):
    appointment = queue["appointment"]
    for user in (bob, dave):
        url = reverse("followups:appointment-action", args=[appointment.pk, "cancel"])
        assert web(user).post(url, {"return_to": "lead"}).status_code == 404
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


# ---------------------------------------------------------------- supervisor


def test_team_health_counts_per_agent(web, sue, alice, bob, carol, queue, make_lead):
    _log(bob, make_lead(bob))
    html = web(sue).get("/").content.decode()
    assert 'data-testid="team-health"' in html
    health = selectors.team_health(user=sue)
    rows = {row["agent"].username: row for row in health["rows"]}
    assert rows["alice"]["overdue"] == 1
    assert rows["alice"]["new"] == 1
    assert rows["alice"]["due_today"] == 1
    assert rows["alice"]["appointments_tomorrow"] == 1
    assert rows["bob"]["logged_today"] == 1
    assert "carol" not in rows  # another team: a supervisor's table is the team's


def test_team_health_queries_do_not_grow_with_agents(
    web, mike, make_lead, alice, bob, django_assert_max_num_queries
):
    for agent in (alice, bob):
        for _ in range(5):
            _log(agent, make_lead(agent))
    client = web(mike)
    client.get("/")
    with django_assert_max_num_queries(30):
        assert client.get("/").status_code == 200


def test_first_contact_distribution(web, sue, mike, alice, bob, make_lead):
    received = timezone.now() - timedelta(days=1)
    minutes = {alice: [3, 30, 90, 600], bob: [1]}
    for agent, values in minutes.items():
        for value in values:
            lead = make_lead(mike, owner=agent, received_at=received, source=Source.MANUFACTURER)
            Lead.objects.filter(pk=lead.pk).update(first_contact_minutes=value)
    make_lead(mike, owner=bob, received_at=received)  # not called yet
    start = received - timedelta(days=1)
    tables = selectors.first_contact_distribution(
        user=sue, start=start, end=timezone.now() + timedelta(minutes=1)
    )
    by_owner = {row["key"]: row for row in tables["owner"]}
    assert by_owner[alice.pk]["median"] == pytest.approx(60)  # (30 + 90) / 2
    assert by_owner[alice.pk]["p90"] == pytest.approx(447)  # 90 + 0.7 × (600 − 90)
    assert dict(by_owner[alice.pk]["shares"]) == {"5m": 25.0, "1h": 50.0, "2h": 75.0, "48h": 100.0}
    # Bob: one of two received leads called, within 5 minutes.
    assert (by_owner[bob.pk]["received"], by_owner[bob.pk]["contacted"]) == (2, 1)
    assert dict(by_owner[bob.pk]["shares"])["5m"] == 50.0
    by_source = {row["key"]: row for row in tables["source"]}
    assert by_source["manufacturer"]["received"] == 5
    page = web(sue).get(reverse("followups:first-contact")).content.decode()
    assert page.count('data-testid="fc-row"') >= 3


def test_agents_may_not_open_supervisor_pages(web, alice):
    for name in ("followups:first-contact", "followups:breaches", "followups:sms"):
        assert web(alice).get(reverse(name)).status_code == 403


# ---------------------------------------------------------------- breaches


@pytest.fixture
def breach(mike, alice, make_lead):
    lead = make_lead(
        mike,
        owner=alice,
        source=Source.MANUFACTURER,
        received_at=timezone.now() - timedelta(hours=49),
    )
    assert sla.sweep_breaches() == 1
    return SlaBreach.objects.get(lead=lead)


def test_breach_list_badge_and_acknowledge(web, sue, mary, breach):
    client = web(sue)
    html = client.get(reverse("followups:breaches")).content.decode()
    assert html.count('data-testid="breach-row"') == 1
    assert 'data-testid="nav-badge"' in html
    response = client.post(reverse("followups:breach-acknowledge", args=[breach.pk]), **HX)
    assert 'data-testid="acknowledged"' in response.content.decode()
    breach.refresh_from_db()
    assert breach.acknowledged_by == sue
    html = client.get(reverse("followups:breaches")).content.decode()
    assert 'data-testid="breach-row"' not in html
    assert 'data-testid="nav-badge"' not in html
    assert (
        client.get(reverse("followups:breaches") + "?show=all")
        .content.decode()
        .count('data-testid="breach-row"')
        == 1
    )
    # Another store's manager sees nothing of it and cannot acknowledge it.
    assert (
        'data-testid="breach-row"'
        not in web(mary).get(reverse("followups:breaches") + "?show=all").content.decode()
    )
    assert (
        web(mary).post(reverse("followups:breach-acknowledge", args=[breach.pk])).status_code == 404
    )


# ---------------------------------------------------------------- visits to confirm


def test_flagged_appointments_for_the_manager(web, mike, mary, alice, make_lead):
    lead = make_lead(alice)
    appointment = services.appointment_book(actor=alice, lead=lead, scheduled_at=_local(1))
    Appointment.objects.filter(pk=appointment.pk).update(
        scheduled_at=timezone.now() - timedelta(hours=5)
    )
    assert sla.flag_overdue_appointments() == 1
    client = web(mike)
    html = client.get(reverse("followups:appointments")).content.decode()
    assert html.count('data-testid="appointment-row"') == 1
    assert (
        'data-testid="no-appointments"'
        in web(mary).get(reverse("followups:appointments")).content.decode()
    )
    client = web(mike)
    response = client.post(
        reverse("followups:appointment-action", args=[appointment.pk, "no-show"]),
        {"return_to": "list", "view": "flagged"},
        **HX,
    )
    assert 'data-testid="no-appointments"' in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.NO_SHOW


# ---------------------------------------------------------------- SMS outbox


def test_outbox_shows_errors_and_retries_by_hand(
    web, sue, mary, alice, make_lead, django_capture_on_commit_callbacks
):
    lead = make_lead(alice)
    appointment = services.appointment_book(actor=alice, lead=lead, scheduled_at=_local(2))
    message = SmsMessage.objects.get(appointment=appointment, kind="booking_customer")
    SmsMessage.objects.filter(pk=message.pk).update(
        status=SmsStatus.FAILED, last_error="FailedOperation.TemplateIncorrectOrUnapproved"
    )
    client = web(sue)
    html = client.get(reverse("followups:sms") + "?show=problems").content.decode()
    assert "FailedOperation.TemplateIncorrectOrUnapproved" in html
    assert "王小明您好" in html  # the Chinese preview of the template
    assert 'data-testid="sms-retry"' in html
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("followups:sms-retry", args=[message.pk]), {"show": "problems"})
    message.refresh_from_db()
    assert message.status == SmsStatus.PENDING
    assert "王小明" not in web(mary).get(reverse("followups:sms")).content.decode()
    assert web(mary).post(reverse("followups:sms-retry", args=[message.pk])).status_code == 404


def test_the_lead_timeline_tells_contacts_and_visits(web, alice, make_lead):
    lead = make_lead(alice)
    _log(alice, lead, result="reached", note="想要白色")
    appointment = services.appointment_book(actor=alice, lead=lead, scheduled_at=_local(1, 16))
    services.appointment_confirm(actor=alice, appointment=appointment)
    html = web(alice).get(reverse("leads:detail", args=[lead.pk])).content.decode()
    events = [
        'data-event="followups.followup.logged"',
        'data-event="followups.appointment.booked"',
        'data-event="followups.appointment.confirmed"',
    ]
    assert all(event in html for event in events)
    assert "想要白色" in html


def test_a_visit_without_booking_counts_as_first_then_return_visit(web, alice, make_lead):
    lead = make_lead(alice)
    client = web(alice)
    booked = services.appointment_book(actor=alice, lead=lead, scheduled_at=_local(1, 10))
    services.appointment_arrive(actor=alice, appointment=booked)
    client.post(
        reverse("leads:action", args=[lead.pk, "visit"]),
        {"visit-group_size": 2, "visit-test_drive": "on"},
    )
    walk_in = Appointment.objects.get(lead=lead, is_walk_in=True)
    assert (walk_in.status, walk_in.visit_number, walk_in.test_drive) == ("arrived", 2, True)
    assert not SmsMessage.objects.filter(appointment=walk_in).exists()


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
    rest = client.get(reverse("followups:queue-list"), **HX).content.decode()
    assert rest.count('data-testid="queue-row"') == 35
    assert 'data-testid="queue-show-all"' not in rest


# ---------------------------------------------------------------- store rules


def test_manager_sets_the_store_rules(web, mike, alice, mary, store_a, make_lead):
    client = web(mike)
    assert client.get(reverse("followups:settings")).status_code == 200
    data = {
        "store": store_a.pk,
        "manufacturer_first_contact_hours": 24,
        "transfer_first_contact_days": 2,
        "defeat_approval_required": "on",
        "cadence_h_days": 1,
        "cadence_a_days": 2,
        "cadence_b_days": 5,
        "cadence_c_days": 10,
        "retry_no_answer_hours": 3,
        "max_unanswered_attempts": 4,
        "appointment_grace_hours": 1,
        "reminder_hour": 9,
        "answer_within_seconds": 15,
        "verify_window_minutes": 30,
        "sms_signature": "上汽通用别克",
        "reason": "厂家新规",
    }
    response = client.post(reverse("followups:settings"), data)
    assert response.status_code == 302
    store_a.refresh_from_db()
    policy = services.policy_for(store_a)
    assert store_a.manufacturer_first_contact_hours == 24
    assert store_a.defeat_approval_required is True
    assert (policy.cadence_a_days, policy.retry_no_answer_hours, policy.sms_signature) == (
        2,
        3,
        "上汽通用别克",
    )
    assert policy.history.first().history_change_reason == "厂家新规"
    # The cadence applies to the next follow-up logged.
    followup = _log(alice, make_lead(alice, level="A"))
    assert followup.next_followup_at == followup.occurred_at + timedelta(days=2)
    # Bad values are field errors and change nothing.
    response = client.post(reverse("followups:settings"), {**data, "reminder_hour": 25})
    assert response.status_code == 200
    assert "is-invalid" in response.content.decode()
    assert services.policy_for(store_a).reminder_hour == 9
    # Another store's manager cannot see or change it; agents may not.
    assert web(mary).get(reverse("followups:settings"), {"store": store_a.pk}).status_code == 404
    assert web(alice).get(reverse("followups:settings")).status_code == 403


def test_section_counts_agree_with_the_rows_when_conditions_overlap(alice, make_lead):
    now = timezone.now()
    today_start = local_day_start(timezone.localdate(now))
    overlapping = {
        # new and overdue at once: overdue wins
        "overdue": {"status": Status.NEW, "next_followup_at": now - timedelta(days=2)},
        # not reached and due today: retry wins
        "retry": {
            "status": Status.ACTIVE,
            "unanswered_attempts": 1,
            "last_attempt_at": now - timedelta(hours=3),
            "next_followup_at": today_start + timedelta(hours=23),
        },
        "today": {"status": Status.ACTIVE, "next_followup_at": today_start + timedelta(hours=23)},
    }
    for fields in overlapping.values():
        lead = make_lead(alice)
        Lead.objects.filter(pk=lead.pk).update(**fields)
    make_lead(alice)  # plain new
    items, counts = selectors.queue_page(agent=alice, total=100, now=now)
    by_kind = {kind: sum(1 for i in items if i.kind == kind) for kind in counts}
    assert by_kind == counts == {"overdue": 1, "new": 1, "confirm": 0, "retry": 1, "today": 1}
