"""The one access policy of DCC.

It answers both questions every page, API view, export and download asks:

1. *Which rows may this user see?* ``Model.objects.visible_to(user)``: every
   model holding scoped data has a ``ScopedQuerySet`` that says, in
   ``scope_paths``, how its rows reach a store, a team and an owner. The role
   decides the level (DESIGN §1): agents, callers and consultants see their
   own rows, a supervisor the team's, a manager the store's, an administrator
   without a store (or a superuser) every store. A path that a model lacks
   means that level sees none of its rows: the policy fails closed.
2. *May this user do this?* ``can(user, capability)``: one table of
   capabilities by role, used by the pages (``capability_required``), the API
   (``dcc.api.CapabilityPermission``) and the services (``require``).

Objects are fetched with ``get_visible_or_404``: a row that is missing and a
row that is not yours answer the same 404, so ids leak nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from django.shortcuts import get_object_or_404

from dcc.roles import Role


class Level(enum.StrEnum):
    OWN = "own"
    TEAM = "team"
    STORE = "store"
    ALL = "all"


ROLE_LEVEL = {
    Role.AGENT: Level.OWN,
    Role.CALLER: Level.OWN,
    Role.CONSULTANT: Level.OWN,
    Role.SUPERVISOR: Level.TEAM,
    Role.MANAGER: Level.STORE,
    Role.ADMIN: Level.ALL,
    # Owns no lead, so sees none; the owners of its store are widened for it
    # by their own querysets (leads.models.OwnedVehicleQuerySet).
    Role.AFTERSALES: Level.OWN,
}


def scope_level(user) -> Level | None:
    """The level of rows ``user`` sees, or None for nobody (anonymous, inactive)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    level = ROLE_LEVEL[user.effective_role]
    if level is Level.ALL and not user.sees_all_stores:
        return Level.STORE  # an administrator bound to one store
    return level


@dataclass(frozen=True)
class ScopePaths:
    """ORM lookups from a model to the store, the team and the owning user."""

    store: str | None = None
    team: str | None = None
    own: str | None = None


_NOTHING = Q(pk__in=[])


class ScopedQuerySet(models.QuerySet):
    scope_paths: ScopePaths = ScopePaths()

    def visible_to(self, user):
        level = scope_level(user)
        if level is None:
            return self.none()
        if level is Level.ALL:
            return self.all()
        return self.filter(self.scope_q(user, level))

    def scope_q(self, user, level: Level) -> Q:
        paths = self.scope_paths
        if level is Level.STORE:
            return Q(**{paths.store: user.store_id}) if paths.store and user.store_id else _NOTHING
        own = self.own_q(user)
        if level is Level.TEAM and paths.team and user.team_id:
            return Q(**{paths.team: user.team_id}) | own
        return own

    def own_q(self, user) -> Q:
        """What "my own rows" means; a model may widen it (e.g. a lead handed
        to a consultant for a visit)."""
        paths = self.scope_paths
        return Q(**{paths.own: user.pk}) if paths.own else _NOTHING


class GroupWideQuerySet(ScopedQuerySet):
    """Reference lists shared by every store (vehicle models, channels):
    anyone signed in and active sees all of them, nobody else any."""

    def visible_to(self, user):
        return self.none() if scope_level(user) is None else self.all()


def get_visible_or_404(queryset_or_model, user, **lookup):
    """The object if it exists *and* ``user`` may see it; else Http404."""
    queryset = getattr(queryset_or_model, "objects", queryset_or_model)
    return get_object_or_404(queryset.visible_to(user), **lookup)


# ---------------------------------------------------------------- capabilities

A, CA, S, M, CO, AD, AS = (
    Role.AGENT,
    Role.CALLER,
    Role.SUPERVISOR,
    Role.MANAGER,
    Role.CONSULTANT,
    Role.ADMIN,
    Role.AFTERSALES,
)

