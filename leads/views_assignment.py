"""The sales manager's assignment page (DESIGN §1 "manager"): unassigned leads
with their deadlines and bulk assignment, who is in today, transfers
(低意向移交) and re-activation of defeated leads (激活战败意向)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, Count, F, IntegerField, Value, When
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dcc.htmx import is_partial
from dcc.models import Absence, Store, User
from dcc.policy import capability_required, get_visible_or_404
from leads import selectors, services
from leads.forms import (
    DCC_ROLES,
    ActivateManyForm,
    BulkAssignForm,
    DefeatDecisionForm,
    TransferForm,
    add_service_errors,
)
from leads.lifecycle import LeadStateError
from leads.models import Lead, Source, Status

# The assignment page lists at most this many rows per section; a store with
# more unassigned leads than this has a bigger problem than paging.
SECTION_LIMIT = 200


def _assignment_store(request) -> Store:
    """The manager's store; a group administrator picks one (``?store=``)."""
    user = request.user
    if user.store_id:
        return user.store
    stores = Store.objects.visible_to(user).filter(is_active=True)
    chosen = request.POST.get("store") or request.GET.get("store") or ""
    store = stores.filter(pk=chosen).first() if chosen.isdigit() else None
    store = store or stores.first()
    if store is None:
        raise Http404("no store")
    return store


def _limited(queryset) -> tuple[list, bool]:
    rows = list(queryset[: SECTION_LIMIT + 1])
    return rows[:SECTION_LIMIT], len(rows) > SECTION_LIMIT


def _dcc_staff(user, store) -> list[User]:
    """The store's active agents and callers, with today's absence and their
    open-lead workload (round robin starts with the lightest)."""
    staff = list(
        User.objects.visible_to(user)
        .active()
        .filter(store=store, role__in=DCC_ROLES)
        .select_related("team")
        .order_by("team__name", "role", "name", "username")
    )
    absent = set(
        Absence.objects.visible_to(user)
        .filter(staff__in=staff, date=timezone.localdate())
        .values_list("staff_id", flat=True)
    )
    workload = dict(
        Lead.objects.visible_to(user)
        .open()
        .filter(owner__in=staff)
        .values_list("owner")
        .annotate(n=Count("id"))
        .values_list("owner", "n")
    )
    for person in staff:
        person.absent_today = person.pk in absent
        person.open_leads = workload.get(person.pk, 0)
    return staff


