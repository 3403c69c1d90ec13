"""Telephony pages: call-log imports (upload, reports) and the calls list,
where a first-time caller becomes a lead in one click.

Views translate: one form in, one service called, one page out.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Min
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from dcc.htmx import without_blanks
from dcc.policy import Level, can, capability_required, get_visible_or_404, scope_level
from leads.messages import duplicate_message
from leads.services import DuplicateLead
from telephony import callbacks, recordings, services
from telephony.filters import CallFilter
from telephony.forms import CdrUploadForm, RecordingUploadForm
from telephony.models import Call, CallImport, Recording
from telephony.stats import hms

PAGE_SIZE = 25

VIA_LABELS = {
    "upload": gettext_lazy("Upload"),
    "api": gettext_lazy("API"),
    "command": gettext_lazy("Command"),
    "folder": gettext_lazy("Folder"),
}


# ---------------------------------------------------------------- imports


@capability_required("telephony.import")
def imports(request):
    """The upload form and the reports of earlier imports (every path: the
    page, the API, the command, the folder job)."""
    user = request.user
    if request.method == "POST":
        form = CdrUploadForm(request.POST, request.FILES, user=user)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                report = services.import_cdr(
                    actor=user,
                    store=form.cleaned_data["store"],
                    fileobj=upload,
                    file_name=upload.name,
                    source=form.cleaned_data["source"],
                    format=form.cleaned_data["format"],
                    via="upload",
                )
            except services.ImportRejected as error:
                form.add_error("file", str(error))
            except PermissionDenied:
                form.add_error("store", _("You cannot import into this store."))
            else:
                return redirect("telephony:import-detail", pk=report.pk)
    else:
        form = CdrUploadForm(user=user)
    return _imports_page(request, form=form)


def _imports_page(request, *, form=None, recording_form=None, status=200):
    user = request.user
    reports = CallImport.objects.visible_to(user).select_related("started_by", "source")
    page = Paginator(reports, PAGE_SIZE).get_page(request.GET.get("page"))
    for report in page:
        report.via_label = VIA_LABELS.get(report.via, report.via)
    context = {
        "form": form or CdrUploadForm(user=user),
        "recording_form": recording_form or RecordingUploadForm(user=user),
        "outcomes": _outcomes(request),
        "page": page,
    }
    return render(request, "telephony/imports.html", context, status=status)


OUTCOMES_KEY = "telephony.recording_outcomes"


@capability_required("telephony.import")
def recordings_upload(request):
    """Recordings from the browser, one by one: each file is stored whole or
    not at all. Post, redirect, get: what became of each file is kept in the
    session and shown once by the imports page, so a reload re-sends
    nothing (and a GET here, e.g. a reload after the redirect was missed,
    lands on that page instead of 405)."""
    user = request.user
    if request.method != "POST":
        return redirect("telephony:imports")
    form = RecordingUploadForm(request.POST, request.FILES, user=user)
    if not form.is_valid():
        return _imports_page(request, recording_form=form, status=400)
    outcomes = []
    for upload in form.cleaned_data["files"]:
        try:
            added = recordings.recording_add(
                actor=user,
                store=form.cleaned_data["store"],
                file=upload,
                name=upload.name,
                via="upload",
            )
        except ValidationError as error:
            outcomes.append((upload.name, "error", " ".join(error.messages), None))
        else:
            state = "created" if added.created else "duplicate"
            outcomes.append((upload.name, state, "", added.recording.pk))
    request.session[OUTCOMES_KEY] = outcomes
    return redirect(f"{reverse('telephony:imports')}#recording-upload")


def _outcomes(request) -> list:
    """The last upload's outcomes (once), each recording as the user may see it."""
    stored = request.session.pop(OUTCOMES_KEY, None) or []
    ids = [pk for _name, _state, _message, pk in stored if pk]
    found = {r.pk: r for r in Recording.objects.visible_to(request.user).filter(pk__in=ids)}
    return [
        (name, state, message, found.get(pk))
        for name, state, message, pk in stored
        if pk is None or pk in found
    ]


