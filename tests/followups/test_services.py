"""Follow-up, appointment and SLA rules (DESIGN §2), through their services."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from followups import selectors, services, sla, sms
from followups.models import (
    Appointment,
    AppointmentStatus,
    BreachKind,
    FollowUp,
    FollowupPolicy,
    SlaBreach,
    SmsMessage,
    SmsStatus,
)
from leads.lifecycle import LeadStateError
from leads.models import Lead, Source, Status
from leads.services import leads_transfer

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _outbox_only(settings):
    settings.SMS_BACKEND = "followups.backends.console.OutboxOnlyBackend"


@pytest.fixture
def local_clock(monkeypatch):
    """``local_clock(hour, minute)``: from now on ``timezone.now()`` reads that
    local (Asia/Shanghai) time today and runs on from there, for the rules that
    turn on the local day."""

    def set_clock(hour, minute):
        real_now = timezone.now
        local = timezone.localtime(real_now())
        shift = local.replace(hour=hour, minute=minute, second=0, microsecond=0) - local
        monkeypatch.setattr(timezone, "now", lambda: real_now() + shift)

    return set_clock


def log(actor, lead, result="reached", **kwargs):
    kwargs.setdefault("channel", "call")
    return services.followup_log(actor=actor, lead=lead, result=result, **kwargs)


# ---------------------------------------------------------------- cadence


@pytest.mark.parametrize(("level", "days"), [("H", 1), ("A", 3), ("B", 7), ("C", 14)])
def test_next_followup_defaults_from_the_level(alice, make_lead, level, days):
    lead = make_lead(alice, level=level)
    followup = log(alice, lead)
    assert followup.next_followup_at == followup.occurred_at + timedelta(days=days)
    lead.refresh_from_db()
    assert lead.next_followup_at == followup.next_followup_at


def test_cadence_is_a_store_setting(alice, make_lead, store_a):
    FollowupPolicy.objects.create(store=store_a, cadence_b_days=5)
    followup = log(alice, make_lead(alice, level="B"))
    assert followup.next_followup_at == followup.occurred_at + timedelta(days=5)


def test_level_change_uses_the_new_levels_cadence(alice, make_lead):
    lead = make_lead(alice, level="C")
    followup = log(alice, lead, level="H")
    assert followup.next_followup_at == followup.occurred_at + timedelta(days=1)
    assert (followup.level_before, followup.level_after) == ("C", "H")
    assert Lead.objects.get(pk=lead.pk).level == "H"


def test_explicit_next_followup_wins(alice, make_lead):
    when = timezone.now() + timedelta(hours=5)
    assert log(alice, make_lead(alice), next_followup_at=when).next_followup_at == when


# ---------------------------------------------------------------- results drive the lead


@pytest.mark.parametrize("clock", [None, (0, 10), (23, 50)], ids=["now", "00:10", "23:50"])
def test_first_followup_of_any_result_activates_and_times_the_lead(
    alice, mike, make_lead, local_clock, clock
):
    """Whatever the time of day: the lead came in 30 minutes ago, which
    shortly after midnight is yesterday, so the manager enters it (an agent
    may date a record earlier today only), and the agent's call times it."""
    if clock:
        local_clock(*clock)
    lead = make_lead(mike, owner=alice, received_at=timezone.now() - timedelta(minutes=30))
    log(alice, lead, result="no_answer")
    lead.refresh_from_db()
    assert lead.status == Status.ACTIVE
    assert 29 <= lead.first_contact_minutes <= 31
    assert FollowUp.objects.get(lead=lead).is_first_call


def test_only_the_earliest_call_is_the_first(alice, mike, make_lead):
    lead = make_lead(alice)
    later = log(alice, lead)
    earlier = log(mike, lead, agent=alice, occurred_at=timezone.now() - timedelta(hours=1))
    assert FollowUp.objects.get(pk=earlier.pk).is_first_call
    assert not FollowUp.objects.get(pk=later.pk).is_first_call


def test_invited_books_the_visit(alice, connie, make_lead):
    lead = make_lead(alice)
    when = timezone.now() + timedelta(days=2)
    log(
        alice,
        lead,
        result="invited",
        purpose="test_drive",
        appointment={"scheduled_at": when, "receiver": connie},
    )
    lead.refresh_from_db()
    assert lead.status == Status.INVITED
    assert lead.is_dcc_invited
    appointment = Appointment.objects.get(lead=lead)
    assert (appointment.receiver, appointment.scheduled_at) == (connie, when)


