import logging

from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.http import Http404, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from dcc import audit, selectors
from dcc.celery import broker_reachable
from dcc.models import AuditEvent, Store, Team, User
from dcc.policy import capability_required, get_visible_or_404

logger = logging.getLogger(__name__)

ACCESS_LOG_PAGE_SIZE = 50
# What each kind of logged access was (dcc.audit.record_access callers).
ACCESS_KINDS = {
    "leads.list": _("Lead list page"),
    "leads.api_list": _("Lead list (API)"),
    "kpi.drill": _("KPI drill-down"),
    "kpi.workbook": _("KPI workbook"),
}


def account(request):
    """The signed-in person's own account: name, username, role, store and
    team. The smallest page in the layout, and so the floor the benchmarks
    measure the working pages against (tests/bench)."""
    return render(request, "dcc/account.html")


@capability_required("org.directory.view")
def directory(request):
    teams, unassigned = selectors.directory_for(user=request.user)
    return render(request, "dcc/directory.html", {"teams": teams, "unassigned": unassigned})


@capability_required("org.directory.view")
def team_detail(request, pk):
    team = get_visible_or_404(Team, request.user, pk=pk)
    members = User.objects.visible_to(request.user).filter(team=team).order_by("-is_active", "name")
    return render(request, "dcc/team_detail.html", {"team": team, "members": members})


@capability_required("org.access_log.view")
def access_log(request):
    """Who exported or bulk-viewed which leads, latest first: a manager's
    store (the policy's scope of ``AuditEvent``), every store for the
    group administrator."""
    events = (
        AuditEvent.objects.visible_to(request.user)
        .filter(name__startswith=audit.ACCESS_PREFIX)
        .select_related("actor", "store")
    )
    page = Paginator(events, ACCESS_LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = []
    for event in page.object_list:
        kind = event.name.removeprefix(audit.ACCESS_PREFIX)
        data = event.data or {}
        query = data.get("query") or {}
        rows.append(
            {
                "event": event,
                "kind": ACCESS_KINDS.get(kind, kind),
                "query": " ".join(f"{key}={value}" for key, value in query.items()),
                "count": data.get("count", 0),
                "lead_ids": data.get("lead_ids", []),
                "truncated": data.get("ids_truncated", False),
            }
        )
    return render(request, "dcc/access_log.html", {"page": page, "rows": rows})


@login_not_required
@never_cache
def healthz(request):
    """For the container healthcheck, load balancers and monitoring: the
    database and the Celery broker answer (200), else 503 naming which did
    not. With the broker down writes still succeed (their tasks wait in the
    database for the sweep), but nothing is sent until it is back."""
    checks = {"database": _database_ok(), "broker": broker_reachable()}
    healthy = all(checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        **{name: "ok" if ok else "down" for name, ok in checks.items()},
        "time": timezone.now().isoformat(),
    }
    return JsonResponse(body, status=200 if healthy else 503)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.warning("database unreachable", exc_info=True)
        return False
    return True


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


# ---------------------------------------------------------------- error pages

ERRORS = {
    403: (
        _("Not allowed"),
        _("Your role may not open this page or do this. Ask your supervisor if you need it."),
    ),
    404: (
        _("Page not found"),
        _(
            "This page does not exist, or it is not yours to see "
            "(another agent's lead, another store)."
        ),
    ),
    500: (
        _("Something went wrong"),
        _("The error has been logged. Try again in a moment; nothing half-done was saved."),
    ),
}


def _back_url(request) -> str | None:
    """The page the user came from, when it is one of ours and not this one."""
    referer = request.META.get("HTTP_REFERER", "")
    if not referer or referer.endswith(request.get_full_path()):
        return None
    allowed = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return referer if allowed else None


def _error(request, status: int) -> HttpResponse:
    """403, 404 and 500 in the layout, in the user's language, with a way
    back (issue 13 point 9)."""
    title, text = ERRORS[status]
    context = {
        "error_status": status,
        "error_title": title,
        "error_text": text,
        "back_url": _back_url(request),
    }
    try:
        return render(request, f"{status}.html", context, status=status)
    except Exception:  # the layout itself failing must not hide the error
        if status != 500:
            raise
        logger.exception("the 500 page could not be rendered in the layout")
        return HttpResponseServerError(f"<h1>500</h1><p>{text}</p><p><a href='/'>DCC</a></p>")


def permission_denied(request, exception=None):
    return _error(request, 403)


def page_not_found(request, exception=None):
    return _error(request, 404)


def server_error(request):
    return _error(request, 500)
