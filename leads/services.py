"""Every write to leads: one function per rule (DESIGN §2), used by the pages,
the API, the importer and the Celery tasks alike.

Each takes the acting user, checks the policy, locks the lead row where staff
can collide (``leads.lifecycle``), re-checks state under the lock, and records who and
why in the same transaction: the history row carries the actor and reason,
an ``AuditEvent`` says what a diff cannot (an assignment's from/to, a refused
duplicate entry).

Errors: ``ValidationError`` (bad input, per field), ``PermissionDenied``
(wrong role), ``DuplicateLead`` (the phone has an open lead: first entry
wins) and ``LeadStateError`` (an illegal transition; never a silent no-op).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from dcc import audit
from dcc.models import Absence, Store, User
from dcc.policy import LEAD_OWNER_ROLES, SELF_OWNING_ROLES, can, require
from dcc.roles import Role
from dcc.timeutils import validate_event_time
from dcc.validators import check_text
from leads import distribution, events, lifecycle, phones
from leads.lifecycle import LeadStateError
from leads.models import (
    Channel,
    Customer,
    CustomerPhone,
    Deal,
    DefeatReason,
    InvalidReason,
    Lead,
    Level,
    Source,
    Status,
    VehicleModel,
)


class DuplicateLead(Exception):
    """The phone already has an open lead in the store; nothing was created."""

    def __init__(self, existing: Lead):
        self.existing = existing
        owner = existing.owner.display_name if existing.owner_id else _("nobody yet")
        super().__init__(
            _("This customer already has an open lead #%(id)s, owned by %(owner)s.")
            % {"id": existing.pk, "owner": owner}
        )


def _require_reason(reason: str, field_name: str = "reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({field_name: _("Give a reason: it is kept in the lead's history.")})
    return reason


# ---------------------------------------------------------------- owners and names

_HONORIFIC = re.compile(r"^.(先生|女士|小姐|老师|总|哥|姐|师傅|经理|老板)$")
_PLACEHOLDERS = {"未知", "不详", "客户", "无", "匿名", "unknown", "n/a"}


def is_full_name(name: str) -> bool:
    """Seed 003 counts an A-card only with the customer's full name: "王先生"
    (a surname and a form of address) or a placeholder is not one."""
    name = (name or "").strip()
    if len(name) < 2 or name.lower() in _PLACEHOLDERS or name.isdigit():
        return False
    return not _HONORIFIC.match(name)


def check_owner(owner: User, *, store: Store, lead: Lead | None = None) -> None:
    if not owner.is_active:
        raise ValidationError({"owner": _("%(name)s is not active.") % {"name": owner}})
    if owner.store_id != store.pk:
        raise ValidationError({"owner": _("%(name)s works in another store.") % {"name": owner}})
    if owner.role not in LEAD_OWNER_ROLES:
        raise ValidationError({"owner": _("%(name)s's role cannot own leads.") % {"name": owner}})
    if lead is not None and lead.is_dcc_invited and owner.role == Role.CONSULTANT:
        raise ValidationError(
            {"owner": _("A showroom consultant may not take over a lead the DCC invited.")}
        )


def _resolve_new_owner(actor, store: Store, owner: User | None) -> User | None:
    """First entry wins: agents, callers and consultants own what they enter;
    only a manager may name someone else."""
    if owner is None:
        return actor if actor.effective_role in SELF_OWNING_ROLES else None
    if owner.pk != actor.pk and not can(actor, "leads.assign"):
        raise PermissionDenied("only a manager gives leads to others")
    check_owner(owner, store=store)
    return owner


def first_contact_due(*, store: Store, source: str, received_at: datetime, transferred_at=None):
    """DESIGN §2 clocks: manufacturer leads from the OEM's issue time,
    transferred (low-intent/defeated) leads from the transfer."""
    if transferred_at is not None:
        return transferred_at + timedelta(days=store.transfer_first_contact_days)
    if source == Source.MANUFACTURER:
        return received_at + timedelta(hours=store.manufacturer_first_contact_hours)
    if source == Source.LOW_INTENT:
        return received_at + timedelta(days=store.transfer_first_contact_days)
    return None


def _restart_clock(lead: Lead, now: datetime) -> None:
    """A transfer or activation starts a new first-contact deadline: the new
    owner must call within the store's transfer window, whatever came before."""
    lead.transferred_at = now
    lead.first_contact_due = first_contact_due(
        store=lead.store, source=lead.source, received_at=lead.received_at, transferred_at=now
    )
    lead.sla_met_at = None
    lead.unanswered_attempts = 0
    lead.escalated_at = None
    lead.recontact_at = None
    # The queue must show it (issue 13): the next follow-up is the new
    # deadline, or sooner if one was already planned.
    if lead.next_followup_at is None or lead.next_followup_at > (lead.first_contact_due or now):
        lead.next_followup_at = lead.first_contact_due or now


# ---------------------------------------------------------------- create


def _record_duplicate(*, actor, existing: Lead, phone: str, name: str, source: str) -> None:
    audit.record(
        "leads.lead.duplicate_entry",
        actor=actor,
        target=existing,
        phone=phone,
        customer_name=name,
        source=source,
    )


