"""The pool page (公海): the store's leads taken from owners who did not work
them in time. Agents and callers claim (under the store's daily cap), a
supervisor gives them to the team, a manager to anyone in the store."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dcc import audit
from dcc.models import User
from dcc.policy import LEAD_OWNER_ROLES, can, capability_required
from followups import pool as pool_rules
from followups.models import FollowupPolicy
from leads import pool
from leads.lifecycle import LeadStateError
from leads.models import Lead

POOL_LIMIT = 200


def _givable_staff(user):
    """Whom ``user`` may give pool leads to: a manager the store's staff who
    own leads, a supervisor their team (and themselves)."""
    staff = User.objects.visible_to(user).active().filter(role__in=LEAD_OWNER_ROLES)
    if not can(user, "leads.assign"):
        staff = staff.filter(team_id=user.team_id) if user.team_id else staff.filter(pk=user.pk)
    return staff.order_by("role", "name", "username")


@capability_required("leads.pool.view")
def pool_page(request):
    user = request.user
    now = timezone.now()
    leads = list(
        Lead.objects.pool_for(user)
        .select_related("customer", "channel", "intended_model", "store")
        .order_by("pooled_at", "id")[:POOL_LIMIT]
    )
    for lead in leads:
        lead.pool_hours = int((now - lead.pooled_at).total_seconds() // 3600)
    audit.record_access(
        "leads.pool", actor=user, query=audit.query_of(request.GET), lead_ids=[x.pk for x in leads]
    )
    context = {"leads": leads, "more": len(leads) == POOL_LIMIT}
    if can(user, "leads.pool.claim") and user.store_id:
        policy = FollowupPolicy.objects.for_store(user.store_id)
        context["claimed_today"] = pool.claims_today(user, now=now)
        context["claim_cap"] = policy.pool_claims_per_day
        context["may_claim"] = context["claimed_today"] < policy.pool_claims_per_day
    if can(user, "leads.pool.redistribute"):
        context["staff"] = list(_givable_staff(user))
    return render(request, "followups/pool.html", context)


@require_POST
@capability_required("leads.pool.claim")
def pool_claim(request, pk: int):
    try:
        lead = pool_rules.claim(actor=request.user, lead_id=pk)
    except LeadStateError as exc:
        messages.warning(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Lead #%(id)s is yours now.") % {"id": lead.pk})
    return redirect(reverse("followups:pool"))


@require_POST
@capability_required("leads.pool.redistribute")
def pool_redistribute(request):
    user = request.user
    owner = _givable_staff(user).filter(pk=request.POST.get("owner") or 0).first()
    ids = sorted({int(value) for value in request.POST.getlist("leads") if value.isdigit()})
    if owner is None or not ids:
        messages.error(request, _("Tick leads and choose who receives them."))
        return redirect(reverse("followups:pool"))
    try:
        given, gone = pool_rules.redistribute(
            actor=user, lead_ids=ids, owner=owner, reason=request.POST.get("reason", "")
        )
    except (ValidationError, PermissionDenied) as exc:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, text)
        return redirect(reverse("followups:pool"))
    messages.success(
        request,
        _("%(count)s leads given to %(name)s.") % {"count": len(given), "name": owner.display_name},
    )
    if gone:
        messages.warning(
            request,
            _("No longer in the pool: %(ids)s") % {"ids": ", ".join(f"#{i}" for i in gone)},
        )
    return redirect(reverse("followups:pool"))