def _unassigned_context(request, store, form=None, result=None) -> dict:
    user = request.user
    leads, more = _limited(
        selectors.leads_for(user=user)
        .filter(store=store)
        .open()
        .unassigned()
        .annotate(
            manufacturer_first=Case(
                When(source=Source.MANUFACTURER, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by(
            "manufacturer_first", F("first_contact_due").asc(nulls_last=True), "received_at", "id"
        )
    )
    form = form or BulkAssignForm(store=store, user=user)
    staff = _dcc_staff(user, store)
    chosen = set()
    if form.is_bound:
        chosen = {int(pk) for pk in form.data.getlist("owners") if pk.isdigit()}
    ticked = set(form.cleaned_data.get("leads", [])) if form.is_bound and result is None else set()
    return {
        "store": store,
        "unassigned": leads,
        "unassigned_more": more,
        "bulk_form": form,
        "staff": staff,
        "chosen_owners": chosen,
        "ticked_leads": ticked,
        "bulk_result": result,
        "now": timezone.now(),
    }


def _defeats_context(request, store, form=None, activation=None) -> dict:
    user = request.user
    scoped = selectors.leads_for(user=user).filter(store=store)
    defeated, more = _limited(
        scoped.filter(status=Status.DEFEATED)
        .select_related("defeat_reason")
        .order_by("-defeated_at", "-id")
    )
    pending = list(
        scoped.filter(status=Status.DEFEAT_PENDING)
        .select_related("defeat_reason", "defeat_requested_by")
        .order_by("updated_at", "id")
    )
    return {
        "store": store,
        "defeated": defeated,
        "defeated_more": more,
        "pending": pending,
        "activate_form": form or ActivateManyForm(store=store, user=user),
        "activation": activation,
    }


def _transfer_context(request, store, form=None, moved=None, from_staff=None) -> dict:
    form = form or TransferForm(store=store, user=request.user)
    return {
        "store": store,
        "transfer_form": form,
        "transfer_leads": _transferable(request.user, from_staff) if from_staff else None,
        "moved": moved,
    }


def _transferable(user, from_staff: User) -> list[Lead]:
    """What ``services.leads_transfer`` moves: open or defeated leads."""
    return list(
        selectors.leads_for(user=user)
        .filter(owner=from_staff)
        .transferable()
        .order_by("-received_at", "-id")
    )


def _section(request, template: str, context: dict):
    """An htmx post gets its section back; a plain post goes back to the page."""
    if is_partial(request):
        return render(request, template, {**context, "partial": True})
    return redirect(_assignment_url(context["store"], request.user))


def _assignment_url(store, user) -> str:
    url = reverse("leads:assignment")
    return url if user.store_id else f"{url}?store={store.pk}"


@capability_required("leads.assign")
def assignment(request):
    store = _assignment_store(request)
    context = {
        **_unassigned_context(request, store),
        **_transfer_context(request, store),
        **_defeats_context(request, store),
        "stores": None if request.user.store_id else Store.objects.visible_to(request.user),
    }
    return render(request, "leads/assignment.html", context)


@require_POST
@capability_required("leads.assign")
def assignment_bulk(request):
    """Section a: ticked unassigned leads to one person or round robin."""
    store = _assignment_store(request)
    form = BulkAssignForm(request.POST, store=store, user=request.user)
    result = None
    if form.is_valid():
        try:
            result = services.leads_bulk_assign(
                actor=request.user,
                lead_ids=form.cleaned_data["leads"],
                owners=list(form.cleaned_data["owners"]),
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
    if result is None:
        context = _unassigned_context(request, store, form=form)
    else:
        names = {person.pk: person.display_name for person in form.cleaned_data["owners"]}
        result.by_owner = [(names.get(pk, f"#{pk}"), ids) for pk, ids in result.assigned.items()]
        result.staff_skipped = [(names.get(pk, f"#{pk}"), why) for pk, why in result.skipped_staff]
        if not is_partial(request):
            messages.success(request, _("%(count)s leads assigned.") % {"count": result.count})
        # A fresh form for the next batch, keeping the people and the reason.
        fresh = BulkAssignForm(
            initial={
                "owners": form.cleaned_data["owners"],
                "mode": form.cleaned_data["mode"],
                "reason": form.cleaned_data["reason"],
            },
            store=store,
            user=request.user,
        )
        context = _unassigned_context(request, store, form=fresh, result=result)
        context["chosen_owners"] = set(names)
    return _section(request, "leads/partials/assign_unassigned.html", context)


@require_POST
@capability_required("leads.assign")
def assignment_absence(request, pk):
    """Section b: today's absence toggle; round robin skips the absent."""
    staff = get_object_or_404(User.objects.visible_to(request.user).active(), pk=pk)
    absent = request.POST.get("absent") == "1"
    services.staff_set_absent(
        actor=request.user, staff=staff, day=timezone.localdate(), absent=absent
    )
    if not is_partial(request):
        return redirect(_assignment_url(staff.store, request.user))
    staff.absent_today = absent
    staff.open_leads = Lead.objects.visible_to(request.user).open().filter(owner=staff).count()
    return render(request, "leads/partials/assign_staff_row.html", {"person": staff, "oob": True})


@capability_required("leads.assign")
def assignment_transfer(request):
    """Section c: GET ``?from_staff=`` lists that person's transferable leads
    (all ticked); POST moves the ticked ones (低意向移交 from a consultant)."""
    store = _assignment_store(request)
    user = request.user
    if request.method != "POST":
        from_staff = None
        pk = request.GET.get("from_staff", "")
        if pk.isdigit():
            from_staff = get_object_or_404(User.objects.visible_to(user).filter(store=store), pk=pk)
        return render(
            request,
            "leads/partials/assign_transfer_leads.html",
            {"transfer_leads": _transferable(user, from_staff) if from_staff else None},
        )
    form = TransferForm(request.POST, store=store, user=user)
    moved = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            moved = services.leads_transfer(
                actor=user,
                from_staff=data["from_staff"],
                to_staff=data["to_staff"],
                reason=data["reason"],
                lead_ids=data["leads"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except LeadStateError as exc:
            form.add_error(None, str(exc))
    from_staff = form.cleaned_data.get("from_staff") if hasattr(form, "cleaned_data") else None
    if moved is not None:
        form = TransferForm(
            initial={"from_staff": from_staff, "to_staff": form.cleaned_data["to_staff"]},
            store=store,
            user=user,
        )
        if not is_partial(request):
            messages.success(request, _("%(count)s leads transferred.") % {"count": len(moved)})
    return _section(
        request,
        "leads/partials/assign_transfer.html",
        _transfer_context(request, store, form=form, moved=moved, from_staff=from_staff),
    )


@require_POST
@capability_required("leads.assign")
def assignment_activate(request):
    """Section d: re-activate the ticked defeated leads (激活战败意向), each on
    its own; what fails is reported per lead and the rest go through."""
    store = _assignment_store(request)
    user = request.user
    form = ActivateManyForm(request.POST, store=store, user=user)
    activation = None
    if form.is_valid():
        ids = form.cleaned_data["leads"]
        if not ids:
            form.add_error("leads", _("Tick at least one lead."))
        else:
            activation = _activate_each(user, store, ids, form)
    if activation is not None and not form.errors:
        form = None
        if not is_partial(request):
            messages.success(
                request,
                _("%(count)s leads re-activated.") % {"count": len(activation["done"])},
            )
            for lead_id, why in activation["failed"]:
                messages.error(request, f"#{lead_id}: {why}")
    return _section(
        request,
        "leads/partials/assign_defeats.html",
        _defeats_context(request, store, form=form, activation=activation),
    )


def _activate_each(user, store, ids: list[int], form) -> dict:
    leads = {
        lead.pk: lead
        for lead in Lead.objects.visible_to(user).filter(store=store, pk__in=ids).order_by("id")
    }
    done, failed = [], []
    for lead_id in ids:
        lead = leads.get(lead_id)
        if lead is None:
            failed.append((lead_id, _("not found")))
            continue
        try:
            services.lead_activate(
                actor=user,
                lead=lead,
                owner=form.cleaned_data["owner"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            if "reason" in getattr(exc, "error_dict", {}):
                add_service_errors(form, exc)  # the same for every lead: say it once
                break
            failed.append((lead_id, " ".join(exc.messages)))
        except (LeadStateError, PermissionDenied) as exc:
            failed.append((lead_id, str(exc) or _("not allowed")))
        else:
            done.append(lead_id)
    return {"done": done, "failed": failed, "owner": form.cleaned_data["owner"]}


@require_POST
@capability_required("leads.assign")
def assignment_defeat_decision(request, pk):
    """Section d: approve or reject one pending defeat request."""
    lead = get_visible_or_404(Lead, request.user, pk=pk)
    store = _assignment_store(request)
    form = DefeatDecisionForm(request.POST)
    if form.is_valid():
        try:
            if form.cleaned_data["decision"] == DefeatDecisionForm.APPROVE:
                services.lead_defeat_approve(actor=request.user, lead=lead)
                messages.success(request, _("Defeat of lead #%(id)s approved.") % {"id": lead.pk})
            else:
                services.lead_defeat_reject(
                    actor=request.user, lead=lead, note=form.cleaned_data["note"]
                )
                messages.success(request, _("Defeat of lead #%(id)s rejected.") % {"id": lead.pk})
        except LeadStateError as exc:
            messages.error(request, str(exc))
    else:
        messages.error(request, _("Choose approve or reject."))
    return _section(request, "leads/partials/assign_defeats.html", _defeats_context(request, store))
