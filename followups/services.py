"""Follow-ups, appointments and visits (DESIGN §2): the one home of each rule.

A follow-up's result drives the lead (``RESULT_EFFECTS``): reached or refused
keep it in follow-up, invited books a visit, defeated and invalid close it
through the leads services. Every follow-up sets the next one (the level's
cadence unless given). Appointments plan their SMS in the outbox in the same
transaction; the sends happen after commit (``followups.sms``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from dcc import audit
from dcc.policy import can
from dcc.timeutils import local_day_start, validate_event_time
from dcc.validators import check_text
from followups import events, sla, sms
from followups.models import (
    PENDING_APPOINTMENT,
    Appointment,
    AppointmentStatus,
    Channel,
    FollowUp,
    FollowupPolicy,
    HandoverMode,
    Purpose,
    Result,
    VisitType,
)
from leads import lifecycle
from leads import services as lead_services
from leads.lifecycle import LeadStateError
from leads.models import RECONTACT_STATUSES, Lead, Level, Status


def default_next_followup(*, store, level: str, after: datetime) -> datetime:
    """The level's cadence (API.md). An unanswered call does not wait for it:
    the queue brings the lead back after the store's retry interval
    (``selectors.queue_for_agent``, section "retry")."""
    return after + timedelta(days=FollowupPolicy.objects.for_store(store).cadence_days(level))


def _check_agent(actor, agent, lead: Lead):
    """The follow-up is the caller's own, unless a manager or admin records
    history for the agent who made it (API.md)."""
    if agent is None or agent.pk == actor.pk:
        return actor
    if not can(actor, "history.backdate"):
        raise PermissionDenied("only a manager records follow-ups for someone else")
    if agent.store_id != lead.store_id:
        raise ValidationError({"agent": _("%(name)s works in another store.") % {"name": agent}})
    return agent


@transaction.atomic
def followup_log(
    *,
    actor,
    lead: Lead,
    channel: str,
    result: str,
    purpose: str = Purpose.OTHER,
    note: str = "",
    occurred_at: datetime | None = None,
    next_followup_at: datetime | None = None,
    level: str | None = None,
    agent=None,
    defeat_reason=None,
    invalid_reason: str = "",
    appointment: dict | None = None,
    recontact_at: datetime | None = None,
) -> FollowUp:
    """Log one contact attempt and move the lead accordingly.

    1. Check scope, the agent named, the time (back-entry rule) and the values.
    2. Lock the lead; it must be open.
    3. Record the follow-up; a level change goes with it.
    4. Keep the lead's clocks: first contact (and its minutes), the current
       deadline's met time, unanswered attempts and escalation.
    5. Apply the result: invited books the visit, defeated and invalid close
       the lead, everything else plans the next follow-up.
    """
    lifecycle.require_visible(actor, lead)
    errors = {}
    if channel not in Channel.values:
        errors["channel"] = [_("Unknown channel “%(value)s”.") % {"value": channel}]
    if result not in Result.values:
        errors["result"] = [_("Unknown result “%(value)s”.") % {"value": result}]
    if purpose not in Purpose.values:
        errors["purpose"] = [_("Unknown purpose “%(value)s”.") % {"value": purpose}]
    if level and level not in Level.values:
        errors["level"] = [_("Unknown level “%(value)s”.") % {"value": level}]
    if result == Result.DEFEATED and defeat_reason is None:
        errors["defeat_reason"] = [_("Choose the defeat reason.")]
    if errors:
        raise ValidationError(errors)
    agent = _check_agent(actor, agent, lead)
    now = timezone.now()
    occurred_at = occurred_at or now
    validate_event_time(actor=actor, when=occurred_at, field="occurred_at", now=now)

    lead = lifecycle.lock(lead)
    if not lead.is_open and _recontact_due(lead, now):
        return _recontact_log(
            actor=actor,
            lead=lead,
            agent=agent,
            channel=channel,
            result=result,
            purpose=purpose,
            note=note,
            occurred_at=occurred_at,
            next_followup_at=next_followup_at,
        )
    if not lead.is_open:
        raise LeadStateError(
            _("The lead is “%(status)s”: no follow-up can be logged on it.")
            % {"status": Status(lead.status).label}
        )
    level_before = lead.level
    if level and level != lead.level:
        lead.level = level
    if next_followup_at is None and result not in (Result.DEFEATED, Result.INVALID):
        next_followup_at = default_next_followup(
            store=lead.store, level=lead.level, after=occurred_at
        )
    is_call = channel == Channel.CALL
    # The lead's first phone follow-up (a KPI's count), whatever the rule.
    earliest_call = (
        FollowUp.objects.filter(lead=lead, channel=Channel.CALL)
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    is_first_call = is_call and (earliest_call is None or occurred_at < earliest_call)
    followup = FollowUp.objects.create(
        store=lead.store,
        lead=lead,
        agent=agent,
        channel=channel,
        purpose=purpose,
        result=result,
        note=(note or "").strip(),
        occurred_at=occurred_at,
        next_followup_at=next_followup_at,
        level_before=level_before,
        level_after=lead.level,
        is_first_call=is_first_call,
        created_by=actor,
    )
    if is_first_call:
        FollowUp.objects.filter(lead=lead, is_first_call=True).exclude(pk=followup.pk).update(
            is_first_call=False
        )
    # The first-contact rule (followups.sla): under "any logged call" this
    # call meets it; under "a connected call" only the call log does
    # (telephony verifies the follow-up and records the call that met it).
    contacted = is_call and (
        not sla.under_rule(lead)
        or sla.rule_for(FollowupPolicy.objects.for_store(lead.store_id)) == sla.LOGGED
    )
    if contacted:
        sla.apply_contact(lead, occurred_at)
    _count_attempt(lead, result=result, occurred_at=occurred_at)
    lead.next_followup_at = next_followup_at
    if lead.status == Status.NEW:
        lifecycle.move(lead, Status.ACTIVE)
    lifecycle.save(lead, actor=actor, reason=Result(result).label)
    if contacted:
        sla.settle_breach(lead)
    _apply_result(
        actor=actor,
        lead=lead,
        result=result,
        purpose=purpose,
        defeat_reason=defeat_reason,
        invalid_reason=invalid_reason,
        note=note,
        appointment=appointment,
        recontact_at=recontact_at,
    )
    audit.record(
        "followups.followup.logged",
        actor=actor,
        target=lead,
        followup=followup.pk,
        result=result,
        channel=channel,
        purpose=purpose,
        note=followup.note,
        next_followup_at=next_followup_at.isoformat() if next_followup_at else None,
    )
    events.followup_logged.send(sender=FollowUp, followup=followup, actor=actor)
    return followup


def _recontact_due(lead: Lead, now: datetime) -> bool:
    """A closed lead whose re-contact date has come (today or before): the
    queue's "recontact" section, and the only calls a closed lead takes."""
    if lead.status not in RECONTACT_STATUSES or lead.recontact_at is None:
        return False
    return lead.recontact_at < local_day_start(timezone.localdate(now) + timedelta(days=1))