@capability_required("telephony.import")
def import_detail(request, pk):
    report = get_visible_or_404(
        CallImport.objects.select_related("started_by", "source", "store"), request.user, pk=pk
    )
    return render(request, "telephony/import_detail.html", {"report": report})


# ---------------------------------------------------------------- calls


def _seconds(value):
    """Talk time as h:mm:ss (``telephony.stats.hms``)."""
    if value is None:
        return ""
    return hms(value)


DIRECTION_ICONS = {"inbound": "telephone-inbound", "outbound": "telephone-outbound"}
DISPOSITION_STYLES = {"ANSWERED": "success", "NO ANSWER": "warning", "BUSY": "secondary"}


def calls(request):
    """The calls the user may see, newest first, filtered; a caller nobody
    knows yet can become a lead in one click."""
    user = request.user
    query = without_blanks(request.GET)
    queryset = (
        Call.objects.visible_to(user)
        .select_related("agent", "lead__customer")
        .annotate(recording_id=Min("recordings__id"))
        .order_by("-started_at", "-id")
    )
    call_filter = CallFilter(query, queryset=queryset, request=request)
    page = Paginator(call_filter.qs, PAGE_SIZE * 2).get_page(query.get("page"))
    for call in page:
        call.talk = _seconds(call.billsec) if call.answered else ""
        call.icon = DIRECTION_ICONS.get(call.direction, "telephone")
        call.style = DISPOSITION_STYLES.get(call.disposition, "danger")
    base_query = query.copy()
    base_query.pop("page", None)
    form = call_filter.form
    return render(
        request,
        "telephony/calls.html",
        {
            "filter": call_filter,
            "page": page,
            "base_query": base_query.urlencode(),
            "show_agent": scope_level(user) is not Level.OWN,
            "agents": form.fields["agent"].queryset.filter(is_active=True).order_by("username"),
            "directions": form.fields["direction"].choices,
            "dispositions": form.fields["disposition"].choices,
            "can_create_lead": can(user, "leads.create"),
            "can_import": can(user, "telephony.import"),
        },
    )


# ---------------------------------------------------------------- callers


@require_POST
def call_to_lead(request, pk):
    """One click: the caller of an unmatched call becomes a lead."""
    user = request.user
    call = get_visible_or_404(Call.objects.select_related("store"), user, pk=pk)
    if not can(user, "leads.create"):
        raise PermissionDenied("leads.create")
    back = request.POST.get("next") or reverse("telephony:calls")
    try:
        lead = services.lead_from_call(actor=user, call=call)
    except DuplicateLead as error:
        messages.error(request, duplicate_message(error.existing, user))
        return redirect(back)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(back)
    messages.success(
        request,
        _("Lead #%(id)s created from the call. Complete the name and the intended model.")
        % {"id": lead.pk},
    )
    return redirect("desk:lead", pk=lead.pk)


@capability_required("telephony.callbacks.claim")
@require_POST
def claim_callback(request, pk):
    """Take the call back of an unknown number from the store's shared list."""
    back = request.POST.get("next") or reverse("desk:home")
    if not back.startswith("/") or back.startswith("//"):
        back = reverse("desk:home")
    if callbacks.claim(request.user, pk):
        messages.success(request, _("The call back is yours: it is in your missed calls now."))
    else:
        messages.warning(request, _("That missed call is no longer waiting to be taken."))
    return redirect(back)


urlpatterns = [
    path("calls/", calls, name="calls"),
    path("imports/", imports, name="imports"),
    path("imports/<int:pk>/", import_detail, name="import-detail"),
    path("imports/recordings/", recordings_upload, name="recordings-upload"),
    path("calls/<int:pk>/lead/", call_to_lead, name="call-to-lead"),
    path("calls/<int:pk>/callback/", claim_callback, name="callback-claim"),
]
