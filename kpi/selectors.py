"""Reads for the KPI pages and the API: which scopes a user may read.

The rule (API.md "KPI", DESIGN §1): an agent, a caller or a consultant reads
their own figures; a supervisor their team's and its members'; a manager
their store's, its teams' and its staff's; a group administrator every
scope, the group included. Asking for a kind of scope above one's level is a
wrong role (403); naming a team, store or person outside one's scope is not
found (404), exactly as for a missing id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from dcc.models import Store, Team, User
from dcc.policy import Level, require, scope_level
from dcc.roles import Role
from kpi.metrics import Period, Scope

KINDS_BY_LEVEL = {
    Level.OWN: ("agent",),
    Level.TEAM: ("team", "agent"),
    Level.STORE: ("store", "team", "agent"),
    Level.ALL: ("group", "store", "team", "agent"),
}

# Staff listed as agent scopes in the pickers: those who hold leads and calls.
MEMBER_ROLES = (Role.AGENT, Role.CALLER, Role.SUPERVISOR, Role.CONSULTANT)
# Staff ranked against each other (the dashboard's agent comparison, the
# wall-board's top agents, the workbook's agent block): the telesales staff.
# A showroom consultant receives visits and closes deals but works no call
# queue: never ranked with agents (issue 13 point 7).
RANKED_ROLES = (Role.AGENT, Role.CALLER, Role.SUPERVISOR)


def allowed_kinds(user) -> tuple[str, ...]:
    level = scope_level(user)
    return KINDS_BY_LEVEL[level] if level else ()


def _staff_in_scope(user, level: Level):
    staff = User.objects.all()
    if level is Level.OWN:
        return staff.filter(pk=user.pk)
    if level is Level.TEAM:
        return staff.filter(team_id=user.team_id) | staff.filter(pk=user.pk)
    if level is Level.STORE:
        return staff.filter(store_id=user.store_id)
    return staff


def scope_for(user, kind: str | None, id_: int | None) -> Scope:
    """The scope ``user`` asks for: 403 for a kind above their level, 404
    for an id outside their scope. An omitted id means the user's own
    agent, team or store; an omitted kind the widest they may read."""
    require(user, "kpi.view")
    level = scope_level(user)
    kinds = KINDS_BY_LEVEL[level]
    kind = kind or kinds[0]
    if kind not in ("agent", "team", "store", "group"):
        raise Http404("unknown scope")
    if kind not in kinds:
        raise PermissionDenied(f"scope {kind} is above the user's level")
    if kind == "group":
        return Scope("group")
    if id_ is None:
        id_ = {"agent": user.pk, "team": user.team_id, "store": user.store_id}[kind]
    if id_ is None:
        raise Http404("no such scope")
    if kind == "agent":
        found = _staff_in_scope(user, level).filter(pk=id_).exists()
    elif kind == "team":
        found = Team.objects.visible_to(user).filter(pk=id_).exists()
        if level is Level.TEAM:
            found = found and id_ == user.team_id
    else:
        found = Store.objects.visible_to(user).filter(pk=id_).exists()
    if not found:
        raise Http404("scope outside the user's")
    return Scope(kind, id_)


@dataclass(frozen=True)
class ScopeChoice:
    scope: Scope
    label: str

    @property
    def key(self) -> str:
        return self.scope.kind if self.scope.id is None else f"{self.scope.kind}:{self.scope.id}"


def scope_choices(user) -> list[ScopeChoice]:
    """Every scope ``user`` may read, widest first: three queries."""
    level = scope_level(user)
    if level is None:
        return []
    choices = []
    if level is Level.ALL:
        choices.append(ScopeChoice(Scope("group"), _("All stores")))
    if level in (Level.ALL, Level.STORE):
        for store in Store.objects.visible_to(user).order_by("code"):
            choices.append(ScopeChoice(Scope("store", store.pk), str(store)))
    if level is not Level.OWN:
        teams = Team.objects.visible_to(user).select_related("store").order_by("store", "name")
        if level is Level.TEAM:
            teams = teams.filter(pk=user.team_id)
        for team in teams:
            label = f"{team.store} · {team.name}" if level is Level.ALL else team.name
            choices.append(ScopeChoice(Scope("team", team.pk), label))
    staff = _staff_in_scope(user, level).filter(is_active=True)
    if level is not Level.OWN:
        staff = staff.filter(role__in=MEMBER_ROLES)
    for member in staff.order_by("name", "username"):
        choices.append(ScopeChoice(Scope("agent", member.pk), member.display_name))
    return choices


def scope_label(scope: Scope) -> str:
    if scope.kind == "group":
        return _("All stores")
    model = {"agent": User, "team": Team, "store": Store}[scope.kind]
    obj = model.objects.filter(pk=scope.id).first()
    if obj is None:
        return ""
    return obj.display_name if scope.kind == "agent" else str(obj)


def period_from(
    *, month: str | None = None, since: str | None = None, until: str | None = None, today=None
) -> Period:
    """The period a request names: ``month`` (YYYY-MM), or ``since`` and
    ``until`` (dates, both inclusive; ``since`` defaults to the first of
    ``until``'s month, ``until`` to today), or else the current month.
    ValidationError per field otherwise."""
    today = today or timezone.localdate()
    if month:
        if since or until:
            raise ValidationError({"month": _("Give a month or a date range, not both.")})
        try:
            return Period.parse_month(month)
        except ValueError:
            raise ValidationError({"month": _("Enter a month as YYYY-MM.")}) from None
    if not since and not until:
        return Period.current_month(today)
    errors = {}
    dates: dict[str, date | None] = {}
    for name, text in (("since", since), ("until", until)):
        try:
            dates[name] = parse_date(text) if text else None
        except ValueError:
            dates[name] = None
        if text and dates[name] is None:
            errors[name] = _("Enter a date as YYYY-MM-DD.")
    if errors:
        raise ValidationError(errors)
    end = dates["until"] or today
    start = dates["since"] or end.replace(day=1)
    if start > end:
        raise ValidationError({"until": _("The range ends before it starts.")})
    return Period(start, end)