def find_open_lead(*, store: Store, phone: str) -> Lead | None:
    return Lead.objects.open().filter(store=store, phone=phone).select_related("owner").first()


def lead_create(
    *,
    actor,
    store: Store,
    name: str,
    phone: str,
    source: str,
    channel: Channel | None = None,
    intended_model: VehicleModel | None = None,
    level: str = Level.B,
    owner: User | None = None,
    received_at: datetime | None = None,
    note: str = "",
    expected_purchase_date=None,
    handover_consultant: User | None = None,
    handover_visit_date=None,
    handover_defeat_reason: str = "",
    trade_in=None,
) -> Lead:
    """Enter a lead. A phone with an open lead in the store creates nothing:
    the attempt is recorded and ``DuplicateLead`` names the existing lead.
    ``trade_in``: the customer's owned vehicle offered in part exchange."""
    require(actor, "leads.create")
    if not Store.objects.visible_to(actor).filter(pk=store.pk).exists():
        raise PermissionDenied("store outside the actor's scope")
    name = (name or "").strip()
    errors = {}
    if not name:
        errors["name"] = [_("Enter the customer's name.")]
    try:
        number = phones.normalize_phone(phone, area_code=store.area_code)
    except ValidationError as exc:
        errors["phone"] = exc.messages
    if source not in Source.values:
        errors["source"] = [_("Unknown source “%(value)s”.") % {"value": source}]
    if level not in Level.values:
        errors["level"] = [_("Unknown level “%(value)s”.") % {"value": level}]
    if trade_in is not None and trade_in.store_id != store.pk:
        errors["trade_in"] = [_("The trade-in vehicle belongs to another store.")]
    try:
        check_text(name=name, note=note, handover_defeat_reason=handover_defeat_reason)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    received_at = received_at or now
    validate_event_time(actor=actor, when=received_at, field="received_at", now=now)
    owner = _resolve_new_owner(actor, store, owner)

    existing = find_open_lead(store=store, phone=number)
    if existing is None:
        try:
            with transaction.atomic():
                return _insert_lead(
                    actor=actor,
                    store=store,
                    name=name,
                    number=number,
                    source=source,
                    channel=channel,
                    intended_model=intended_model,
                    level=level,
                    owner=owner,
                    received_at=received_at,
                    note=note,
                    expected_purchase_date=expected_purchase_date,
                    handover_consultant=handover_consultant,
                    handover_visit_date=handover_visit_date,
                    handover_defeat_reason=handover_defeat_reason,
                    trade_in=trade_in,
                )
        except IntegrityError:
            # Someone entered the same phone between our check and our insert:
            # the database kept theirs (first entry wins).
            existing = find_open_lead(store=store, phone=number)
            if existing is None:
                raise
    _record_duplicate(actor=actor, existing=existing, phone=number, name=name, source=source)
    raise DuplicateLead(existing)


def _customer_for(*, actor, store: Store, number: str, name: str) -> Customer:
    """The store's customer with this number, or a new one. A known customer
    (a base customer coming back, say) keeps their record; a full name
    replaces a mere form of address."""
    known = (
        CustomerPhone.objects.select_related("customer").filter(store=store, number=number).first()
    )
    if known is not None:
        customer = known.customer
        while customer.merged_into_id:
            customer = customer.merged_into
        if not customer.has_full_name and is_full_name(name):
            customer.name, customer.has_full_name = name, True
            audit.attribute(customer, actor=actor)
            customer.save()
        return customer
    customer = Customer(store=store, name=name, has_full_name=is_full_name(name))
    audit.attribute(customer, actor=actor)
    customer.save()
    customer_phone = CustomerPhone(customer=customer, store=store, number=number, is_primary=True)
    audit.attribute(customer_phone, actor=actor)
    customer_phone.save()
    return customer


def _insert_lead(*, actor, store, name, number, source, received_at, owner, **fields) -> Lead:
    customer = _customer_for(actor=actor, store=store, number=number, name=name)
    transferred_at = received_at if fields.get("handover_consultant") else None
    lead = Lead(
        store=store,
        customer=customer,
        phone=number,
        source=source,
        owner=owner,
        created_by=actor,
        received_at=received_at,
        transferred_at=transferred_at,
        first_contact_due=first_contact_due(
            store=store, source=source, received_at=received_at, transferred_at=transferred_at
        ),
        **fields,
    )
    lead.full_clean(
        exclude=["customer", "store", "owner", "created_by"], validate_constraints=False
    )
    if owner is None:
        # Arrived without an owner: the store's rules give it one (or not).
        planner = distribution.Planner(store, lock=True)
        if planner.assign(lead):
            planner.save_pointers()
    lifecycle.save(lead, actor=actor)
    audit.record("leads.lead.created", actor=actor, target=lead, source=source, owner=lead.owner_id)
    distribution.record([lead], actor=actor)
    events.leads_created.send(sender=Lead, leads=[lead], actor=actor)
    return lead


# ---------------------------------------------------------------- edit


