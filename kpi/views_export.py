"""The monthly Excel workbook on the pages: ``/kpi/export/?month=&store=``
downloads a store's workbook (the kept file of a closed month when there is
one, else built now), ``/kpi/exports/`` lists the kept workbooks of the
stores the user may see and (re)generates one.

Who: ``kpi.export`` (supervisor, manager, administrator); anyone else 403.
A store outside the user's stores answers 404, like a store that does not
exist; kept files are read through the storage API and served only here
and by ``kpi.api_export``, never as media.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from dcc.models import Store
from dcc.policy import capability_required, require
from kpi import export
from kpi.limits import report_page
from kpi.metrics import Period

# ---------------------------------------------------------------- access


def export_store(user, store_id: int | None) -> Store:
    """The store whose workbook ``user`` asks for: 403 without ``kpi.export``,
    404 for a store outside their stores (or none given and none of their own)."""
    require(user, "kpi.export")
    store_id = store_id if store_id is not None else user.store_id
    store = Store.objects.visible_to(user).filter(pk=store_id).first() if store_id else None
    if store is None:
        raise Http404("store outside the user's")
    return store


def last_month(today=None) -> Period:
    return Period.current_month(today or timezone.localdate()).previous()


def workbook_response(store: Store, period: Period) -> HttpResponse:
    """The workbook as an attachment: the kept file of a closed month when
    it exists (what was reported on the 1st), else built now."""
    filename = export.download_name(store, period)
    if export.is_closed(period) and export.kept_exists(store, period):
        response = FileResponse(
            export.open_kept(store, period),
            as_attachment=True,
            filename=filename,
            content_type=export.XLSX_CONTENT_TYPE,
        )
    else:
        response = HttpResponse(
            export.build_workbook(store, period), content_type=export.XLSX_CONTENT_TYPE
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
    store = export_store(request.user, _store_id(request.GET.get("store")))
    text = request.GET.get("month")
    try:
        period = Period.parse_month(text) if text else last_month()
    except ValueError:
        return HttpResponseBadRequest(_("Enter a month as YYYY-MM."))
    return workbook_response(store, period)


@capability_required("kpi.export")
@require_http_methods(["GET", "POST"])
@report_page
def kept(request):
    """The kept workbooks of the user's stores, latest first; POST builds
    one (again) for a closed month."""
    stores = list(Store.objects.visible_to(request.user).order_by("code"))
    if request.method == "POST":
        store = export_store(request.user, _store_id(request.POST.get("store")))
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
        },
    )


export_urlpatterns = [
    path("export/", download, name="export"),
    path("exports/", kept, name="exports"),
]