def _recontact_log(
    *, actor, lead, agent, channel, result, purpose, note, occurred_at, next_followup_at
) -> FollowUp:
    """A call to a closed lead on its re-contact date (战败回访, 成交客户定期回访):
    logged, never reopening the lead (a defeated lead comes back only by an
    activation). The next re-contact: the date given, else for a delivered
    customer the store's next after-sales call, for an unanswered call the
    store's retry interval; otherwise none."""
    if result not in (Result.REACHED, Result.NO_ANSWER):
        raise ValidationError(
            {
                "result": _(
                    "The lead is closed: log whether the customer was reached; "
                    "to work it again, ask the manager to activate it."
                )
            }
        )
    followup = FollowUp.objects.create(
        store=lead.store,
        lead=lead,
        agent=agent,
        channel=channel,
        purpose=purpose,
        result=result,
        note=(note or "").strip(),
        occurred_at=occurred_at,
        next_followup_at=next_followup_at,
        level_before=lead.level,
        level_after=lead.level,
        created_by=actor,
    )
    policy = FollowupPolicy.objects.for_store(lead.store)
    if next_followup_at is not None:
        lead.recontact_at = next_followup_at
    elif result == Result.NO_ANSWER:
        lead.recontact_at = occurred_at + timedelta(hours=policy.retry_no_answer_hours)
    elif lead.status == Status.DELIVERED:
        delivered = lead.deals.filter(delivered_at__isnull=False).order_by("-delivered_at").first()
        delivered_at = delivered.delivered_at if delivered else occurred_at
        lead.recontact_at = policy.next_aftercare(delivered_at, after=occurred_at)
    else:
        lead.recontact_at = None
    lifecycle.save(lead, actor=actor, reason=_("re-contact of a closed lead"))
    audit.record(
        "followups.followup.logged",
        actor=actor,
        target=lead,
        followup=followup.pk,
        result=result,
        channel=channel,
        purpose=purpose,
        note=followup.note,
        recontact_at=lead.recontact_at.isoformat() if lead.recontact_at else None,
    )
    events.followup_logged.send(sender=FollowUp, followup=followup, actor=actor)
    return followup