@transaction.atomic
def lead_update(*, actor, lead: Lead, **fields) -> Lead:
    """Correct a lead's details: the customer's name, intended model, channel,
    expected purchase date, note. Ownership, level and status have their own
    services because each carries a rule."""
    allowed = {"name", "intended_model", "channel", "expected_purchase_date", "note"}
    if set(fields) - allowed:
        raise ValueError(f"not editable here: {sorted(set(fields) - allowed)}")
    check_text(**{key: fields[key] for key in ("name", "note") if key in fields})
    lead = lifecycle.locked_visible(actor, lead)
    if "name" in fields:
        name = (fields.pop("name") or "").strip()
        if not name:
            raise ValidationError({"name": _("Enter the customer's name.")})
        customer = lead.customer
        customer.name, customer.has_full_name = name, is_full_name(name)
        audit.attribute(customer, actor=actor)
        customer.save()
    for key, value in fields.items():
        setattr(lead, key, value)
    lifecycle.save(lead, actor=actor)
    events.leads_changed.send(sender=Lead, leads=[lead], since=lead.received_at)
    return lead


@transaction.atomic
def lead_change_level(*, actor, lead: Lead, level: str, reason: str = "") -> Lead:
    if level not in Level.values:
        raise ValidationError({"level": _("Unknown level “%(value)s”.") % {"value": level}})
    lead = lifecycle.locked_visible(actor, lead)
    if not lead.is_open:
        raise LeadStateError(_("Only an open lead's level can change."))
    if lead.level == level:
        raise LeadStateError(_("The lead is already level %(level)s.") % {"level": level})
    lead.level = level
    return lifecycle.save(lead, actor=actor, reason=reason)


# ---------------------------------------------------------------- ownership


def _give(
    lead: Lead, owner: User, *, actor, reason: str, event: str = "leads.lead.assigned", **data
) -> Lead:
    """Hand a (locked) lead to ``owner``: history with the reason, and an
    event saying from whom to whom."""
    previous = lead.owner_id
    lead.owner = owner
    # Given by hand, a lead leaves the pool (公海) and its late flag.
    lead.pooled_at, lead.pool_reason, lead.unassigned_flagged_at = None, "", None
    lifecycle.save(lead, actor=actor, reason=reason)
    events.leads_changed.send(sender=Lead, leads=[lead], since=lead.received_at)
    audit.record(
        event,
        actor=actor,
        target=lead,
        previous=previous,
        owner=owner.pk,
        reason=reason,
        **data,
    )
    return lead


def may_assign(actor) -> bool:
    """Whether ``actor`` may reassign leads at all (a manager in the store,
    a supervisor in their team: ``lead_assign``)."""
    return can(actor, "leads.reassign")


def check_team_assignment(actor, lead: Lead, owner: User) -> None:
    """A supervisor's reach (``leads.assign_team``): a lead of their team (or
    their own) to a member of their team (or themselves). PermissionDenied
    (403) beyond it; a manager's reach is the store (``check_owner``)."""
    if can(actor, "leads.assign"):
        return
    require(actor, "leads.assign_team")
    team = actor.team_id
    current = lead.owner
    in_team = current is not None and (current.pk == actor.pk or (team and current.team_id == team))
    if not in_team:
        raise PermissionDenied("a supervisor reassigns only their team's leads")
    check_team_receiver(actor, owner)


def check_team_receiver(actor, owner: User) -> None:
    """A supervisor gives leads only to a member of their team (or takes
    them); a manager to anyone in the store (``check_owner``)."""
    if can(actor, "leads.assign"):
        return
    team = actor.team_id
    if owner.pk != actor.pk and (not team or owner.team_id != team):
        raise ValidationError({"owner": _("%(name)s is not in your team.") % {"name": owner}})


@transaction.atomic
def lead_assign(*, actor, lead: Lead, owner: User, reason: str) -> Lead:
    """A manager gives an open lead to a member of staff, with a reason; a
    supervisor a lead of their team to a member of their team (escalated
    leads above all), with a reason too."""
    if not may_assign(actor):
        require(actor, "leads.assign")
    reason = _require_reason(reason)
    lead = lifecycle.locked_visible(actor, lead)
    if not lead.is_open:
        raise LeadStateError(_("Only an open lead can be assigned; activate it first."))
    check_owner(owner, store=lead.store, lead=lead)
    check_team_assignment(actor, lead, owner)
    if lead.owner_id == owner.pk:
        raise LeadStateError(_("The lead already belongs to %(name)s.") % {"name": owner})
    if lead.escalated_at is not None:
        # A new owner starts afresh: the escalation was the old owner's.
        lead.escalated_at = None
    return _give(lead, owner, actor=actor, reason=reason)


def lead_hand_over(*, actor, lead: Lead, owner: User, reason: str) -> Lead:
    """Mode two (seed 001, ``followups.models.HandoverMode``): a caller's
    customer goes to the DCC agent who receives the first invited visit. The
    follow-up service decides when (booking the visit, in its transaction,
    the lead locked); this is the ownership move, with history and reason.
    No capability: the booking is the caller's own act on their own lead."""
    check_owner(owner, store=lead.store, lead=lead)
    if owner.role != Role.AGENT:
        raise ValidationError(
            {"receiver": _("In mode two a caller's customer is received by a DCC agent.")}
        )
    if lead.owner_id == owner.pk:
        return lead
    return _give(lead, owner, actor=actor, reason=reason, event="leads.lead.handed_over")


