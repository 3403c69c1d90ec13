"""Each role's home page: the agent's call queue, the supervisor's and the
manager's team health, the organisation for those who run it."""

from django.shortcuts import render

from dcc import selectors as org
from dcc.policy import can
from dcc.roles import Role
from desk.views.queue import queue_context
from followups import selectors
from kpi.goals import daily_goals

HOME_TEMPLATES = {
    Role.AGENT: "desk/home_agent.html",
    Role.CALLER: "desk/home_agent.html",
    Role.CONSULTANT: "desk/home_agent.html",
    Role.SUPERVISOR: "desk/home_supervisor.html",
    Role.MANAGER: "desk/home_manager.html",
    Role.ADMIN: "desk/home_admin.html",
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


def agent_context(request) -> dict:
    """An agent's or caller's home: the call queue and today's goals."""
    user = request.user
    return {**queue_context(request), "my_goals": daily_goals(agents=[user])[user.pk]}


# What each role's home page shows beyond the organisation: the agent's call
# queue, the team's queue health for supervisors and managers.
HOME_CONTEXT = {
    Role.AGENT: agent_context,
    Role.CALLER: agent_context,
    Role.CONSULTANT: queue_context,
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