# Who may do what. Later capabilities are added here, nowhere else.
CAPABILITIES: dict[str, frozenset[str]] = {
    "org.store.manage": frozenset({AD}),
    "org.team.manage": frozenset({AD, M}),
    "org.staff.manage": frozenset({AD, M}),
    "org.vehicle_model.manage": frozenset({AD, M}),
    "org.admin_site": frozenset({AD}),
    "org.directory.view": frozenset({S, M, AD}),
    # Who took which customer lists (dcc.audit.record_access): a manager
    # their store's, the group administrator every store's.
    "org.access_log.view": frozenset({M, AD}),
    # Leads (DESIGN §2): a manager changes ownership in the store, always with
    # a reason (a supervisor in their team, below).
    "leads.create": frozenset({A, CA, S, M, CO, AD}),
    "leads.assign": frozenset({M, AD}),
    # A supervisor reassigns within their own team only (leads owned by a
    # member, to a member: leads.services.lead_assign), with a reason.
    "leads.assign_team": frozenset({S}),
    # Who may reassign at all (the gate of pages and API): the two above.
    "leads.reassign": frozenset({S, M, AD}),
    # Escalated leads: a note for the agent, and clearing the escalation.
    "leads.supervise": frozenset({S, M, AD}),
    "leads.import": frozenset({S, M, AD}),
    "leads.merge_customers": frozenset({M, AD}),
    # The duplicate finder (within the viewer's scope) and merging two leads
    # into one: a manager decides who keeps the work (leads.services.lead_merge).
    "leads.duplicates.view": frozenset({S, M, AD}),
    "leads.merge": frozenset({M, AD}),
    # Inbound lead connectors (portals, OEM systems, ad platforms pushing leads).
    "leads.connectors.manage": frozenset({M, AD}),
    # Distribution rules on arrival (leads.distribution): the store's manager.
    "leads.distribution.manage": frozenset({M, AD}),
    # The pool (公海, leads.pool): the store's staff see it; agents and
    # callers claim from it; a supervisor gives its leads to the team, a
    # manager to anyone in the store.
    "leads.pool.view": frozenset({A, CA, S, M, AD}),
    "leads.pool.claim": frozenset({A, CA}),
    "leads.pool.redistribute": frozenset({S, M, AD}),
    # Entering a contact, visit or deal at any past time (taking over history
    # from a previous system); everyone else only earlier the same day.
    "history.backdate": frozenset({M, AD}),
    # Follow-ups (DESIGN §2): the deadline breaches, the SMS outbox, the
    # appointments nobody marked, and the first-contact distribution.
    "followups.breaches.view": frozenset({S, M, AD}),
    "followups.breaches.acknowledge": frozenset({S, M, AD}),
    "followups.sms.view": frozenset({S, M, AD}),
    "followups.sms.retry": frozenset({S, M, AD}),
    "followups.team_health.view": frozenset({S, M, AD}),
    # A store's rules with clocks and its follow-up cadence (settings, DESIGN §2).
    "followups.policy.manage": frozenset({M, AD}),
    # KPIs (DESIGN §3): everyone reads the figures of the scopes they may see
    # (kpi.selectors.scope_for); supervisors set targets and log meetings.
    "kpi.view": frozenset({A, CA, S, M, CO, AD}),
    "kpi.targets.manage": frozenset({S, M, AD}),
    "kpi.meetings.manage": frozenset({S, M, AD}),
    # The store's KPI settings (meeting on-time rule, working days).
    "kpi.settings.manage": frozenset({M, AD}),
    # The monthly Excel workbook of a store (kpi.export): download and keep.
    "kpi.export": frozenset({S, M, AD}),
    # The dashboards and the DCC room's wall-board (supervisor: team; manager: store).
    "kpi.dashboard.view": frozenset({S, M, AD}),
    # Scorecards (DESIGN §3): agents and callers read their own card, a
    # supervisor the team's and its members' (kpi.selectors.scope_for); a
    # manager sets the store's items, weights, targets, slopes and pay bases.
    "kpi.scorecard.view": frozenset({A, CA, S, M, AD}),
    "kpi.scorecard.manage": frozenset({M, AD}),
    # Telephony (DESIGN §4): importing call logs and recordings, the sources
    # they come from, quality review of recordings, call statistics.
    "telephony.import": frozenset({S, M, AD}),
    "telephony.sources.manage": frozenset({M, AD}),
    "telephony.review": frozenset({S, M, AD}),
    "telephony.checklist.manage": frozenset({S, M, AD}),
    "telephony.stats.view": frozenset({S, M, AD}),
    # Taking the call back of an unknown number from the store's shared
    # missed-call list (telephony.callbacks).
    "telephony.callbacks.claim": frozenset({A, CA, S}),
    # Whose menu offers "My reviews": staff whose calls are scored. The page
    # itself shows anyone the reviews of their own calls.
    "telephony.reviews.own": frozenset({A, CA}),
    # Owners and their vehicles (issue 18): after-sales and customer-service
    # staff read the store's owners and flag or recommend them; managers too.
    "owners.view": frozenset({AS, S, M, AD}),
    "owners.flag": frozenset({AS, M, AD}),
    "owners.import": frozenset({AS, M, AD}),
    # The store's opt-out list (never messaged again by any campaign).
    "owners.opt_out": frozenset({AS, S, M, AD}),
    # Campaigns: segments, campaigns and their SMS rounds.
    "campaigns.view": frozenset({S, M, AD}),
    "campaigns.manage": frozenset({S, M, AD}),
    # Call lists and events (issue 18, points 5–7): agents and callers work
    # their campaign calls; staff who work leads invite customers to events;
    # supervisors and managers set events up; the door (consultants too)
    # checks guests in; the funnel is read by those who run campaigns.
    "campaigns.call": frozenset({A, CA}),
    "campaigns.invite": frozenset({A, CA, S, M}),
    "campaigns.events.view": frozenset({A, CA, S, M, CO, AD}),
    "campaigns.events.manage": frozenset({S, M, AD}),
    "campaigns.events.checkin": frozenset({CO, S, M, AD}),
    "campaigns.funnel.view": frozenset({S, M, AD}),
}