@transaction.atomic
def lead_supervisor_note(*, actor, lead: Lead, note: str) -> Lead:
    """A supervisor's (or manager's) note on a lead, for its owner: it shows
    in the lead's timeline. Saves nothing on the lead."""
    require(actor, "leads.supervise")
    note = _require_reason(note, "note")
    lifecycle.require_visible(actor, lead)
    audit.record("leads.lead.supervisor_note", actor=actor, target=lead, note=note)
    return lead


@transaction.atomic
def lead_clear_escalation(*, actor, lead: Lead, note: str = "") -> Lead:
    """The supervisor dealt with an escalated lead (spoke to the agent, the
    customer was reached otherwise): it leaves the escalated list."""
    require(actor, "leads.supervise")
    check_text(note=note)
    lead = lifecycle.locked_visible(actor, lead)
    if lead.escalated_at is None:
        raise LeadStateError(_("This lead is not escalated."))
    lead.escalated_at = None
    note = (note or "").strip()
    lifecycle.save(lead, actor=actor, reason=note or _("escalation cleared"))
    audit.record("leads.lead.escalation_cleared", actor=actor, target=lead, note=note)
    return lead


@dataclass
class BulkResult:
    assigned: dict[int, list[int]] = field(default_factory=dict)  # owner id -> lead ids
    skipped: list[tuple[int, str]] = field(default_factory=list)  # lead id, why
    skipped_staff: list[tuple[int, str]] = field(default_factory=list)  # staff id, why

    @property
    def count(self):
        return sum(len(ids) for ids in self.assigned.values())


def present_staff(staff: list[User], *, day=None) -> tuple[list[User], list[tuple[int, str]]]:
    """Split chosen staff into those who can take leads today and the rest."""
    day = day or timezone.localdate()
    absent = Absence.objects.absent_ids([person.pk for person in staff], day)
    present, skipped = [], []
    for person in staff:
        if not person.is_active:
            skipped.append((person.pk, _("inactive")))
        elif person.pk in absent:
            skipped.append((person.pk, _("absent today")))
        else:
            present.append(person)
    return present, skipped


@transaction.atomic
def leads_bulk_assign(*, actor, lead_ids: list[int], owners: list[User], reason: str) -> BulkResult:
    """Give many unassigned leads to one person, or round-robin across several.

    1. Drop chosen staff who are inactive or marked absent today.
    2. Order the rest by open-lead workload, lightest first, so the cycle
       starts with whoever has least to do.
    3. Lock the leads (oldest deadline first); skip any that someone else
       assigned meanwhile or that are no longer open; hand the rest out in turn.
    """
    require(actor, "leads.assign")
    reason = _require_reason(reason)
    if not owners:
        raise ValidationError({"owners": _("Choose at least one member of staff.")})
    result = BulkResult()
    present, result.skipped_staff = present_staff(owners)
    if not present:
        raise ValidationError({"owners": _("None of the chosen staff can take leads today.")})
    workload = dict(
        Lead.objects.open()
        .filter(owner__in=present)
        .values_list("owner")
        .annotate(n=Count("id"))
        .values_list("owner", "n")
    )
    present.sort(key=lambda person: (workload.get(person.pk, 0), person.pk))
    leads = (
        Lead.objects.visible_to(actor)
        .filter(pk__in=lead_ids)
        .select_for_update(of=("self",))
        .select_related("store", "customer")
        .order_by("first_contact_due", "received_at", "id")
    )
    turn = 0
    for lead in leads:
        if lead.owner_id is not None:
            result.skipped.append((lead.pk, _("already assigned")))
            continue
        if not lead.is_open:
            result.skipped.append((lead.pk, _("not open")))
            continue
        owner = present[turn % len(present)]
        try:
            check_owner(owner, store=lead.store, lead=lead)
        except ValidationError as exc:
            result.skipped.append((lead.pk, " ".join(exc.messages)))
            continue
        turn += 1
        _give(lead, owner, actor=actor, reason=reason, bulk=True)
        result.assigned.setdefault(owner.pk, []).append(lead.pk)
    missing = set(lead_ids) - {lead_id for ids in result.assigned.values() for lead_id in ids}
    missing -= {lead_id for lead_id, _why in result.skipped}
    result.skipped.extend((lead_id, _("not found")) for lead_id in sorted(missing))
    return result


