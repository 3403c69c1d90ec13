from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache

from dcc import selectors
from dcc.models import Store, Team, User
from dcc.policy import can, capability_required, get_visible_or_404
from dcc.roles import Role

HOME_TEMPLATES = {
    Role.AGENT: "dcc/home_agent.html",
    Role.CALLER: "dcc/home_agent.html",
    Role.CONSULTANT: "dcc/home_agent.html",
    Role.SUPERVISOR: "dcc/home_supervisor.html",
    Role.MANAGER: "dcc/home_manager.html",
    Role.ADMIN: "dcc/home_admin.html",
}


# What each role's home page shows beyond the organisation, provided by the
# apps (dcc knows them by name only): the agent's call queue, the team's
# queue health for supervisors and managers.
HOME_CONTEXT = {
    Role.AGENT: "followups.views.queue_context",
    Role.CALLER: "followups.views.queue_context",
    Role.CONSULTANT: "followups.views.queue_context",
    Role.SUPERVISOR: "followups.views.team_context",
    Role.MANAGER: "followups.views.team_context",
}


def home(request):
    """Each role lands on its own page: the agent's call queue, the
    supervisor's team health, the manager's store."""
    user = request.user
    context = {"role": user.effective_role}
    provider = HOME_CONTEXT.get(user.effective_role)
    if provider:
        context.update(import_string(provider)(request))
    if user.effective_role in (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN):
        context["teams"], context["unassigned"] = selectors.directory_for(user=user)
    if user.effective_role in (Role.MANAGER, Role.ADMIN):
        context["stores"] = selectors.stores_overview_for(user=user)
    if can(user, "org.admin_site"):
        context["heartbeats"] = selectors.heartbeats()
    return render(request, HOME_TEMPLATES[user.effective_role], context)


@capability_required("org.directory.view")
def directory(request):
    teams, unassigned = selectors.directory_for(user=request.user)
    return render(request, "dcc/directory.html", {"teams": teams, "unassigned": unassigned})


@capability_required("org.directory.view")
def team_detail(request, pk):
    team = get_visible_or_404(Team, request.user, pk=pk)
    members = User.objects.visible_to(request.user).filter(team=team).order_by("-is_active", "name")
    return render(request, "dcc/team_detail.html", {"team": team, "members": members})


@login_not_required
@never_cache
def healthz(request):
    """For the container healthcheck and load balancers: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "time": timezone.now().isoformat()})


def chosen_store(request) -> tuple[Store, list[Store]]:
    """The store a store-settings page is about, and the active stores the
    user may pick from: the ``store`` asked for (form, then query string),
    else the user's own, else the first they may see. 404 for a store
    outside theirs, or when they may see none."""
    stores = list(Store.objects.visible_to(request.user).filter(is_active=True).order_by("code"))
    wanted = request.POST.get("store") or request.GET.get("store") or request.user.store_id
    if wanted:
        store = next((s for s in stores if str(s.pk) == str(wanted)), None)
        if store is None:
            raise Http404("store outside the user's scope")
    else:
        store = stores[0] if stores else None
    if store is None:
        raise Http404("no store")
    return store, stores