def _count_attempt(lead: Lead, *, result: str, occurred_at: datetime) -> None:
    """Unanswered attempts before the deadline; past the store's limit the
    lead goes to the supervisor's queue (once)."""
    if result == Result.NO_ANSWER:
        lead.unanswered_attempts += 1
        lead.last_attempt_at = max(filter(None, [lead.last_attempt_at, occurred_at]))
        limit = FollowupPolicy.objects.for_store(lead.store).max_unanswered_attempts
        within_deadline = lead.first_contact_due is None or occurred_at <= lead.first_contact_due
        if lead.unanswered_attempts >= limit and within_deadline and lead.escalated_at is None:
            lead.escalated_at = timezone.now()
    else:
        lead.unanswered_attempts = 0
        lead.last_attempt_at = None


def _apply_result(
    *, actor, lead, result, purpose, defeat_reason, invalid_reason, note, appointment, recontact_at
):
    if result == Result.INVITED:
        if appointment:
            appointment_book(actor=actor, lead=lead, purpose=purpose, **appointment)
        elif lead.status != Status.INVITED:
            lead_services.lead_set_status(actor=actor, lead=lead, status=Status.INVITED)
    elif result == Result.DEFEATED:
        lead_services.lead_defeat(
            actor=actor, lead=lead, reason=defeat_reason, note=note, recontact_at=recontact_at
        )
    elif result == Result.INVALID:
        lead_services.lead_invalidate(
            actor=actor, lead=lead, reason=invalid_reason or "other", note=note
        )


# ---------------------------------------------------------------- appointments


def _check_receiver(receiver, lead: Lead):
    if receiver is None:
        return
    if not receiver.is_active or receiver.store_id != lead.store_id:
        raise ValidationError(
            {"receiver": _("The receiving salesperson must be active staff of the store.")}
        )


def hands_over(lead: Lead) -> bool:
    """Seed 001's mode two (the store's ``FollowupPolicy.handover_mode``): a
    lead still owned by an outbound caller goes to the DCC agent receiving
    its visit when the visit is booked. The one place this rule is read."""
    from dcc.roles import Role

    owner = lead.owner
    if owner is None or owner.role != Role.CALLER:
        return False
    policy = FollowupPolicy.objects.for_store(lead.store)
    return policy.handover_mode == HandoverMode.HAND_OVER


def _check_handover_receiver(receiver, lead: Lead) -> None:
    """Mode two: a caller's booking names the DCC agent who takes over."""
    from dcc.roles import Role

    if hands_over(lead) and (receiver is None or receiver.role != Role.AGENT):
        raise ValidationError(
            {
                "receiver": _(
                    "In mode two the caller hands the customer to a DCC agent at the "
                    "first store visit: choose the receiving DCC agent."
                )
            }
        )


