"""Writes of the KPI app: targets (任务分配表), the meeting log (晨会夕会)
and the store's KPI settings. Each takes the acting user, checks the
capability and the scope, and records who did it (history rows for targets
and settings, an audit event for each write)."""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from dcc import audit
from dcc.models import Store, Team, User
from dcc.policy import Level, require, scope_level
from dcc.timeutils import validate_event_time
from kpi import monthly
from kpi.models import KpiSettings, Meeting, MeetingKind, Target
from leads.models import VehicleModel

SETTINGS_FIELDS = (
    "morning_meeting_latest",
    "evening_meeting_latest",
    "working_weekdays",
    "daily_inbound_calls",
    "daily_outbound_calls",
    "daily_invitations",
)


def settings_for(store) -> KpiSettings:
    settings, _created = KpiSettings.objects.get_or_create(store=store)
    return settings


def target_categories() -> list[str]:
    """The categories targets are set by: those of the active vehicle models."""
    return list(
        VehicleModel.objects.filter(is_active=True)
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()
    )


def _require_team(actor, team: Team) -> None:
    """A supervisor acts for their own team, a manager for the store's."""
    level = scope_level(actor)
    visible = Team.objects.visible_to(actor).filter(pk=team.pk).exists()
    if not visible or (level is Level.TEAM and team.pk != actor.team_id):
        raise PermissionDenied("team outside the actor's scope")


@transaction.atomic
def targets_set(
    *, actor, team: Team, month: date, units: dict[tuple[int, str], int | None]
) -> dict[str, int]:
    """Set a team's targets for a month from a grid: ``{(member id,
    category): units}``; None removes a target. Only the team's members and
    the known categories are accepted. Returns how many were created,
    changed and removed; unchanged cells write nothing."""
    require(actor, "kpi.targets.manage")
    _require_team(actor, team)
    if month.day != 1:
        raise ValidationError({"month": _("A target is set for a whole month.")})
    members = set(User.objects.filter(team=team).values_list("pk", flat=True))
    categories = set(target_categories()) | set(
        Target.objects.filter(member__in=members, month=month).values_list("category", flat=True)
    )
    errors = []
    for (member_id, category), value in units.items():
        if member_id not in members:
            errors.append(_("Only the team's members get targets here."))
        if category not in categories:
            errors.append(_("Unknown model category “%(value)s”.") % {"value": category})
        if value is not None and value < 0:
            errors.append(_("A target is zero or more units."))
    if errors:
        raise ValidationError({"units": sorted(set(errors))})
    existing = {
        (t.member_id, t.category): t
        # Ordered by id: the default order joins the staff table, and a row
        # lock cannot reach through an outer join (PostgreSQL).
        for t in Target.objects.select_for_update()
        .filter(member__in=members, month=month)
        .order_by("pk")
    }
    counts = {"created": 0, "changed": 0, "removed": 0}
    for key, value in units.items():
        target = existing.get(key)
        if value is None:
            if target is not None:
                audit.attribute(target, actor=actor)
                target.delete()
                counts["removed"] += 1
            continue
        if target is None:
            target = Target(
                store=team.store, member_id=key[0], month=month, category=key[1], units=value
            )
            counts["created"] += 1
        elif target.units != value:
            target.units = value
            counts["changed"] += 1
        else:
            continue
        target.set_by = actor
        audit.attribute(target, actor=actor)
        target.save()
    if any(counts.values()):
        audit.record(
            "kpi.targets.set",
            actor=actor,
            target=team,
            store=team.store,
            month=month.isoformat(),
            **counts,
        )
    monthly.months_changed(month)
    return counts


@transaction.atomic
def meeting_record(
    *,
    actor,
    team: Team,
    kind: str,
    held_at: datetime,
    attendees: list[User] | None = None,
    minutes: str = "",
) -> Meeting:
    """Log a team's morning or evening meeting. The time follows the
    back-entry rule (API.md): a supervisor logs today's meetings, a manager
    may record older ones. Attendees are the team's active members (the
    supervisor included)."""
    require(actor, "kpi.meetings.manage")
    _require_team(actor, team)
    if kind not in MeetingKind.values:
        raise ValidationError({"kind": _("Unknown meeting “%(value)s”.") % {"value": kind}})
    validate_event_time(actor=actor, when=held_at, field="held_at")
    attendees = list(attendees or [])
    outsiders = [a for a in attendees if a.team_id != team.pk or not a.is_active]
    if outsiders:
        raise ValidationError(
            {
                "attendees": _("Attendees are active members of the team: %(names)s is not.")
                % {"names": ", ".join(str(a) for a in outsiders)}
            }
        )
    meeting = Meeting.objects.create(
        store=team.store,
        team=team,
        kind=kind,
        held_at=held_at,
        minutes=(minutes or "").strip(),
        recorded_by=actor,
    )
    meeting.attendees.set(attendees)
    audit.record(
        "kpi.meeting.recorded",
        actor=actor,
        target=meeting,
        store=team.store,
        team=team.pk,
        kind=kind,
        held_at=held_at.isoformat(),
        attendees=[a.pk for a in attendees],
    )
    monthly.months_changed(held_at)
    return meeting


@transaction.atomic
def kpi_settings_update(*, actor, store: Store, reason: str = "", **values) -> KpiSettings:
    """A manager sets the store's meeting on-time rule and working days."""
    require(actor, "kpi.settings.manage")
    if not Store.objects.visible_to(actor).filter(pk=store.pk).exists():
        raise PermissionDenied("store outside the actor's scope")
    unknown = set(values) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError({name: _("Unknown setting.") for name in unknown})
    settings, _created = KpiSettings.objects.select_for_update().get_or_create(store=store)
    changed = audit.assign(settings, values)
    settings.full_clean()
    if changed:
        audit.attribute(settings, actor=actor, reason=reason)
        settings.save()
        audit.record("kpi.settings.updated", actor=actor, target=store, store=store, **changed)
        monthly.months_changed(None)  # working days and on-time limits of every month
    return settings
