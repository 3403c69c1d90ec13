"""A caller working a campaign's call list (issue 18, point 5): the list is a
section of their home page (``queue_context``); one member at a time shows
the campaign's script, the customer's vehicle and earlier calls, with one
button per outcome and an event invitation. Logging a call opens the next
member of the list."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dcc.policy import capability_required, get_visible_or_404
from followups.campaigns import calls
from followups.campaigns.models import CampaignMember
from followups.campaigns.models_outreach import CallResult, CampaignEvent, Rsvp
from followups.campaigns.views_events import invite_posted


def _member(request, pk: int) -> CampaignMember:
    return get_visible_or_404(
        CampaignMember.objects.select_related(
            "campaign", "customer", "vehicle", "vehicle__vehicle_model", "lead"
        ),
        request.user,
        pk=pk,
        caller=request.user,
    )


@capability_required("campaigns.call")
def call_list(request):
    """The caller's whole campaign list (the home page shows its first rows)."""
    rows = list(calls.open_calls_for(request.user)[:200])
    return render(request, "desk/campaign_calls.html", {"rows": rows})


@capability_required("campaigns.call")
def call_member(request, pk: int):
    member = _member(request, pk)
    now = timezone.now()
    events = CampaignEvent.objects.visible_to(request.user).filter(starts_at__gt=now)
    if member.campaign_id:
        events = events.order_by("starts_at")
    context = {
        "member": member,
        "campaign": member.campaign,
        "history": list(member.calls.select_related("caller").order_by("-called_at")),
        "outcomes": CallResult.choices,
        "events": list(events[:20]),
        "rsvps": Rsvp.choices,
        "invitations": list(member.invitations.select_related("event")),
        "open": not member.call_outcome,
    }
    return render(request, "desk/campaign_call.html", context)


@require_POST
@capability_required("campaigns.call")
def call_log(request, pk: int):
    member = _member(request, pk)
    try:
        call = calls.call_record(
            actor=request.user,
            member=member,
            outcome=request.POST.get("outcome", ""),
            note=request.POST.get("note", "")[:2000],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("desk:campaign-call", pk=member.pk)
    messages.success(
        request,
        _("%(name)s: %(outcome)s.")
        % {"name": member.customer.name, "outcome": call.get_outcome_display()},
    )
    upcoming = calls.open_calls_for(request.user).exclude(pk=member.pk).first()
    if upcoming is None:
        return redirect("desk:campaign-calls")
    return redirect("desk:campaign-call", pk=upcoming.pk)


@require_POST
@capability_required("campaigns.invite")
def call_invite(request, pk: int):
    member = _member(request, pk)
    invite_posted(request, member=member)
    return redirect("desk:campaign-call", pk=member.pk)


campaign_call_urlpatterns = [
    path("followups/campaign-calls/", call_list, name="campaign-calls"),
    path("followups/campaign-calls/<int:pk>/", call_member, name="campaign-call"),
    path("followups/campaign-calls/<int:pk>/log/", call_log, name="campaign-call-log"),
    path("followups/campaign-calls/<int:pk>/invite/", call_invite, name="campaign-call-invite"),
]
