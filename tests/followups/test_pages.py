"""The follow-up pages: first-contact distribution, breaches, the SMS outbox
and the store rules, and the queue's rules behind the agent's page (the
queue, visits and team health pages themselves: tests/desk). Scoping per
role on each."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dcc.timeutils import local_day_start
from followups import selectors, services, sla
from followups.models import (
    AppointmentStatus,
    FollowupPolicy,
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


# ---------------------------------------------------------------- queue rules


def test_an_unanswered_call_comes_back_after_the_retry_interval(alice, make_lead, store_a):
    lead = make_lead(alice, level="C")
    followup = _log(alice, lead, result="no_answer")
    # The next follow-up follows the level's cadence (API.md) …
    assert followup.next_followup_at == followup.occurred_at + timedelta(days=14)
    # (in no section of work due now: only "later", where no open lead is lost)
    assert [i.kind for i in selectors.queue_for_agent(agent=alice) if i.lead.pk == lead.pk] == [
        "later"
    ]
    # … but the queue brings the lead back once the store's retry interval has passed.
    later = followup.occurred_at + timedelta(hours=2, minutes=1)
    items = [i for i in selectors.queue_for_agent(agent=alice, now=later) if i.lead.pk == lead.pk]
    assert [(i.kind, i.deadline) for i in items] == [
        ("retry", followup.occurred_at + timedelta(hours=2))
    ]
    _log(alice, lead, result="reached", occurred_at=followup.occurred_at + timedelta(minutes=1))
    assert [
        i.kind for i in selectors.queue_for_agent(agent=alice, now=later) if i.lead.pk == lead.pk
    ] == ["later"]


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


# ---------------------------------------------------------------- supervisor


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
    # Acknowledging takes a note: without one the breach stays open.
    response = client.post(reverse("followups:breach-acknowledge", args=[breach.pk]), **HX)
    assert 'data-testid="acknowledged"' not in response.content.decode()
    assert "invalid-feedback" in response.content.decode()
    breach.refresh_from_db()
    assert breach.acknowledged_at is None
    response = client.post(
        reverse("followups:breach-acknowledge", args=[breach.pk]),
        {"note": "spoke to the agent"},
        **HX,
    )
    assert 'data-testid="acknowledged"' in response.content.decode()
    assert "spoke to the agent" in response.content.decode()
    # The layout's badge is updated in place (issue 13 point 9): sent out of
    # band, now empty since the only open breach is acknowledged.
    assert '<span id="nav-badge-open_breaches" hx-swap-oob="true"></span>' in (
        response.content.decode()
    )
    assert 'id="nav-badge-open_breaches"' in html
    breach.refresh_from_db()
    assert breach.acknowledged_by == sue
    assert breach.acknowledge_note == "spoke to the agent"
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
        "first_contact_rule": "connected",
        "first_contact_min_talk_seconds": 15,
        "sms_signature": "上汽通用别克",
        "handover_mode": "keep",
        "first_contact_warning_hours": 6,
        "aftercare_days": "3, 30, 90",
        "reason": "厂家新规",
    }
    response = client.post(reverse("followups:settings"), data)
    assert response.status_code == 302
    store_a.refresh_from_db()
    policy = FollowupPolicy.objects.for_store(store_a)
    assert (policy.first_contact_rule, policy.first_contact_min_talk_seconds) == ("connected", 15)
    assert store_a.manufacturer_first_contact_hours == 24
    assert store_a.defeat_approval_required is True
    assert (policy.cadence_a_days, policy.retry_no_answer_hours, policy.sms_signature) == (
        2,
        3,
        "上汽通用别克",
    )
    assert (policy.first_contact_warning_hours, policy.aftercare_days) == (6, "3, 30, 90")
    assert policy.history.first().history_change_reason == "厂家新规"
    # The cadence applies to the next follow-up logged.
    followup = _log(alice, make_lead(alice, level="A"))
    assert followup.next_followup_at == followup.occurred_at + timedelta(days=2)
    # Bad values are field errors and change nothing.
    response = client.post(reverse("followups:settings"), {**data, "reminder_hour": 25})
    assert response.status_code == 200
    assert "is-invalid" in response.content.decode()
    assert FollowupPolicy.objects.for_store(store_a).reminder_hour == 9
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
    assert by_kind == counts
    assert {kind: n for kind, n in counts.items() if n} == {
        "overdue": 1,
        "new": 1,
        "retry": 1,
        "today": 1,
    }