@transaction.atomic
def leads_transfer(
    *,
    actor,
    from_staff: User,
    to_staff: User,
    reason: str,
    lead_ids: list[int] | None = None,
) -> list[Lead]:
    """Move all (or the chosen) leads of one staff member to another.

    From a showroom consultant to the DCC this is the 低意向移交 of seed 001:
    the lead becomes a low-intent handover, carries the consultant, the visit
    date and the defeat reason, a defeated lead is revived, and its 2-day
    first-contact clock starts now.
    """
    require(actor, "leads.assign")
    reason = _require_reason(reason)
    if from_staff.pk == to_staff.pk:
        raise ValidationError({"to_staff": _("Choose someone else to receive the leads.")})
    visible = User.objects.visible_to(actor)
    if not visible.filter(pk__in=[from_staff.pk, to_staff.pk]).count() == 2:
        raise PermissionDenied("staff outside the actor's scope")
    leads = (
        Lead.objects.visible_to(actor)
        .filter(owner=from_staff)
        .transferable()
        .select_for_update(of=("self",))
        .select_related("store", "defeat_reason")
        .order_by("id")
    )
    if lead_ids is not None:
        leads = leads.filter(pk__in=lead_ids)
    leads = list(leads)
    if not leads:
        raise ValidationError(
            {"leads": _("%(name)s has no leads to transfer.") % {"name": from_staff}}
        )
    now = timezone.now()
    handover = from_staff.role == Role.CONSULTANT and to_staff.role != Role.CONSULTANT
    for lead in leads:
        check_owner(to_staff, store=lead.store, lead=lead)
        lead.owner = to_staff
        if handover:
            lead.source = Source.LOW_INTENT
            lead.handover_consultant = from_staff
            lead.handover_visit_date = lead.handover_visit_date or timezone.localdate(
                lead.received_at
            )
            if lead.defeat_reason_id or lead.defeat_note:
                label = lead.defeat_reason.label if lead.defeat_reason_id else ""
                lead.handover_defeat_reason = " ".join(filter(None, [label, lead.defeat_note]))
            _restart_clock(lead, now)
        if lead.status == Status.DEFEATED:
            lifecycle.move(lead, Status.ACTIVE)
            _clear_defeat(lead)
            lead.next_followup_at = None  # the plan from before the defeat is void
            _restart_clock(lead, now)
        try:
            with transaction.atomic():
                lifecycle.save(lead, actor=actor, reason=reason)
        except IntegrityError as exc:
            raise LeadStateError(
                _("Lead #%(id)s cannot be revived: its customer has another open lead.")
                % {"id": lead.pk}
            ) from exc
        audit.record(
            "leads.lead.transferred",
            actor=actor,
            target=lead,
            previous=from_staff.pk,
            owner=to_staff.pk,
            reason=reason,
            handover=handover,
        )
    events.leads_changed.send(
        sender=Lead, leads=leads, since=min(lead.received_at for lead in leads)
    )
    return leads


# ---------------------------------------------------------------- referrals (转介绍)


def c_card_customer(*, store: Store, phone: str) -> Customer | None:
    """The store's customer with this phone who bought a vehicle (a C-card,
    seed 003), or None."""
    number = phones.try_normalize(phone)
    if number is None:
        return None
    return (
        Customer.objects.filter(store=store, phones__number=number)
        .filter(leads__deals__delivered_at__isnull=False)
        .distinct()
        .first()
    )


@transaction.atomic
def lead_set_referrer(*, actor, lead: Lead, phone: str) -> Lead:
    """Name the C-card customer (a buyer, known by phone) who recommended
    this lead; an empty phone clears it. The referral counts for the KPI
    "referrals" (leads received that name a referrer)."""
    lead = lifecycle.locked_visible(actor, lead)
    phone = (phone or "").strip()
    referrer = None
    if phone:
        referrer = c_card_customer(store=lead.store, phone=phone)
        if referrer is None:
            raise ValidationError(
                {"phone": _("No customer of this store who bought a vehicle has this number.")}
            )
        if referrer.pk == lead.customer_id:
            raise ValidationError({"phone": _("A customer cannot refer themselves.")})
    lead.referred_by = referrer
    lifecycle.save(lead, actor=actor, reason=_("referrer named"))
    audit.record(
        "leads.lead.referrer_set",
        actor=actor,
        target=lead,
        referrer=referrer.pk if referrer else None,
    )
    return lead


# ---------------------------------------------------------------- defeat, activation, invalid


def _clear_defeat(lead: Lead) -> None:
    lead.recontact_at = None
    lead.defeat_reason = None
    lead.defeat_note = ""
    lead.defeated_at = None
    lead.defeat_requested_by = None
    lead.status_before_defeat = ""


@transaction.atomic
def lead_defeat(
    *,
    actor,
    lead: Lead,
    reason: DefeatReason,
    note: str = "",
    recontact_at: datetime | None = None,
) -> Lead:
    """Mark a lead lost (战败). Where the store requires approval (战败审核),
    anyone but a manager only requests it: the lead waits as defeat_pending.
    ``recontact_at`` (战败回访) brings the defeated lead back to its owner's
    queue on that day, still defeated: only an activation reopens it."""
    check_text(note=note)
    if recontact_at is not None and recontact_at <= timezone.now():
        raise ValidationError({"recontact_at": _("The re-contact date must be in the future.")})
    lead = lifecycle.locked_visible(actor, lead)
    store = lead.store
    if not DefeatReason.objects.for_store(store).filter(pk=reason.pk).exists():
        raise ValidationError({"reason": _("This reason is not in the store's list.")})
    if lead.status == Status.DEFEAT_PENDING:
        raise LeadStateError(_("A defeat request for this lead is already waiting for approval."))
    needs_approval = store.defeat_approval_required and not can(actor, "leads.assign")
    before = lead.status
    lifecycle.move(lead, Status.DEFEAT_PENDING if needs_approval else Status.DEFEATED)
    lead.defeat_reason, lead.defeat_note = reason, (note or "").strip()
    lead.recontact_at = recontact_at
    lead.defeat_requested_by = actor
    lead.status_before_defeat = before
    if not needs_approval:
        lead.defeated_at = timezone.now()
    lifecycle.save(lead, actor=actor, reason=reason.label)
    name = "leads.lead.defeat_requested" if needs_approval else "leads.lead.defeated"
    audit.record(name, actor=actor, target=lead, reason=reason.code, note=lead.defeat_note)
    return lead