@transaction.atomic
def appointment_book(
    *,
    actor,
    lead: Lead,
    scheduled_at: datetime,
    purpose: str = Purpose.TEST_DRIVE,
    receiver=None,
    note: str = "",
    visit_type: str = "",
) -> Appointment:
    """邀约到店. The lead becomes invited and DCC-invited (no consultant may
    take it over); the booking SMS to the customer and the receiver and the
    day-before reminder are planned in the outbox (none for a visit recorded
    after its time: ``sms.plan_for_appointment``). A lead has one pending
    visit at a time: a second booking raises ``AppointmentPending``."""
    lifecycle.require_visible(actor, lead)
    if purpose not in Purpose.values:
        raise ValidationError({"purpose": _("Unknown purpose.")})
    visit_type = visit_type or VisitType.for_purpose(purpose)
    if visit_type not in VisitType.values:
        raise ValidationError({"visit_type": _("Unknown kind of visit.")})
    _check_receiver(receiver, lead)
    _check_handover_receiver(receiver, lead)
    now = timezone.now()
    if scheduled_at < now:
        # Recording a visit booked earlier: the back-entry rule (API.md).
        validate_event_time(actor=actor, when=scheduled_at, field="scheduled_at", now=now)
    lead, appointment = _new_appointment(
        actor,
        lead,
        refused=_("Only an open lead can be invited."),
        receiver=receiver,
        scheduled_at=scheduled_at,
        purpose=purpose,
        visit_type=visit_type,
        note=note,
    )
    lead.is_dcc_invited = lead.is_dcc_invited or not _is_consultant(actor)
    if lead.status in (Status.NEW, Status.ACTIVE, Status.VISITED):
        lifecycle.move(lead, Status.INVITED)
    lifecycle.save(lead, actor=actor, reason=_("store visit booked"))
    if hands_over(lead):  # re-read under the lock
        _check_handover_receiver(receiver, lead)
        lead_services.lead_hand_over(
            actor=actor,
            lead=lead,
            owner=receiver,
            reason=_("Mode two: handed to the receiving DCC agent at the first store visit"),
        )
    sms.plan_for_appointment(appointment, now=now)
    audit.record(
        "followups.appointment.booked",
        actor=actor,
        target=lead,
        appointment=appointment.pk,
        scheduled_at=scheduled_at.isoformat(),
    )
    return appointment


class AppointmentPending(ValidationError):
    """A booking on a lead that already has a pending visit (booked or
    confirmed): one at a time (the constraint ``appt_one_pending_per_lead``).

    Refused rather than taken as a reschedule: a booking is a new visit with
    its own SMS, and a repeated or concurrent booking (a retry, a double
    click, the same result logged twice) must not move the visit the customer
    was told about nor text them again; moving it is the explicit
    reschedule. A ``ValidationError`` on ``scheduled_at`` so that the forms
    show it at the visit time; the API answers 409 (``followups.api``)."""

    code = "appointment_pending"

    def __init__(self, existing: Appointment):
        self.existing = existing
        when = date_format(timezone.localtime(existing.scheduled_at), "SHORT_DATETIME_FORMAT")
        self.detail = _(
            "This lead already has a store visit booked for %(when)s. Reschedule or "
            "cancel that visit instead of booking another."
        ) % {"when": when}
        super().__init__({"scheduled_at": [ValidationError(self.detail, code=self.code)]})


def _refuse_if_pending(lead: Lead) -> None:
    pending = Appointment.objects.pending().filter(lead=lead).order_by("-created_at", "-pk").first()
    if pending is not None:
        raise AppointmentPending(pending)


def _new_appointment(actor, lead: Lead, *, refused: str, note: str = "", **fields):
    """Lock the lead (it must be open) and save a new appointment on it,
    booked by ``actor``. Returns the locked lead and the appointment. A
    pending one is refused while the lead has a pending visit: checked under
    the lead's lock, and the database's constraint is the final word."""
    lead = lifecycle.lock(lead)
    if not lead.is_open:
        raise LeadStateError(refused)
    appointment = Appointment(
        store=lead.store,
        lead=lead,
        agent=actor,
        note=(note or "").strip(),
        created_by=actor,
        **fields,
    )
    pending = appointment.status in PENDING_APPOINTMENT
    if pending:
        _refuse_if_pending(lead)
    audit.attribute(appointment, actor=actor)
    try:
        with transaction.atomic():
            appointment.save()
    except IntegrityError:
        if pending:
            _refuse_if_pending(lead)
        raise
    return lead, appointment


def _is_consultant(user) -> bool:
    from dcc.roles import Role

    return user.effective_role == Role.CONSULTANT


def _locked_appointment(actor, appointment: Appointment) -> Appointment:
    if not Appointment.objects.visible_to(actor).filter(pk=appointment.pk).exists():
        raise PermissionDenied("appointment outside the actor's scope")
    return Appointment.objects.select_for_update().select_related("lead").get(pk=appointment.pk)