# Roles that can own a lead. A consultant owns showroom leads, never a
# DCC-invited one (seed 001: 严禁展厅销售顾问拦截DCC邀约到店潜客).
LEAD_OWNER_ROLES = frozenset({A, CA, S, CO})
# Roles who own what they enter themselves ("first entry wins", DESIGN §2).
SELF_OWNING_ROLES = frozenset({A, CA, CO})

# Roles a manager may give to staff of its store: not another manager, not an
# admin (require_staff_grant below).
MANAGER_ASSIGNABLE_ROLES = frozenset({A, CA, S, CO, AS})


def can(user, capability: str) -> bool:
    if scope_level(user) is None:
        return False
    return user.effective_role in CAPABILITIES[capability]


def require(user, capability: str) -> None:
    """For services: raise PermissionDenied (403) unless ``user`` may."""
    if not can(user, capability):
        raise PermissionDenied(capability)


def _may_give(actor, role: str, store_id) -> bool:
    """Whether ``actor`` may make someone a ``role`` in store ``store_id``
    (None: no store, which for an administrator means every store)."""
    if actor.sees_all_stores:
        return True  # a group administrator (or a Django superuser)
    if store_id is None or store_id != actor.store_id:
        return False  # a store-bound actor works in its own store only
    if actor.effective_role == Role.ADMIN:
        return True  # every role of its store, never a group-wide reach
    if actor.effective_role == Role.MANAGER:
        return role in MANAGER_ASSIGNABLE_ROLES
    return False


def require_staff_grant(actor, *, role: str, store_id, staff=None) -> None:
    """For the staff services: raise PermissionDenied (403) unless ``actor``
    may give ``role`` in store ``store_id`` to ``staff`` (None: a new member).

    Nobody grants a role or a reach above their own: a group administrator
    gives anything; a store administrator any role within its store, never
    the empty store (which makes a group administrator and a superuser); a
    manager the MANAGER_ASSIGNABLE_ROLES within its store; everyone else
    nothing. An existing member must be within the same reach, and nobody
    changes their own role or store.
    """
    require(actor, "org.staff.manage")
    if staff is not None:
        if staff.pk == actor.pk and (role != staff.role or store_id != staff.store_id):
            raise PermissionDenied("nobody changes their own role or store")
        current_store = None if staff.sees_all_stores else staff.store_id
        if not _may_give(actor, staff.effective_role, current_store):
            raise PermissionDenied("this staff member is beyond the actor's reach")
    if not _may_give(actor, role, store_id):
        raise PermissionDenied("this role or store is beyond the actor's reach")


def capability_required(capability: str):
    """View decorator: login is required first, then the capability (403)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            require(request.user, capability)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