def test_defeated_result_needs_a_reason_and_defeats(alice, make_lead, price_reason):
    lead = make_lead(alice)
    with pytest.raises(ValidationError):
        log(alice, lead, result="defeated")
    log(alice, lead, result="defeated", defeat_reason=price_reason, note="买了别家")
    lead.refresh_from_db()
    assert lead.status == Status.DEFEATED
    assert lead.next_followup_at is None


def test_invalid_result_invalidates(alice, make_lead):
    lead = make_lead(alice)
    log(alice, lead, result="invalid", invalid_reason="wrong_number")
    assert Lead.objects.get(pk=lead.pk).status == Status.INVALID


def test_no_followup_on_a_closed_lead(alice, make_lead, price_reason):
    lead = make_lead(alice)
    log(alice, lead, result="defeated", defeat_reason=price_reason)
    with pytest.raises(LeadStateError):
        log(alice, lead)


def test_agent_back_enters_only_today_manager_names_the_agent(alice, bob, mike, make_lead):
    lead = make_lead(alice)
    with pytest.raises(ValidationError):
        log(alice, lead, occurred_at=timezone.now() - timedelta(days=1))
    with pytest.raises(PermissionDenied):
        log(alice, lead, agent=bob)
    past = timezone.now() - timedelta(days=20)
    followup = log(mike, lead, agent=alice, occurred_at=past)
    assert (followup.agent, followup.created_by, followup.occurred_at) == (alice, mike, past)


def test_unknown_values_are_field_errors(alice, make_lead):
    with pytest.raises(ValidationError) as exc:
        services.followup_log(
            actor=alice, lead=make_lead(alice), channel="pigeon", result="maybe", purpose="fun"
        )
    assert set(exc.value.message_dict) == {"channel", "result", "purpose"}


def test_unanswered_attempts_escalate_once_then_reset(alice, sue, make_lead, store_a):
    FollowupPolicy.objects.create(store=store_a, max_unanswered_attempts=2)
    lead = make_lead(alice)
    log(alice, lead, result="no_answer")
    assert not Lead.objects.get(pk=lead.pk).escalated_at
    log(alice, lead, result="no_answer")
    lead.refresh_from_db()
    assert lead.escalated_at is not None
    assert list(selectors.escalated_for_supervisor(supervisor=sue)) == [lead]
    log(alice, lead, result="reached")
    assert Lead.objects.get(pk=lead.pk).unanswered_attempts == 0
    assert list(selectors.escalated_for_supervisor(supervisor=sue)) == []


# ---------------------------------------------------------------- SLA


def _manufacturer(mike, make_lead, owner, issued):
    return make_lead(mike, source=Source.MANUFACTURER, received_at=issued, owner=owner)


def test_sla_boundary_47_59_versus_48_01(alice, mike, make_lead):
    issued = datetime(2026, 10, 1, 0, 10, tzinfo=SHANGHAI)  # 30 Sep in UTC
    on_time = _manufacturer(mike, make_lead, alice, issued)
    late = _manufacturer(mike, make_lead, alice, issued)
    log(mike, on_time, agent=alice, occurred_at=issued + timedelta(hours=47, minutes=59))
    log(mike, late, agent=alice, occurred_at=issued + timedelta(hours=48, minutes=1))
    assert sla.sweep_breaches(now=issued + timedelta(hours=48, minutes=2)) == 1
    breach = SlaBreach.objects.get()
    assert breach.lead_id == late.pk
    assert breach.kind == BreachKind.MANUFACTURER_48H
    assert breach.due_at == issued + timedelta(hours=48)


def test_sla_boundary_48_00_00_exactly_is_in_time(alice, mike, make_lead):
    """A call at the deadline itself meets it (as the KPI counts it:
    tests/kpi/test_lead_kpis.py); one a second later does not."""
    issued = datetime(2026, 10, 1, 0, 10, tzinfo=SHANGHAI)
    due = issued + timedelta(hours=48)
    exactly = _manufacturer(mike, make_lead, alice, issued)
    late = _manufacturer(mike, make_lead, alice, issued)
    log(mike, exactly, agent=alice, occurred_at=due)
    log(mike, late, agent=alice, occurred_at=due + timedelta(seconds=1))
    assert sla.sweep_breaches(now=due + timedelta(minutes=5)) == 1
    assert SlaBreach.objects.get().lead_id == late.pk


def test_an_uncalled_lead_is_breached_only_once_its_deadline_has_passed(alice, mike, make_lead):
    issued = datetime(2026, 10, 1, 0, 10, tzinfo=SHANGHAI)
    due = issued + timedelta(hours=48)
    _manufacturer(mike, make_lead, alice, issued)
    assert sla.sweep_breaches(now=due) == 0  # a call may still come at this very moment
    assert sla.sweep_breaches(now=due + timedelta(seconds=1)) == 1