def _require_pending(appointment: Appointment):
    if appointment.status not in PENDING_APPOINTMENT:
        raise LeadStateError(
            _("The appointment is already “%(status)s”.")
            % {"status": AppointmentStatus(appointment.status).label}
        )


@transaction.atomic
def appointment_confirm(*, actor, appointment: Appointment) -> Appointment:
    """The agent called the day before and the customer confirmed."""
    appointment = _locked_appointment(actor, appointment)
    if appointment.status != AppointmentStatus.BOOKED:
        raise LeadStateError(_("Only a booked appointment can be confirmed."))
    appointment.status = AppointmentStatus.CONFIRMED
    appointment.confirmed_at = timezone.now()
    audit.attribute(appointment, actor=actor)
    appointment.save()
    audit.record(
        "followups.appointment.confirmed",
        actor=actor,
        target=appointment.lead,
        appointment=appointment.pk,
        scheduled_at=appointment.scheduled_at.isoformat(),
    )
    return appointment


@transaction.atomic
def appointment_reschedule(
    *, actor, appointment: Appointment, scheduled_at: datetime, reason: str = ""
) -> Appointment:
    """A new time: the planned SMS are cancelled and planned again."""
    appointment = _locked_appointment(actor, appointment)
    _require_pending(appointment)
    if scheduled_at == appointment.scheduled_at:
        raise LeadStateError(_("The appointment is already at that time."))
    now = timezone.now()
    if scheduled_at < now:
        raise ValidationError({"scheduled_at": _("An appointment is booked for a future time.")})
    sms.cancel_for_appointment(appointment)
    appointment.scheduled_at = scheduled_at
    appointment.status = AppointmentStatus.BOOKED
    appointment.confirmed_at = None
    appointment.flagged_at = None
    appointment.version += 1
    audit.attribute(appointment, actor=actor, reason=reason)
    appointment.save()
    sms.plan_for_appointment(appointment, now=now)
    audit.record(
        "followups.appointment.rescheduled",
        actor=actor,
        target=appointment.lead,
        appointment=appointment.pk,
        scheduled_at=scheduled_at.isoformat(),
        reason=reason,
    )
    return appointment


@transaction.atomic
def appointment_cancel(*, actor, appointment: Appointment, reason: str = "") -> Appointment:
    appointment = _locked_appointment(actor, appointment)
    _require_pending(appointment)
    sms.cancel_for_appointment(appointment)
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancelled_at = timezone.now()
    audit.attribute(appointment, actor=actor, reason=reason)
    appointment.save()
    _back_to_followup(actor, appointment.lead, reason=_("appointment cancelled"))
    audit.record(
        "followups.appointment.cancelled",
        actor=actor,
        target=appointment.lead,
        appointment=appointment.pk,
        reason=reason,
    )
    return appointment


def _back_to_followup(actor, lead: Lead, *, reason: str):
    lead = lifecycle.lock(lead)
    still_booked = lead.appointments.filter(status__in=PENDING_APPOINTMENT).exists()
    if lead.status == Status.INVITED and not still_booked:
        lifecycle.move(lead, Status.ACTIVE)
        lead.next_followup_at = timezone.now() + timedelta(days=1)
        lifecycle.save(lead, actor=actor, reason=reason)


@transaction.atomic
def appointment_arrive(
    *,
    actor,
    appointment: Appointment,
    arrived_at: datetime | None = None,
    test_drive: bool = False,
    group_size: int = 1,
) -> Appointment:
    """The customer came. The visit is numbered (first, return, …) for the
    return-to-showroom and test-drive rates."""
    appointment = _locked_appointment(actor, appointment)
    _require_pending(appointment)
    return _record_arrival(
        actor, appointment, arrived_at=arrived_at, test_drive=test_drive, group_size=group_size
    )