@transaction.atomic
def lead_defeat_approve(*, actor, lead: Lead) -> Lead:
    require(actor, "leads.assign")
    lead = lifecycle.locked_visible(actor, lead)
    if lead.status != Status.DEFEAT_PENDING:
        raise LeadStateError(_("There is no defeat request to approve."))
    lifecycle.move(lead, Status.DEFEATED)
    lead.defeated_at = timezone.now()
    lifecycle.save(lead, actor=actor, reason=_("defeat approved"))
    audit.record("leads.lead.defeat_approved", actor=actor, target=lead)
    return lead


@transaction.atomic
def lead_defeat_reject(*, actor, lead: Lead, note: str = "") -> Lead:
    require(actor, "leads.assign")
    lead = lifecycle.locked_visible(actor, lead)
    if lead.status != Status.DEFEAT_PENDING:
        raise LeadStateError(_("There is no defeat request to reject."))
    lifecycle.move(lead, lead.status_before_defeat or Status.ACTIVE)
    _clear_defeat(lead)
    lifecycle.save(lead, actor=actor, reason=note or _("defeat rejected"))
    audit.record("leads.lead.defeat_rejected", actor=actor, target=lead, note=note)
    return lead


@transaction.atomic
def lead_activate(*, actor, lead: Lead, owner: User, reason: str) -> Lead:
    """激活战败意向: a manager brings a defeated (or invalid) lead back and
    gives it to someone; the first contact is due like a transfer's."""
    require(actor, "leads.assign")
    reason = _require_reason(reason)
    lead = lifecycle.locked_visible(actor, lead)
    if lead.status not in (Status.DEFEATED, Status.INVALID):
        raise LeadStateError(_("Only a defeated or invalid lead can be activated."))
    check_owner(owner, store=lead.store, lead=lead)
    other = find_open_lead(store=lead.store, phone=lead.phone)
    if other is not None:
        raise LeadStateError(
            _("The customer already has an open lead #%(id)s; work that one instead.")
            % {"id": other.pk}
        )
    previous = lead.owner_id
    lifecycle.move(lead, Status.ACTIVE)
    _clear_defeat(lead)
    lead.invalid_reason, lead.invalid_note = "", ""
    lead.owner = owner
    now = timezone.now()
    lead.next_followup_at = None  # the plan from before the defeat is void
    _restart_clock(lead, now)
    try:
        with transaction.atomic():
            lifecycle.save(lead, actor=actor, reason=reason)
    except IntegrityError as exc:  # an open lead appeared meanwhile
        raise LeadStateError(_("The customer already has an open lead.")) from exc
    audit.record(
        "leads.lead.activated",
        actor=actor,
        target=lead,
        previous=previous,
        owner=owner.pk,
        reason=reason,
    )
    events.leads_changed.send(sender=Lead, leads=[lead], since=lead.received_at)
    return lead


@transaction.atomic
def lead_invalidate(*, actor, lead: Lead, reason: str, note: str = "") -> Lead:
    """无效客户: not a real prospect (wrong number, no intent, duplicate, peer)."""
    if reason not in InvalidReason.values:
        raise ValidationError({"reason": _("Choose why the lead is invalid.")})
    check_text(note=note)
    lead = lifecycle.locked_visible(actor, lead)
    lifecycle.move(lead, Status.INVALID)
    lead.invalid_reason, lead.invalid_note = reason, (note or "").strip()
    lifecycle.save(lead, actor=actor, reason=InvalidReason(reason).label)
    audit.record("leads.lead.invalidated", actor=actor, target=lead, reason=reason, note=note)
    return lead


def lead_set_status(*, actor, lead: Lead, status: str, reason: str = "") -> Lead:
    """For the follow-up, appointment and deal services: move a (locked) lead
    along the lifecycle under the same transition table."""
    lifecycle.move(lead, status)
    return lifecycle.save(lead, actor=actor, reason=reason)


# ---------------------------------------------------------------- deals (B-card, C-card)


