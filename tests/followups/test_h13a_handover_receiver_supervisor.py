"""Issue 13, points 1–3: mode two's handover at the first invited visit and
its KPI split; the visit's receiver reading the lead (and only while the
visit is on); a supervisor's reassignment within their own team."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from dcc.models import AuditEvent
from followups import services
from followups.models import FollowupPolicy, HandoverMode
from kpi.metrics import Period, Scope, compute
from leads import services as lead_services
from leads.lifecycle import LeadStateError
from leads.models import Lead, Status
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"


@pytest.fixture(autouse=True)
def _outbox_only(settings):
    settings.SMS_BACKEND = "followups.backends.console.OutboxOnlyBackend"


@pytest.fixture
def mode_two(store_a):
    policy = FollowupPolicy.objects.for_store(store_a)
    policy.handover_mode = HandoverMode.HAND_OVER
    policy.save()
    return policy


def soon(days=2):
    return timezone.now() + timedelta(days=days)


# ---------------------------------------------------------------- 1. mode two


def test_mode_two_booking_hands_the_callers_lead_to_the_receiving_agent(
    mode_two, carol, alice, make_lead
):
    lead = make_lead(carol)
    appointment = services.appointment_book(
        actor=carol, lead=lead, scheduled_at=soon(), receiver=alice
    )
    lead.refresh_from_db()
    assert lead.owner == alice
    assert appointment.agent == carol  # the caller keeps the invitation
    event = AuditEvent.objects.get(name="leads.lead.handed_over", target_id=lead.pk)
    assert event.data["previous"] == carol.pk
    assert event.data["owner"] == alice.pk
    assert lead.history.first().history_change_reason  # the reason is in the history
    # The caller no longer works the lead (reads it while the visit is on);
    # the agent does.
    assert Lead.objects.visible_to(carol).filter(pk=lead.pk).exists()
    assert not Lead.objects.workable_by(carol).filter(pk=lead.pk).exists()
    assert Lead.objects.workable_by(alice).filter(pk=lead.pk).exists()


def test_mode_two_needs_a_receiving_dcc_agent(mode_two, carol, connie, make_lead):
    lead = make_lead(carol)
    for receiver in (None, connie):
        with pytest.raises(ValidationError) as error:
            services.appointment_book(
                actor=carol, lead=lead, scheduled_at=soon(), receiver=receiver
            )
        assert "receiver" in error.value.message_dict
    lead.refresh_from_db()
    assert lead.owner == carol
    assert lead.status == Status.NEW


def test_mode_one_the_caller_keeps_the_lead(carol, alice, make_lead):
    lead = make_lead(carol)
    services.appointment_book(actor=carol, lead=lead, scheduled_at=soon(), receiver=alice)
    lead.refresh_from_db()
    assert lead.owner == carol


def test_mode_two_leaves_an_agents_own_lead_alone(mode_two, alice, bob, make_lead):
    lead = make_lead(alice)
    services.appointment_book(actor=alice, lead=lead, scheduled_at=soon(), receiver=bob)
    lead.refresh_from_db()
    assert lead.owner == alice


def test_the_kpi_split_caller_keeps_calls_and_invitation_agent_gets_visit_and_deal(
    mode_two, carol, alice, mike, make_lead, envision
):
    lead = make_lead(carol)
    services.followup_log(actor=carol, lead=lead, channel="call", result="reached")
    appointment = services.appointment_book(
        actor=carol, lead=lead, scheduled_at=soon(), receiver=alice
    )
    services.appointment_arrive(actor=alice, appointment=appointment, test_drive=True)
    appointment.refresh_from_db()
    assert (appointment.agent, appointment.visit_owner) == (carol, alice)
    lead_services.deal_record(
        actor=alice, lead=lead, vehicle_model=envision, stage="order", deal_at=timezone.now()
    )
    today = timezone.localdate()
    period = Period(today, today)
    caller = compute(Scope("agent", carol.pk), period)
    agent = compute(Scope("agent", alice.pk), period)
    # The caller: the first call and the first invited visit.
    assert caller["followup_rate"].numerator == 1
    assert caller["invite_to_store_rate"].numerator == 1
    assert caller["test_drive_rate"].denominator == 0
    assert caller["deals"].value == 0
    # The agent: the visit (with its test drive), the deal and the conversion.
    assert agent["invite_to_store_rate"].numerator == 0
    assert (agent["test_drive_rate"].numerator, agent["test_drive_rate"].denominator) == (1, 1)
    assert agent["deals"].value == 1
    assert agent["conversion_30d"].numerator == 1
    # The store counts each once.
    store = compute(Scope("store", carol.store_id), period)
    assert store["invite_to_store_rate"].numerator == 1
    assert store["test_drive_rate"].denominator == 1


# ---------------------------------------------------------------- 2. the receiver


def test_the_receiver_reads_the_lead_only_while_the_visit_is_on(api, web, alice, connie, make_lead):
    lead = make_lead(alice)
    other = make_lead(alice)
    page = reverse("desk:lead", args=[lead.pk])
    # Before the booking: nothing.
    assert web(connie).get(page).status_code == 404
    assert api(connie).get(f"{LEADS}{lead.pk}/").status_code == 404
    appointment = services.appointment_book(
        actor=alice, lead=lead, scheduled_at=soon(), receiver=connie
    )
    # Booked: the lead page (read only, with the visit's actions) and the API.
    html = web(connie).get(page).content.decode()
    assert 'data-testid="receiving-only"' in html
    assert 'data-testid="lead-actions"' not in html
    assert f"/followups/appointments/{appointment.pk}/arrive/" in html
    assert api(connie).get(f"{LEADS}{lead.pk}/").status_code == 200
    # Never another lead, never ownership, never a change beyond the visit.
    assert web(connie).get(reverse("desk:lead", args=[other.pk])).status_code == 404
    assert api(connie).get(f"{LEADS}{other.pk}/").status_code == 404
    with pytest.raises(PermissionDenied):
        services.followup_log(actor=connie, lead=lead, channel="call", result="reached")
    response = api(connie).post(
        f"{LEADS}{lead.pk}/followups/", {"channel": "call", "result": "reached"}, format="json"
    )
    assert response.status_code in (403, 404)
    # Cancelled: closed, gone again.
    services.appointment_cancel(actor=alice, appointment=appointment)
    assert web(connie).get(page).status_code == 404
    assert api(connie).get(f"{LEADS}{lead.pk}/").status_code == 404
    lead.refresh_from_db()
    assert lead.owner == alice


def test_an_arrived_visit_opens_the_lead_until_the_end_of_its_day(alice, connie, make_lead):
    lead = make_lead(alice)
    appointment = services.appointment_book(
        actor=alice, lead=lead, scheduled_at=soon(), receiver=connie
    )
    services.appointment_arrive(actor=connie, appointment=appointment)
    assert Lead.objects.visible_to(connie).filter(pk=lead.pk).exists()
    assert not Lead.objects.workable_by(connie).filter(pk=lead.pk).exists()
    type(appointment).objects.filter(pk=appointment.pk).update(
        arrived_at=timezone.now() - timedelta(days=1)
    )
    assert not Lead.objects.visible_to(connie).filter(pk=lead.pk).exists()


def test_the_booking_agent_may_receive_their_own_customer(web, alice, make_lead):
    lead = make_lead(alice)
    html = web(alice).get(reverse("desk:lead", args=[lead.pk])).content.decode()
    assert f'<option value="{alice.pk}"' in html


def test_the_booking_warns_when_the_receiver_has_no_mobile(web, alice, store_a, make_lead):
    quiet = StaffFactory(username="quiet", role="consultant", store=store_a, mobile="")
    lead = make_lead(alice)
    html = web(alice).get(reverse("desk:lead", args=[lead.pk])).content.decode()
    assert "⚠" in html  # the choice says so before saving
    response = web(alice).post(
        reverse("desk:lead-action", args=[lead.pk, "book"]),
        {
            "book-scheduled_at": timezone.localtime(soon()).strftime("%Y-%m-%dT%H:%M"),
            "book-purpose": "test_drive",
            "book-receiver": quiet.pk,
        },
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any(quiet.display_name in m for m in messages), messages


def test_a_consultants_home_lists_today_and_tomorrows_arrivals(web, alice, connie, make_lead):
    lead = make_lead(alice)
    services.appointment_book(actor=alice, lead=lead, scheduled_at=soon(1), receiver=connie)
    html = web(connie).get("/").content.decode()
    assert 'data-testid="arrivals-tomorrow"' in html
    assert reverse("desk:lead", args=[lead.pk]) in html
    assert 'data-testid="queue-list"' not in html


# ---------------------------------------------------------------- 3. supervisor


def test_a_supervisor_reassigns_in_the_team_with_reason_and_history(sue, alice, bob, make_lead):
    lead = make_lead(alice)
    Lead.objects.filter(pk=lead.pk).update(escalated_at=timezone.now(), unanswered_attempts=3)
    lead_services.lead_assign(actor=sue, lead=lead, owner=bob, reason="alice 不在")
    lead.refresh_from_db()
    assert lead.owner == bob
    assert lead.escalated_at is None
    event = AuditEvent.objects.get(name="leads.lead.assigned", target_id=lead.pk)
    assert event.data["reason"] == "alice 不在"
    assert event.actor == sue


def test_a_supervisor_cannot_reassign_outside_the_team(sue, alice, carol, dave, make_lead):
    own = make_lead(alice)
    with pytest.raises(ValidationError):  # to another team's member
        lead_services.lead_assign(actor=sue, lead=own, owner=carol, reason="x")
    with pytest.raises(ValidationError):  # to another store's member
        lead_services.lead_assign(actor=sue, lead=own, owner=dave, reason="x")
    theirs = make_lead(carol)  # another team's lead
    with pytest.raises(PermissionDenied):
        lead_services.lead_assign(actor=sue, lead=theirs, owner=alice, reason="x")
    own.refresh_from_db()
    theirs.refresh_from_db()
    assert (own.owner, theirs.owner) == (alice, carol)


def test_a_supervisor_cannot_reassign_outside_the_team_by_page(web, sue, carol, alice, make_lead):
    theirs = make_lead(carol)
    response = web(sue).post(
        reverse("desk:lead-action", args=[theirs.pk, "assign"]),
        {"assign-owner": alice.pk, "assign-reason": "x"},
    )
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.owner == carol


def test_note_and_clear_an_escalation(sue, alice, make_lead):
    lead = make_lead(alice)
    Lead.objects.filter(pk=lead.pk).update(escalated_at=timezone.now(), unanswered_attempts=3)
    lead_services.lead_supervisor_note(actor=sue, lead=lead, note="换个时间打")
    assert AuditEvent.objects.filter(name="leads.lead.supervisor_note", target_id=lead.pk).exists()
    lead_services.lead_clear_escalation(actor=sue, lead=lead, note="已联系")
    lead.refresh_from_db()
    assert lead.escalated_at is None
    with pytest.raises(LeadStateError):
        lead_services.lead_clear_escalation(actor=sue, lead=lead)
    with pytest.raises(PermissionDenied):
        lead_services.lead_supervisor_note(actor=alice, lead=lead, note="x")


def test_team_health_links_to_the_leads_behind_the_numbers(web, sue, alice, make_lead):
    lead = make_lead(alice)
    Lead.objects.filter(pk=lead.pk).update(escalated_at=timezone.now(), unanswered_attempts=3)
    html = web(sue).get("/").content.decode()
    link = f"?owner={alice.pk}&amp;rule=escalated"
    assert link in html
    listed = web(sue).get(reverse("leads:list"), {"owner": alice.pk, "rule": "escalated"})
    assert f'data-lead-id="{lead.pk}"' in listed.content.decode() or str(lead.pk) in (
        listed.content.decode()
    )
    assert 'data-testid="escalated-reassign"' in html


def test_defeat_awaiting_approval_badge_and_rejection(
    web, alice, mike, store_a, make_lead, price_reason
):
    store_a.defeat_approval_required = True
    store_a.save()
    lead = make_lead(alice)
    lead_services.lead_defeat(actor=alice, lead=lead, reason=price_reason)
    page = reverse("desk:lead", args=[lead.pk])
    assert 'data-testid="defeat-awaiting"' in web(alice).get(page).content.decode()
    assert 'data-testid="health-defeat-pending"' in web(mike).get("/").content.decode()
    lead_services.lead_defeat_reject(actor=mike, lead=lead, note="再跟一次")
    html = web(alice).get(page).content.decode()
    assert 'data-testid="defeat-rejected"' in html
    assert "再跟一次" in html


# ---------------------------------------------------------------- the API


def test_api_mode_two_booking_names_a_dcc_agent(api, mode_two, carol, alice, connie, make_lead):
    lead = make_lead(carol)
    url = f"{LEADS}{lead.pk}/appointments/"
    when = soon().isoformat()
    refused = api(carol).post(url, {"scheduled_at": when, "receiver": connie.pk}, format="json")
    assert refused.status_code == 400
    assert "receiver" in refused.json()
    booked = api(carol).post(url, {"scheduled_at": when, "receiver": alice.pk}, format="json")
    assert booked.status_code == 201, booked.content
    lead.refresh_from_db()
    assert lead.owner == alice


def test_api_a_supervisor_assigns_in_the_team_only(api, sue, alice, bob, carol, make_lead):
    lead = make_lead(alice)
    url = f"{LEADS}{lead.pk}/assign/"
    outside = api(sue).post(url, {"owner": carol.pk, "reason": "x"}, format="json")
    assert outside.status_code == 400
    inside = api(sue).post(url, {"owner": bob.pk, "reason": "x"}, format="json")
    assert inside.status_code == 200, inside.content
    theirs = make_lead(carol)
    response = api(sue).post(
        f"{LEADS}{theirs.pk}/assign/", {"owner": alice.pk, "reason": "x"}, format="json"
    )
    assert response.status_code == 404
    assert (
        api(alice).post(url, {"owner": alice.pk, "reason": "x"}, format="json").status_code == 403
    )


def test_the_scorecards_follow_the_split(mode_two, store_a, carol, alice, make_lead, envision):
    from kpi import scorecard as cards
    from kpi.models import ScorecardItem, ScorecardRole

    for metric in ("invite_to_store_rate", "test_drive_rate", "deals"):
        ScorecardItem.objects.create(
            store=store_a, role=ScorecardRole.AGENT, metric=metric, weight=10, target=1
        )
    lead = make_lead(carol)
    services.followup_log(actor=carol, lead=lead, channel="call", result="reached")
    appointment = services.appointment_book(
        actor=carol, lead=lead, scheduled_at=soon(), receiver=alice
    )
    services.appointment_arrive(actor=alice, appointment=appointment, test_drive=True)
    lead_services.deal_record(
        actor=alice, lead=lead, vehicle_model=envision, stage="order", deal_at=timezone.now()
    )
    today = timezone.localdate()
    period = Period(today, today)

    def actuals(user):
        card = cards.scorecard(Scope("agent", user.pk), period, store=store_a)
        return {r.item.metric: r.actual for r in card.items}

    caller, agent = actuals(carol), actuals(alice)
    assert caller["invite_to_store_rate"] == 100  # 1 invited visit / 1 first call
    assert caller["test_drive_rate"] is None
    assert caller["deals"] == 0
    assert agent["invite_to_store_rate"] is None  # no first call of her own
    assert agent["test_drive_rate"] == 100
    assert agent["deals"] == 1


def test_a_consultants_visits_page_links_open_the_lead(web, alice, connie, make_lead):
    lead = make_lead(alice)
    services.appointment_book(actor=alice, lead=lead, scheduled_at=soon(1), receiver=connie)
    client = web(connie)
    html = client.get(reverse("desk:appointments"), {"view": "tomorrow"}).content.decode()
    link = reverse("desk:lead", args=[lead.pk])
    assert link in html
    assert client.get(link).status_code == 200