def _record_arrival(actor, appointment, *, arrived_at, test_drive, group_size) -> Appointment:
    arrived_at = arrived_at or timezone.now()
    validate_event_time(actor=actor, when=arrived_at, field="arrived_at")
    if group_size < 1:
        raise ValidationError({"group_size": _("At least one person arrived.")})
    lead = lifecycle.lock(appointment.lead)
    previous_visits = (
        Appointment.objects.filter(lead=lead, status=AppointmentStatus.ARRIVED)
        .exclude(pk=appointment.pk)
        .count()
    )
    appointment.status = AppointmentStatus.ARRIVED
    appointment.arrived_at = arrived_at
    appointment.test_drive = bool(test_drive)
    appointment.group_size = group_size
    appointment.visit_number = previous_visits + 1
    appointment.visit_owner_id = lead.owner_id  # the visit's KPI credit (models)
    appointment.flagged_at = None
    audit.attribute(appointment, actor=actor)
    appointment.save()
    sms.cancel_for_appointment(appointment)  # a reminder not yet sent is moot
    if lead.status in (Status.NEW, Status.ACTIVE, Status.INVITED):
        lifecycle.move(lead, Status.VISITED)
        lifecycle.save(lead, actor=actor, reason=_("visited the store"))
    audit.record(
        "followups.appointment.arrived",
        actor=actor,
        target=lead,
        appointment=appointment.pk,
        visit_number=appointment.visit_number,
        test_drive=appointment.test_drive,
        walk_in=appointment.is_walk_in,
    )
    events.visit_recorded.send(sender=Appointment, appointment=appointment, actor=actor)
    return appointment


@transaction.atomic
def visit_record(
    *,
    actor,
    lead: Lead,
    arrived_at: datetime | None = None,
    test_drive: bool = False,
    group_size: int = 1,
    receiver=None,
    note: str = "",
) -> Appointment:
    """A store visit nobody booked: the customer walked in or came back by
    themselves. Recorded as an arrived, walk-in appointment so that first and
    return visits count; it is not an invitation (no SMS, the lead does not
    become DCC-invited). Saved as arrived from the start: it is never a
    pending visit, so a lead's booked visit does not stand in its way."""
    lifecycle.require_visible(actor, lead)
    _check_receiver(receiver, lead)
    arrived_at = arrived_at or timezone.now()
    validate_event_time(actor=actor, when=arrived_at, field="arrived_at")
    _lead, appointment = _new_appointment(
        actor,
        lead,
        refused=_("Only an open lead can record a visit."),
        receiver=receiver,
        scheduled_at=arrived_at,
        purpose=Purpose.OTHER,
        note=note,
        is_walk_in=True,
        status=AppointmentStatus.ARRIVED,
        arrived_at=arrived_at,
    )
    return _record_arrival(
        actor, appointment, arrived_at=arrived_at, test_drive=test_drive, group_size=group_size
    )


@transaction.atomic
def appointment_no_show(*, actor, appointment: Appointment) -> Appointment:
    appointment = _locked_appointment(actor, appointment)
    _require_pending(appointment)
    appointment.status = AppointmentStatus.NO_SHOW
    appointment.no_show_at = timezone.now()
    appointment.flagged_at = None
    audit.attribute(appointment, actor=actor)
    appointment.save()
    sms.cancel_for_appointment(appointment)
    _back_to_followup(actor, appointment.lead, reason=_("did not come"))
    audit.record(
        "followups.appointment.no_show",
        actor=actor,
        target=appointment.lead,
        appointment=appointment.pk,
    )
    return appointment


# ---------------------------------------------------------------- breaches


def breach_acknowledge(*, actor, breach, note: str = "") -> bool:
    """A supervisor or manager has seen the breach and dealt with it (spoke to
    the agent, reassigned the lead) and says what in a note (required); it
    leaves the open list and the badge. It still counts for the KPI:
    acknowledging is not forgiving."""
    from dcc.policy import require
    from followups.models import SlaBreach

    require(actor, "followups.breaches.acknowledge")
    if not SlaBreach.objects.visible_to(actor).filter(pk=breach.pk).exists():
        raise PermissionDenied("breach outside the actor's scope")
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Say what was done about the breach.")})
    check_text(note=note)
    updated = SlaBreach.objects.filter(pk=breach.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), acknowledged_by=actor, acknowledge_note=note
    )
    if updated:
        audit.record(
            "followups.breach.acknowledged",
            actor=actor,
            target=breach.lead,
            breach=breach.pk,
            note=note,
        )
    return bool(updated)


