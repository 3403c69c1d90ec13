"""The monthly Excel workbook on the pages: ``/kpi/export/?month=&store=``
downloads a store's workbook (the kept file of a closed month when there is
one, else built now), ``/kpi/exports/`` lists the kept workbooks of the
stores the user may see and (re)generates one.

Who: ``kpi.export`` (supervisor, manager, administrator); anyone else 403.
A store outside the user's stores answers 404, like a store that does not
exist; kept files are read through the storage API and served only here
and by ``kpi.api_export``, never as media.

What: only what the reader may see on the KPI pages (``ExportScope``). A
manager or an administrator gets the store's workbook (the kept file of a
closed month when there is one). A supervisor gets their team's workbook,
always built on request: the KPI pages offer a supervisor their team and
its members, never the store, so neither the store summary nor another
team's row, pay or agents; a kept file (the whole store) is never served to
them, and keeping one is a store-level act (403). A supervisor without a
team has no workbook (404). Each download is logged
(``dcc.audit.record_access``): who took which store's or team's figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from dcc import audit
from dcc.models import Store, Team
from dcc.policy import Level, capability_required, require, scope_level
from kpi import export
from kpi.limits import report_page
from kpi.metrics import Period

# ---------------------------------------------------------------- access


@dataclass(frozen=True)
class ExportScope:
    """The workbook a user may take: the store's (``team`` None) or one team's."""

    store: Store
    team: Team | None = None


def export_scope(user, store_id: int | None) -> ExportScope:
    """The workbook ``user`` asks for: 403 without ``kpi.export``, 404 for a
    store outside their stores (or none given and none of their own). A
    supervisor's is their team's (the module doc); 404 without a team in
    that store."""
    require(user, "kpi.export")
    store_id = store_id if store_id is not None else user.store_id
    store = Store.objects.visible_to(user).filter(pk=store_id).first() if store_id else None
    if store is None:
        raise Http404("store outside the user's")
    if scope_level(user) in (Level.STORE, Level.ALL):
        return ExportScope(store)
    team = Team.objects.filter(pk=user.team_id, store=store).first() if user.team_id else None
    if team is None:
        raise Http404("no team of the user's in this store")
    return ExportScope(store, team)


def last_month(today=None) -> Period:
    return Period.current_month(today or timezone.localdate()).previous()


def workbook_response(user, scope: ExportScope, period: Period) -> HttpResponse:
    """The workbook as an attachment: for the store, the kept file of a
    closed month when it exists (what was reported on the 1st), else built
    now; a team's always built now. The download is logged."""
    store, team = scope.store, scope.team
    filename = export.download_name(store, period, team=team)
    audit.record_access(
        "kpi.workbook",
        actor=user,
        store=store,
        query={"store": store.pk, "team": team and team.pk, "month": str(period.month_label)},
    )
    if team is None and export.is_closed(period) and export.kept_exists(store, period):
        response = FileResponse(
            export.open_kept(store, period),
            as_attachment=True,
            filename=filename,
            content_type=export.XLSX_CONTENT_TYPE,
        )
    else:
        response = HttpResponse(
            export.build_workbook(store, period, team=team),
            content_type=export.XLSX_CONTENT_TYPE,
        )
        response["Content-Disposition"] = content_disposition_header(True, filename)
    # A store's figures and staff names: not for shared caches.
    response["Cache-Control"] = "private, no-store"
    return response


def _store_id(text: str | None) -> int | None:
    if not text:
        return None
    if not text.isdigit():
        raise Http404("no such store")
    return int(text)


# ---------------------------------------------------------------- pages


@capability_required("kpi.export")
@report_page
def download(request):
    scope = export_scope(request.user, _store_id(request.GET.get("store")))
    text = request.GET.get("month")
    try:
        period = Period.parse_month(text) if text else last_month()
    except ValueError:
        return HttpResponseBadRequest(_("Enter a month as YYYY-MM."))
    return workbook_response(request.user, scope, period)


@capability_required("kpi.export")
@require_http_methods(["GET", "POST"])
@report_page
def kept(request):
    """The kept workbooks of the user's stores, latest first; POST builds
    one (again) for a closed month."""
    stores = list(Store.objects.visible_to(request.user).order_by("code"))
    if request.method == "POST":
        scope = export_scope(request.user, _store_id(request.POST.get("store")))
        if scope.team is not None:
            raise PermissionDenied("keeping a store's workbook is a store-level act")
        store = scope.store
        try:
            period = Period.parse_month(request.POST.get("month", ""))
        except ValueError:
            messages.error(request, _("Enter a month as YYYY-MM."))
            return redirect(reverse("kpi:exports"))
        if not export.is_closed(period):
            messages.error(request, _("Only a month that has ended is kept."))
            return redirect(reverse("kpi:exports"))
        export.generate_monthly(store, period)
        messages.success(
            request,
            _("The workbook of %(store)s for %(month)s is kept.")
            % {"store": store, "month": period.month_label},
        )
        return redirect(reverse("kpi:exports"))
    rows = [kept for store in stores for kept in export.kept_months(store)]
    return render(
        request,
        "kpi/exports.html",
        {
            "stores": stores,
            "kept": rows,
            "default_store": request.user.store_id or (stores[0].pk if stores else None),
            "default_month": last_month().month_label,
            # A supervisor downloads their team's workbook; keeping is the store's.
            "may_keep": scope_level(request.user) in (Level.STORE, Level.ALL),
        },
    )


export_urlpatterns = [
    path("export/", download, name="export"),
    path("exports/", kept, name="exports"),
]
