"""Reads of the organisation, always through the policy."""

from django.db.models import Count, Prefetch, Q

from dcc.models import Heartbeat, Store, Team, User
from dcc.policy import Level, scope_level


def directory_for(*, user):
    """Teams with their active members, and staff without a team, as ``user``
    may see them: two queries whatever the size of the store."""
    staff = User.objects.visible_to(user).active().select_related("store").order_by("role", "name")
    teams = (
        Team.objects.visible_to(user)
        .select_related("store")
        .prefetch_related(Prefetch("members", queryset=staff, to_attr="active_members"))
    )
    # A supervisor's directory is the team; managers also see who has none.
    if scope_level(user) in (Level.STORE, Level.ALL):
        unassigned = staff.filter(team__isnull=True)
    else:
        unassigned = staff.none()
    return teams, unassigned


def stores_overview_for(*, user):
    return Store.objects.visible_to(user).annotate(
        team_count=Count("teams", distinct=True),
        staff_count=Count("staff", filter=Q(staff__is_active=True), distinct=True),
    )


def heartbeats():
    return list(Heartbeat.objects.all())
