"""The lead import pages: upload a file, map its unknown columns (saved as
an import profile), follow a large import's progress, the import history
with the rows in error and the undo. Every rule is in ``leads.importer``;
these pages only collect the upload and the choices."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from dcc import audit
from dcc.forms import StoreChoiceMixin
from dcc.policy import can, capability_required, get_visible_or_404
from leads import importer
from leads.api_import import template_response
from leads.import_files import read_bytes
from leads.models import ImportProfile, ImportStatus, LeadField, LeadImport

# The page lists this many errors and duplicates; the counts say how many more.
SHOWN_ROWS = 500
HISTORY_ROWS = 100


class LeadImportForm(StoreChoiceMixin, forms.Form):
    file = forms.FileField(label=_("File (.xlsx, .xls or .csv)"))
    partial = forms.BooleanField(
        label=_("Partial import: create the good rows even if other rows have errors"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    store = StoreChoiceMixin.store_field()

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Only a group administrator picks the store; everyone else imports
        # into the store they work in.
        self.limit_store(user)


def _store_of(form, user):
    return form.cleaned_data.get("store") or user.store


@capability_required("leads.import")
def lead_import(request):
    user = request.user
    result = None
    if request.method == "POST":
        form = LeadImportForm(request.POST, request.FILES, user=user)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            store = _store_of(form, user)
            try:
                if store is None:
                    raise ValidationError({"store": _("Choose the store to import into.")})
                data = read_bytes(upload)
                inspection = importer.inspect_file(data, store=store)
                record = LeadImport(
                    store=store,
                    actor=user,
                    filename=upload.name[:255],
                    status=ImportStatus.PENDING,
                    partial=form.cleaned_data["partial"],
                    profile=inspection.profile,
                    day_first=bool(inspection.profile and inspection.profile.day_first),
                )
                if inspection.unknown or inspection.missing:
                    # The mapping step: the file waits on the server.
                    record.file.save("upload.bin", ContentFile(data), save=False)
                    record.save()
                    return _go(request, reverse("leads:import-map", args=[record.pk]))
                if len(data) > importer.BACKGROUND_BYTES:
                    record = importer.start_import(
                        actor=user,
                        file=ContentFile(data),
                        store=store,
                        partial=record.partial,
                        filename=record.filename,
                        profile=inspection.profile,
                    )
                    return _to_progress(request, record)
                result = importer.lead_import(
                    actor=user,
                    file=ContentFile(data),
                    store=store,
                    partial=form.cleaned_data["partial"],
                    filename=upload.name,
                    profile=inspection.profile,
                )
            except importer.ImportFileError as exc:
                form.add_error("file", str(exc))
            except ValidationError as exc:
                form.add_error("store" if "store" in form.fields else None, exc.messages)
    else:
        form = LeadImportForm(user=user)
    return _render_result(request, form, result)


def _render_result(request, form, result):
    context = {
        "form": form,
        "result": result,
        "shown_rows": SHOWN_ROWS,
        "errors": result.errors[:SHOWN_ROWS] if result else [],
        "duplicates": result.duplicates[:SHOWN_ROWS] if result else [],
    }
    # htmx posts the form and swaps the panel; a plain post renders the page.
    template = "leads/partials/import_panel.html" if request.htmx else "leads/import.html"
    return render(request, template, context)


def _to_progress(request, record):
    return _go(request, reverse("leads:import-detail", args=[record.pk]))


def _go(request, url):
    """A redirect; for htmx, a whole-page one (not swapped into the panel)."""
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _own_pending(request, pk) -> LeadImport:
    record = get_visible_or_404(LeadImport, request.user, pk=pk)
    if record.actor_id != request.user.pk:
        raise PermissionDenied
    return record


FIELD_CHOICES = [(c.value, c.label) for c in LeadField if c.value in importer.MAPPABLE]


@capability_required("leads.import")
def lead_import_map(request, pk):
    """The mapping step: each column with its sample values and the field it
    goes to; the choice may be saved as a named profile of the store."""
    record = _own_pending(request, pk)
    if record.status != ImportStatus.PENDING or not record.file:
        return redirect("leads:import-detail", pk=record.pk)
    with record.file.open("rb") as handle:
        data = handle.read()
    try:
        inspection = importer.inspect_file(data, store=record.store, profile=record.profile)
    except importer.ImportFileError as exc:
        messages.error(request, str(exc))
        return redirect("leads:import")
    problems = []
    if request.method == "POST":
        mapping = {}
        for column in inspection.columns:
            chosen = request.POST.get(f"column-{column.index}", "")
            if chosen not in importer.MAPPABLE:
                problems.append(
                    _("Choose what the column “%(column)s” holds.") % {"column": column.header}
                )
            mapping[column.key] = chosen
            column.field = chosen or None
        mapped = set(mapping.values())
        for column in importer.COLUMNS:
            if column.required and column.field not in mapped:
                problems.append(
                    _("Map a column to “%(field)s”: it is required.")
                    % {"field": LeadField(column.field).label}
                )
        day_first = request.POST.get("day_first") == "on"
        name = request.POST.get("profile_name", "").strip()[:100]
        if not problems:
            profile = None
            if name:
                try:
                    profile = importer.save_profile(
                        actor=request.user,
                        store=record.store,
                        name=name,
                        header=inspection.header,
                        mapping=mapping,
                        day_first=day_first,
                    )
                except ValidationError as exc:
                    problems.extend(exc.messages)
        if not problems:
            return _run_mapped(request, record, data, mapping, day_first, profile)
    day_first = record.day_first
    return render(
        request,
        "leads/import_map.html",
        {
            "record": record,
            "inspection": inspection,
            "choices": FIELD_CHOICES,
            "problems": problems,
            "day_first": day_first,
            "profile_name": request.POST.get("profile_name", "")
            or (inspection.profile.name if inspection.profile else ""),
        },
    )


def _run_mapped(request, record, data, mapping, day_first, profile):
    options = {
        "actor": request.user,
        "file": ContentFile(data),
        "store": record.store,
        "partial": record.partial,
        "filename": record.filename,
        "profile": profile,
        "mapping": mapping,
        "day_first": day_first,
    }
    if len(data) > importer.BACKGROUND_BYTES:
        record.file.delete(save=False)
        record.delete()
        return _to_progress(request, importer.start_import(**options))
    try:
        result = importer.lead_import(**options, record=record)
    except importer.ImportFileError as exc:
        messages.error(request, str(exc))
        return redirect("leads:import")
    finally:
        record.refresh_from_db()
        if record.file:
            record.file.delete(save=False)
            LeadImport.objects.filter(pk=record.pk).update(file="")
    form = LeadImportForm(user=request.user)
    return _render_result(request, form, result)


@capability_required("leads.import")
def lead_import_detail(request, pk):
    record = get_visible_or_404(LeadImport, request.user, pk=pk)
    context = {
        "record": record,
        "can_undo": importer.can_undo(request.user, record),
        "undo_days": importer.UNDO_DAYS,
    }
    if request.htmx and request.GET.get("poll"):
        return render(request, "leads/partials/import_progress.html", context)
    return render(request, "leads/import_detail.html", context)


@require_POST
@capability_required("leads.import")
def lead_import_cancel(request, pk):
    record = get_visible_or_404(LeadImport, request.user, pk=pk)
    importer.request_cancel(actor=request.user, record=record)
    return redirect("leads:import-detail", pk=record.pk)


@require_POST
@capability_required("leads.assign")
def lead_import_undo(request, pk):
    record = get_visible_or_404(LeadImport, request.user, pk=pk)
    try:
        undone = importer.undo_import(actor=request.user, record=record)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _(
                "Import undone: %(removed)d leads removed; %(kept)d kept because someone "
                "worked on them since."
            )
            % {"removed": undone.removed, "kept": len(undone.kept)},
        )
    return redirect("leads:import-detail", pk=record.pk)


@capability_required("leads.import")
def lead_import_errors(request, pk):
    record = get_visible_or_404(LeadImport, request.user, pk=pk)
    audit.record_access(
        "leads.import_errors",
        actor=request.user,
        store=record.store,
        query={"import": record.pk},
        count=len(record.error_rows),
    )
    workbook = importer.error_workbook(record)
    response = HttpResponse(workbook, content_type=importer.XLSX_CONTENT_TYPE)
    stamp = timezone.localtime(record.created_at).strftime("%Y%m%d-%H%M")
    name = f"import-errors-{record.pk}-{stamp}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@capability_required("leads.import")
def lead_import_history(request):
    records = (
        LeadImport.objects.visible_to(request.user)
        .exclude(status=ImportStatus.PENDING)
        .select_related("actor", "profile", "store")[:HISTORY_ROWS]
    )
    profiles = ImportProfile.objects.visible_to(request.user).select_related("store")
    return render(
        request,
        "leads/import_history.html",
        {"records": records, "profiles": profiles, "may_undo": can(request.user, "leads.assign")},
    )


@capability_required("leads.import")
def lead_import_template(request):
    return template_response()