def test_not_breached_before_the_deadline(alice, mike, make_lead):
    issued = timezone.now() - timedelta(hours=47, minutes=59)
    _manufacturer(mike, make_lead, alice, issued)
    assert sla.sweep_breaches() == 0
    assert sla.sweep_breaches(now=issued + timedelta(hours=48, minutes=1)) == 1


def test_sweep_twice_adds_nothing(alice, mike, make_lead):
    _manufacturer(mike, make_lead, alice, timezone.now() - timedelta(hours=50))
    assert sla.sweep_breaches() == 1
    assert sla.sweep_breaches() == 0
    assert SlaBreach.objects.count() == 1


def test_handed_over_lead_is_due_two_days_after_transfer(alice, connie, mike, make_lead):
    lead = make_lead(connie, source=Source.WALK_IN)
    log(connie, lead)
    leads_transfer(actor=mike, from_staff=connie, to_staff=alice, reason="低意向移交")
    lead.refresh_from_db()
    assert lead.sla_met_at is None  # the old call does not count for the new owner
    due = lead.first_contact_due
    assert sla.sweep_breaches(now=due - timedelta(minutes=1)) == 0
    assert sla.sweep_breaches(now=due + timedelta(minutes=1)) == 1
    assert SlaBreach.objects.get().kind == BreachKind.TRANSFER


def test_moving_a_contacted_lead_between_agents_starts_no_clock(alice, bob, mike, make_lead):
    lead = make_lead(alice)
    log(alice, lead)
    leads_transfer(actor=mike, from_staff=alice, to_staff=bob, reason="调岗")
    lead.refresh_from_db()
    assert lead.first_contact_due is None
    assert lead.sla_met_at is not None


def test_closed_leads_are_not_breached(alice, mike, make_lead, price_reason):
    lead = _manufacturer(mike, make_lead, alice, timezone.now() - timedelta(hours=50))
    from leads.services import lead_defeat

    lead_defeat(actor=mike, lead=lead, reason=price_reason)
    assert sla.sweep_breaches() == 0


# ---------------------------------------------------------------- appointments and SMS


def _book(agent, lead, *, days=3, receiver=None):
    return services.appointment_book(
        actor=agent,
        lead=lead,
        scheduled_at=timezone.now() + timedelta(days=days),
        receiver=receiver,
    )


def test_booking_plans_customer_receiver_and_reminder_sms(alice, connie, make_lead):
    connie.mobile = "+8613911112222"
    connie.save()
    appointment = _book(alice, make_lead(alice), receiver=connie)
    messages = {m.kind: m for m in SmsMessage.objects.filter(appointment=appointment)}
    assert set(messages) == {"booking_customer", "booking_receiver", "reminder_customer"}
    assert messages["booking_receiver"].phone == connie.mobile
    reminder = messages["reminder_customer"]
    local = timezone.localtime(reminder.send_after)
    assert local.hour == 10
    assert local.date() == timezone.localtime(appointment.scheduled_at).date() - timedelta(days=1)
    assert "您好" in sms.preview(messages["booking_customer"])


def test_no_reminder_when_its_time_has_passed(alice, make_lead):
    appointment = services.appointment_book(
        actor=alice, lead=make_lead(alice), scheduled_at=timezone.now() + timedelta(hours=2)
    )
    kinds = set(SmsMessage.objects.filter(appointment=appointment).values_list("kind", flat=True))
    assert kinds == {"booking_customer"}


def test_a_message_is_sent_once_however_often_it_is_handed_out(alice, make_lead):
    appointment = _book(alice, make_lead(alice))
    message = SmsMessage.objects.get(appointment=appointment, kind="booking_customer")
    assert sms.send(message.pk) == "sent"
    assert sms.send(message.pk) == "skipped"
    message.refresh_from_db()
    assert (message.status, message.attempts) == (SmsStatus.SENT, 1)


def test_planning_twice_adds_nothing(alice, make_lead):
    appointment = _book(alice, make_lead(alice))
    count = SmsMessage.objects.count()
    sms.plan_for_appointment(appointment, now=timezone.now())
    assert SmsMessage.objects.count() == count


def test_reminder_waits_for_its_time(alice, make_lead):
    appointment = _book(alice, make_lead(alice))
    reminder = SmsMessage.objects.get(appointment=appointment, kind="reminder_customer")
    assert sms.send(reminder.pk) == "skipped"
    assert sms.send(reminder.pk, now=reminder.send_after) == "sent"