# ---------------------------------------------------------------- store rules

STORE_RULE_FIELDS = (
    "manufacturer_first_contact_hours",
    "transfer_first_contact_days",
    "defeat_approval_required",
)
POLICY_FIELDS = (
    "cadence_h_days",
    "cadence_a_days",
    "cadence_b_days",
    "cadence_c_days",
    "retry_no_answer_hours",
    "first_contact_warning_hours",
    "max_unanswered_attempts",
    "appointment_grace_hours",
    "reminder_hour",
    "answer_within_seconds",
    "verify_window_minutes",
    "first_contact_rule",
    "first_contact_min_talk_seconds",
    "sms_signature",
    "handover_mode",
    "aftercare_days",
    "pool_on_first_contact",
    "pool_after_unanswered",
    "pool_overdue_days",
    "pool_claims_per_day",
    "pool_claim_restarts_clock",
    "assignment_windows",
)


@transaction.atomic
def store_rules_update(*, actor, store, reason: str = "", **values):
    """A manager sets the store's rules: first-contact windows, defeat
    approval, follow-up cadence per level, retry interval, escalation after
    unanswered calls, the grace before unmarked visits are flagged, the
    reminder hour and the SMS signature. Deadlines already set keep their
    time; new leads and transfers use the new windows."""
    from dcc.models import Store
    from dcc.policy import require

    require(actor, "followups.policy.manage")
    if not Store.objects.visible_to(actor).filter(pk=store.pk).exists():
        raise PermissionDenied("store outside the actor's scope")
    unknown = set(values) - set(STORE_RULE_FIELDS) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationError({name: _("Unknown setting.") for name in unknown})
    store = Store.objects.select_for_update().get(pk=store.pk)
    policy, _created = FollowupPolicy.objects.select_for_update().get_or_create(store=store)
    changed = {}
    for obj, names in ((store, STORE_RULE_FIELDS), (policy, POLICY_FIELDS)):
        for name in names:
            if name in values and getattr(obj, name) != values[name]:
                changed[name] = [getattr(obj, name), values[name]]
                setattr(obj, name, values[name])
        obj.full_clean()
    if not changed:
        return policy
    for obj in (store, policy):
        audit.attribute(obj, actor=actor, reason=reason)
        obj.save()
    audit.record(
        "followups.store_rules.updated", actor=actor, target=store, store=store, changed=changed
    )
    return policy


# ---------------------------------------------------------------- merged leads


def move_work_of_merged_lead(*, keep: Lead, merge: Lead) -> dict[str, int]:
    """Everything follow-ups keep on ``merge`` moves to ``keep`` (the merge's
    transaction, ``leads.events.leads_merged``), in bulk: its follow-ups,
    visits and SMS. Two booked visits cannot both stay booked on one lead:
    the merge is refused until one is cancelled. The first logged call and
    the visit numbers are re-read for the lead that now holds both."""
    from followups.models import SmsMessage

    pending = Appointment.objects.filter(lead__in=[keep, merge], status__in=PENDING_APPOINTMENT)
    if pending.count() > 1:
        raise LeadStateError(
            _("Both leads have a booked visit: cancel or hold one of them first, then merge.")
        )
    moved = {
        "followups": FollowUp.objects.filter(lead=merge).update(lead=keep),
        "appointments": Appointment.objects.filter(lead=merge).update(lead=keep),
        "sms": SmsMessage.objects.filter(lead=merge).update(lead=keep),
    }
    # One first call per lead (seed 001 首次电话跟进): the earliest of both.
    first = (
        FollowUp.objects.filter(lead=keep, is_first_call=True).order_by("occurred_at", "pk").first()
    )
    if first is not None:
        FollowUp.objects.filter(lead=keep, is_first_call=True).exclude(pk=first.pk).update(
            is_first_call=False
        )
    # Visits counted again in the order they happened (1 = first, 2 = return).
    arrived = Appointment.objects.filter(lead=keep, visit_number__isnull=False).order_by(
        "arrived_at", "pk"
    )
    for number, appointment in enumerate(arrived, start=1):
        if appointment.visit_number != number:
            Appointment.objects.filter(pk=appointment.pk).update(visit_number=number)
    return moved