@transaction.atomic
def deal_record(
    *, actor, lead: Lead, vehicle_model: VehicleModel, stage: str, deal_at: datetime | None = None
) -> Deal:
    """An order (B-card) or a delivery (C-card). Delivering a model that was
    ordered completes that order's vehicle; one without an order is a
    vehicle of its own (counted at delivery, DESIGN §3)."""
    if stage not in ("order", "delivered"):
        raise ValidationError({"stage": _("Stage is “order” or “delivered”.")})
    lifecycle.require_visible(actor, lead)
    deal_at = deal_at or timezone.now()
    validate_event_time(actor=actor, when=deal_at, field="deal_at")
    lead = lifecycle.lock(lead)
    if stage == "order":
        deal = Deal(
            store=lead.store,
            lead=lead,
            vehicle_model=vehicle_model,
            ordered_at=deal_at,
            agent=lead.owner,
            created_by=actor,
        )
        target = Status.ORDERED
    else:
        deal = (
            lead.deals.select_for_update()
            .filter(vehicle_model=vehicle_model, delivered_at__isnull=True)
            .order_by("ordered_at")
            .first()
        ) or Deal(
            store=lead.store,
            lead=lead,
            vehicle_model=vehicle_model,
            agent=lead.owner,
            created_by=actor,
        )
        deal.delivered_at = deal_at
        target = Status.DELIVERED
    audit.attribute(deal, actor=actor)
    deal.save()
    if stage == "delivered":
        from leads.owners import vehicle_for_delivery

        # The customer becomes a base customer with this vehicle (issue 18).
        vehicle_for_delivery(deal)
    events.leads_changed.send(sender=Lead, leads=[lead], since=min(lead.received_at, deal_at))
    if lead.status != target:
        lead_set_status(actor=actor, lead=lead, status=target)
    audit.record(
        f"leads.deal.{stage}",
        actor=actor,
        target=lead,
        deal=deal.pk,
        vehicle_model=vehicle_model.pk,
    )
    return deal


# ---------------------------------------------------------------- customers


@transaction.atomic
def customer_merge(*, actor, keep: Customer, merge: Customer) -> Customer:
    """Two records a manager finds to be one person: ``merge``'s phones and
    leads move to ``keep``; ``merge`` stays, pointing at ``keep``, so its
    history still reads."""
    require(actor, "leads.merge_customers")
    if keep.pk == merge.pk:
        raise ValidationError({"merge": _("These leads already belong to one customer.")})
    visible = Customer.objects.visible_to(actor)
    if visible.filter(pk__in=[keep.pk, merge.pk]).count() != 2:
        raise PermissionDenied("customer outside the actor's scope")
    keep, merge = (
        Customer.objects.select_for_update().get(pk=keep.pk),
        Customer.objects.select_for_update().get(pk=merge.pk),
    )
    if keep.store_id != merge.store_id:
        raise ValidationError({"merge": _("Customers of different stores cannot be merged.")})
    if keep.merged_into_id or merge.merged_into_id:
        raise LeadStateError(_("One of these customers has already been merged."))
    for customer_phone in merge.phones.all():
        customer_phone.customer, customer_phone.is_primary = keep, False
        audit.attribute(customer_phone, actor=actor, reason="merge")
        customer_phone.save()
    for lead in merge.leads.select_for_update():
        lead.customer = keep
        lifecycle.save(lead, actor=actor, reason=_("customer records merged"))
        events.leads_changed.send(sender=Lead, leads=[lead], since=lead.received_at)
    if not keep.has_full_name and merge.has_full_name:
        keep.name, keep.has_full_name = merge.name, True
        audit.attribute(keep, actor=actor)
        keep.save()
    merge.merged_into = keep
    audit.attribute(merge, actor=actor, reason="merge")
    merge.save()
    audit.record(
        "leads.customer.merged", actor=actor, target=keep, merged=merge.pk, store=keep.store
    )
    return keep


# ---------------------------------------------------------------- managed lists and staff


@transaction.atomic
def vehicle_model_create(*, actor, name: str, category: str) -> VehicleModel:
    require(actor, "org.vehicle_model.manage")
    vehicle_model = VehicleModel(name=name, category=category)
    vehicle_model.full_clean()
    audit.attribute(vehicle_model, actor=actor)
    vehicle_model.save()
    return vehicle_model


@transaction.atomic
def staff_set_absent(*, actor, staff: User, day, absent: bool) -> None:
    """Mark someone absent (or back) for a day: round-robin skips them."""
    require(actor, "leads.assign")
    if not User.objects.visible_to(actor).filter(pk=staff.pk).exists():
        raise PermissionDenied("staff outside the actor's scope")
    if absent:
        Absence.objects.get_or_create(staff=staff, date=day, defaults={"created_by": actor})
    else:
        Absence.objects.filter(staff=staff, date=day).delete()
    audit.record("dcc.staff.absence", actor=actor, target=staff, date=str(day), absent=absent)


# ---------------------------------------------------------------- merging two leads

# How far a lead has come, for the lead that stays: it takes the other's
# status when the other came further (an order taken on the duplicate).
_PROGRESS = [
    Status.NEW,
    Status.ACTIVE,
    Status.INVITED,
    Status.VISITED,
    Status.ORDERED,
    Status.DELIVERED,
]


def _entered_first(a: Lead, b: Lead) -> Lead:
    return min(a, b, key=lambda lead: (lead.created_at, lead.pk))