def test_reschedule_cancels_and_replans(alice, make_lead):
    appointment = _book(alice, make_lead(alice))
    new_time = appointment.scheduled_at + timedelta(days=1)
    services.appointment_reschedule(
        actor=alice, appointment=appointment, scheduled_at=new_time, reason="客户出差"
    )
    statuses = dict(
        SmsMessage.objects.filter(appointment=appointment).values_list("idempotency_key", "status")
    )
    cancelled = [key for key, status in statuses.items() if status == SmsStatus.CANCELLED]
    pending = [key for key, status in statuses.items() if status == SmsStatus.PENDING]
    assert all(":v1:" in key for key in cancelled)
    assert all(":v2:" in key for key in pending)
    assert {key.rsplit(":", 1)[1] for key in pending} == {"booking_customer", "reminder_customer"}


def test_a_sent_booking_sms_is_not_cancelled_by_reschedule(alice, make_lead):
    appointment = _book(alice, make_lead(alice))
    sent = SmsMessage.objects.get(appointment=appointment, kind="booking_customer")
    sms.send(sent.pk)
    services.appointment_reschedule(
        actor=alice,
        appointment=appointment,
        scheduled_at=appointment.scheduled_at + timedelta(days=1),
    )
    assert SmsMessage.objects.get(pk=sent.pk).status == SmsStatus.SENT


def test_cancel_cancels_the_reminder_and_returns_to_followup(alice, make_lead):
    lead = make_lead(alice)
    appointment = _book(alice, lead)
    services.appointment_cancel(actor=alice, appointment=appointment, reason="改主意")
    assert not SmsMessage.objects.filter(appointment=appointment, status="pending").exists()
    assert Lead.objects.get(pk=lead.pk).status == Status.ACTIVE


def test_visits_are_numbered_for_return_visit_rate(alice, make_lead):
    lead = make_lead(alice)
    first = services.appointment_arrive(
        actor=alice, appointment=_book(alice, lead), test_drive=True, group_size=3
    )
    second = services.appointment_arrive(actor=alice, appointment=_book(alice, lead))
    assert (first.visit_number, second.visit_number) == (1, 2)
    assert (first.test_drive, first.group_size) == (True, 3)
    assert Lead.objects.get(pk=lead.pk).status == Status.VISITED


def test_outcome_only_once(alice, make_lead):
    appointment = _book(alice, make_lead(alice))
    services.appointment_no_show(actor=alice, appointment=appointment)
    with pytest.raises(LeadStateError):
        services.appointment_arrive(actor=alice, appointment=appointment)
    with pytest.raises(LeadStateError):
        services.appointment_no_show(actor=alice, appointment=appointment)


def test_confirm_then_flag_when_nobody_records_the_outcome(alice, make_lead, store_a):
    FollowupPolicy.objects.create(store=store_a, appointment_grace_hours=2)
    appointment = _book(alice, make_lead(alice), days=1)
    services.appointment_confirm(actor=alice, appointment=appointment)
    assert Appointment.objects.get(pk=appointment.pk).status == AppointmentStatus.CONFIRMED
    at = appointment.scheduled_at
    assert sla.flag_overdue_appointments(now=at + timedelta(hours=1, minutes=59)) == 0
    assert sla.flag_overdue_appointments(now=at + timedelta(hours=2, minutes=1)) == 1
    assert sla.flag_overdue_appointments(now=at + timedelta(hours=3)) == 0


def test_others_cannot_touch_an_agents_appointment(alice, bob, make_lead):
    appointment = _book(alice, make_lead(alice))
    with pytest.raises(PermissionDenied):
        services.appointment_cancel(actor=bob, appointment=appointment)


def test_consultant_sees_the_visits_handed_to_them(alice, connie, bob, make_lead):
    appointment = _book(alice, make_lead(alice), receiver=connie)
    assert list(Appointment.objects.visible_to(connie)) == [appointment]
    assert list(Appointment.objects.visible_to(bob)) == []


# ---------------------------------------------------------------- queue


def test_queue_order_and_reasons(alice, mike, make_lead):
    now = timezone.now()
    overdue = make_lead(alice)
    log(alice, overdue, next_followup_at=now - timedelta(days=2))
    new = _manufacturer(mike, make_lead, alice, now - timedelta(hours=40))
    confirm_lead = make_lead(alice)
    tomorrow = timezone.localtime(now).replace(hour=15, minute=0) + timedelta(days=1)
    services.appointment_book(actor=alice, lead=confirm_lead, scheduled_at=tomorrow)
    today = make_lead(alice)
    log(alice, today, next_followup_at=timezone.localtime(now).replace(hour=23, minute=30))
    kinds = [(item.kind, item.lead.pk) for item in selectors.queue_for_agent(agent=alice, now=now)]
    assert kinds == [
        ("overdue", overdue.pk),
        ("new", new.pk),
        ("confirm", confirm_lead.pk),
        ("today", today.pk),
    ]
