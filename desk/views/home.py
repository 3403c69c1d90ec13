"""Each role's home page: the agent's call queue, the supervisor's and the
manager's team health, the organisation for those who run it."""

from datetime import timedelta

from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dcc import selectors as org
from dcc.policy import can
from dcc.roles import Role
from dcc.timeutils import local_day_start
from desk.actions import appointment_actions
from desk.views.queue import queue_context
from followups import selectors
from followups.models import Appointment, AppointmentStatus
from kpi.goals import daily_goals

HOME_TEMPLATES = {
    Role.AGENT: "desk/home_agent.html",
    Role.CALLER: "desk/home_agent.html",
    Role.CONSULTANT: "desk/home_consultant.html",
    Role.SUPERVISOR: "desk/home_supervisor.html",
    Role.MANAGER: "desk/home_manager.html",
    Role.ADMIN: "desk/home_admin.html",
    Role.AFTERSALES: "desk/home_aftersales.html",
}


def team_context(request) -> dict:
    """Supervisor's and manager's home: team queue health, the members'
    daily goals, and escalations (the open-breach count is the layout's
    badge, ``badges.open_breaches``)."""
    user = request.user
    health = selectors.team_health(user=user)
    agents = [row["agent"] for row in health["rows"]]
    goals = daily_goals(agents=agents)
    return {
        "health": health,
        "team_goals": [{"agent": agent, "goals": goals[agent.pk]} for agent in agents],
        "escalated": list(selectors.escalated_for_supervisor(supervisor=user, limit=50)),
        "flagged_count": selectors.flagged_appointments(user=user).count(),
    }


def arrivals_context(request) -> dict:
    """A showroom consultant's home: the customers coming to them today and
    tomorrow (the visits they receive), not a call queue."""
    user = request.user
    today = timezone.localdate()
    start = local_day_start(today)
    rows = list(
        Appointment.objects.visible_to(user)
        .filter(
            receiver=user,
            scheduled_at__gte=start,
            scheduled_at__lt=local_day_start(today + timedelta(days=2)),
        )
        .exclude(status=AppointmentStatus.CANCELLED)
        .select_related("lead__customer", "lead__intended_model", "agent")
        .order_by("scheduled_at", "pk")
    )
    tomorrow = local_day_start(today + timedelta(days=1))
    for appointment in rows:
        appointment.forms = appointment_actions(appointment, user)
    return {
        "arrival_days": [
            (_("Today"), "today", [a for a in rows if a.scheduled_at < tomorrow]),
            (_("Tomorrow"), "tomorrow", [a for a in rows if a.scheduled_at >= tomorrow]),
        ],
    }


def agent_context(request) -> dict:
    """An agent's or caller's home: the call queue (its other sections,
    today's goals among them, come with ``queue.desk_extras``)."""
    return queue_context(request)


# What each role's home page shows beyond the organisation: the agent's call
# queue, the team's queue health for supervisors and managers.
HOME_CONTEXT = {
    Role.AGENT: agent_context,
    Role.CALLER: agent_context,
    Role.CONSULTANT: arrivals_context,
    Role.SUPERVISOR: team_context,
    Role.MANAGER: team_context,
}


def home(request):
    """Each role lands on its own page: the agent's call queue, the
    supervisor's team health, the manager's store."""
    user = request.user
    context = {"role": user.effective_role}
    provider = HOME_CONTEXT.get(user.effective_role)
    if provider:
        context.update(provider(request))
    if user.effective_role in (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN):
        context["teams"], context["unassigned"] = org.directory_for(user=user)
    if user.effective_role in (Role.MANAGER, Role.ADMIN):
        context["stores"] = org.stores_overview_for(user=user)
    if can(user, "org.admin_site"):
        context["heartbeats"] = org.heartbeats()
    return render(request, HOME_TEMPLATES[user.effective_role], context)
