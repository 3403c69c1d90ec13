"""The owners page (issue 18): the store's base customers and their
vehicles for after-sales staff and managers; flag or recommend an owner;
import a DMS / after-sales file (the lead import's mapping and profiles);
the store's opt-out list."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dcc.htmx import is_partial
from dcc.policy import can, capability_required, get_visible_or_404
from leads import owners, phones
from leads.import_files import ImportFileError, read_bytes
from leads.models import Customer, OptOut, OwnedVehicle, OwnerFlag, OwnerFlagKind

PAGE_SIZE = 50
_STASH = "owner_import_file"


def _store(request):
    if request.user.store is None:
        raise PermissionDenied("owners belong to a store")
    return request.user.store


@capability_required("owners.view")
def owner_list(request):
    vehicles = (
        OwnedVehicle.objects.visible_to(request.user)
        .select_related("customer", "vehicle_model")
        .order_by("-delivered_on", "-pk")
    )
    query = request.GET.get("q", "").strip()
    if query:
        number = phones.try_normalize(query)
        match = (
            Q(customer__name__icontains=query)
            | Q(plate__icontains=query)
            | Q(vin__icontains=query.upper())
        )
        if number:
            match |= Q(customer__phones__number=number)
        vehicles = vehicles.filter(match)
    page = Paginator(vehicles, PAGE_SIZE).get_page(request.GET.get("page"))
    flagged = set(
        OwnerFlag.objects.visible_to(request.user)
        .filter(customer_id__in=[v.customer_id for v in page])
        .values_list("customer_id", flat=True)
    )
    for vehicle in page:
        vehicle.flagged = vehicle.customer_id in flagged
    context = {
        "page": page,
        "q": query,
        "can_flag": can(request.user, "owners.flag"),
        "can_import": can(request.user, "owners.import") and request.user.store_id,
        "flag_kinds": OwnerFlagKind.choices,
    }
    if is_partial(request):
        return render(request, "leads/partials/owner_table.html", context)
    return render(request, "leads/owners.html", context)


@require_POST
@capability_required("owners.flag")
def owner_flag(request, pk):
    customer = get_visible_or_404(Customer, request.user, pk=pk)
    try:
        owners.owner_flag(
            actor=request.user,
            customer=customer,
            kind=request.POST.get("kind", ""),
            note=request.POST.get("note", ""),
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("%(name)s is flagged for the DCC.") % {"name": customer.name})
    return redirect("leads:owners")


def _stash(request, data: bytes) -> str:
    name = default_storage.save(f"owner-imports/{uuid.uuid4().hex}", ContentFile(data))
    request.session[_STASH] = name
    return name


def _stashed(request) -> bytes | None:
    name = request.session.get(_STASH)
    if not name or not default_storage.exists(name):
        return None
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def _forget(request) -> None:
    name = request.session.pop(_STASH, None)
    if name and default_storage.exists(name):
        default_storage.delete(name)


@capability_required("owners.import")
def owner_import(request):
    """Upload → (the mapping when a column is unknown) → import, all or
    nothing, every error with its row and field."""
    store = _store(request)
    result = inspection = None
    problems: list[str] = []
    day_first = request.POST.get("day_first") == "on"
    if request.method == "POST":
        upload = request.FILES.get("file")
        data = read_bytes(upload) if upload else _stashed(request)
        if data is None:
            problems.append(_("Choose a file."))
        else:
            try:
                inspection = owners.inspect_owner_file(data, store=store)
                mapping = None
                if upload is None:  # the mapping step's answer
                    mapping = {
                        c.key: request.POST.get(f"column-{c.index}", "") for c in inspection.columns
                    }
                    for column in inspection.columns:
                        column.field = mapping[column.key] or None
                elif not inspection.unknown and not owners.missing_fields(inspection.columns):
                    mapping = {c.key: c.field for c in inspection.columns}
                    if inspection.profile:
                        day_first = inspection.profile.day_first
                if mapping is None or any(not v for v in mapping.values()):
                    if upload is not None:
                        _stash(request, data)
                    elif mapping is not None:
                        problems.append(_("Choose what each column holds."))
                else:
                    name = request.POST.get("profile_name", "").strip()[:100]
                    if name:
                        owners.save_owner_profile(
                            actor=request.user,
                            store=store,
                            name=name,
                            header=inspection.header,
                            mapping=mapping,
                            day_first=day_first,
                        )
                    result = owners.import_owners(
                        actor=request.user,
                        store=store,
                        data=data,
                        mapping=mapping,
                        day_first=day_first,
                    )
                    if not result.rejected:
                        _forget(request)
                        inspection = None
            except ImportFileError as exc:
                problems.append(str(exc))
                inspection = None
            except ValidationError as exc:
                problems.extend(exc.messages)
    return render(
        request,
        "leads/owner_import.html",
        {
            "inspection": inspection,
            "result": result,
            "problems": problems,
            "choices": owners.OWNER_FIELD_CHOICES,
            "day_first": day_first,
        },
    )


@capability_required("owners.opt_out")
def opt_out_list(request):
    """The store's opt-out list: numbers no campaign messages again."""
    store = _store(request)
    if request.method == "POST":
        added, bad = owners.opt_out_list(
            actor=request.user, store=store, text=request.POST.get("numbers", "")
        )
        messages.success(request, _("%(count)s numbers added to the list.") % {"count": added})
        for raw in bad:
            messages.error(request, _("“%(raw)s” is not a phone number.") % {"raw": raw})
        return redirect("leads:opt-outs")
    rows = OptOut.objects.visible_to(request.user).order_by("-created_at", "-pk")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "leads/opt_outs.html", {"page": page})