def merge_survivor(a: Lead, b: Lead) -> tuple[Lead, Lead]:
    """``(keep, merge)`` for two duplicates: the open one if only one is
    open (the work goes on there), else the first entry (first entry wins)."""
    if a.is_open != b.is_open:
        return (a, b) if a.is_open else (b, a)
    first = _entered_first(a, b)
    return (first, b if first is a else a)


def has_activity(lead: Lead) -> bool:
    """Whether someone worked the lead: a call logged or attempted, a status
    past new, or a deal recorded."""
    return bool(
        lead.first_contacted_at
        or lead.last_attempt_at
        or lead.status != Status.NEW
        or lead.deals.exists()
    )


def merge_needs_decision(keep: Lead, merge: Lead) -> bool:
    """Both leads have an owner, not the same one, and both owners worked
    theirs: a manager decides who keeps the merged lead."""
    return bool(
        keep.owner_id
        and merge.owner_id
        and keep.owner_id != merge.owner_id
        and has_activity(keep)
        and has_activity(merge)
    )


def merge_default_owner(keep: Lead, merge: Lead):
    """The first entry's owner (the other's if the first entry has none)."""
    first = _entered_first(keep, merge)
    other = merge if first is keep else keep
    return first.owner or other.owner


@transaction.atomic
def lead_merge(*, actor, keep: Lead, merge: Lead, owner: User | None = None, reason: str = ""):
    """Two leads found to be one customer's: ``merge`` is closed as merged
    into ``keep`` (``merge_survivor`` says which is which) and everything
    worked on it moves over — follow-ups, visits, calls, recordings (each app
    by ``events.leads_merged``) and deals — nothing is deleted. ``keep``'s
    owner is the first entry's; where both owners worked their lead a
    manager names ``owner`` (one of the two). Customers of the two leads
    become one (``customer_merge``)."""
    require(actor, "leads.merge")
    check_text(reason=reason)
    if keep.pk == merge.pk:
        raise ValidationError({"merge": _("Choose two different leads.")})
    if Lead.objects.workable_by(actor).filter(pk__in=[keep.pk, merge.pk]).count() != 2:
        raise PermissionDenied("lead outside the actor's scope")
    # Locked in id order: two merges of overlapping pairs cannot deadlock.
    locked = {
        lead.pk: lead
        for lead in Lead.objects.select_for_update()
        .filter(pk__in=[keep.pk, merge.pk])
        .order_by("pk")
    }
    keep, merge = locked[keep.pk], locked[merge.pk]
    if keep.store_id != merge.store_id:
        raise ValidationError({"merge": _("Leads of different stores cannot be merged.")})
    if Status.MERGED in (keep.status, merge.status):
        raise LeadStateError(_("One of these leads has already been merged."))
    if merge_survivor(keep, merge) != (keep, merge):
        raise ValidationError(
            {"keep": _("The lead kept is the open one, or else the one entered first.")}
        )
    decision_needed = merge_needs_decision(keep, merge)
    if owner is None:
        if decision_needed:
            raise ValidationError(
                {"owner": _("Both owners worked their lead: choose who keeps the merged lead.")}
            )
        owner = merge_default_owner(keep, merge)
    elif owner.pk not in (keep.owner_id, merge.owner_id):
        raise ValidationError({"owner": _("Choose one of the two leads' owners.")})
    reason = (reason or "").strip() or _("duplicate leads merged")

    # Each app moves its rows first (and may refuse, e.g. two booked visits).
    events.leads_merged.send(sender=Lead, keep=keep, merge=merge, actor=actor)
    events.leads_changed.send(
        sender=Lead, leads=[keep, merge], since=min(keep.received_at, merge.received_at)
    )
    deals = Deal.objects.filter(lead=merge).update(lead=keep)
    if keep.customer_id != merge.customer_id:
        customer_merge(actor=actor, keep=keep.customer, merge=merge.customer)
        keep.refresh_from_db(fields=["customer"])
        merge.refresh_from_db(fields=["customer"])

    merge_status = merge.status
    lifecycle.move(merge, Status.MERGED)
    merge.merged_into = keep
    merge.next_followup_at = None
    merge.recontact_at = None
    lifecycle.save(merge, actor=actor, reason=reason)

    previous_owner = keep.owner_id
    keep.owner = owner
    if merge.first_contacted_at and (
        keep.first_contacted_at is None or merge.first_contacted_at < keep.first_contacted_at
    ):
        keep.first_contacted_at = merge.first_contacted_at
    if (
        keep.status in _PROGRESS
        and merge_status in _PROGRESS
        and _PROGRESS.index(merge_status) > _PROGRESS.index(keep.status)
        and merge_status in lifecycle.TRANSITIONS[keep.status]
    ):
        lifecycle.move(keep, merge_status)
    lifecycle.save(keep, actor=actor, reason=reason)
    audit.record(
        "leads.lead.merged",
        actor=actor,
        target=keep,
        merged=merge.pk,
        previous_owner=previous_owner,
        owner=owner.pk if owner else None,
        owner_decided=decision_needed,
        deals=deals,
        reason=reason,
    )
    return keep
