"""Event pages (issue 18, point 6): the store's events and their guests, an
invitation from the queue (a lead), and the phone-sized check-in list at
the door (search by name or phone, one big button per guest; htmx swaps the
list as the search changes and after each check-in)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from dcc.htmx import is_partial
from dcc.policy import can, capability_required, get_visible_or_404
from followups.campaigns import invitations
from followups.campaigns.models import Campaign
from followups.campaigns.models_outreach import CampaignEvent, EventInvitation, Rsvp
from leads.forms import DateTimeLocalInput, add_service_errors
from leads.models import Lead


class EventForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    starts_at = forms.DateTimeField(label=gettext_lazy("Starts at"), widget=DateTimeLocalInput)
    place = forms.CharField(label=gettext_lazy("Place"), max_length=200)
    capacity = forms.IntegerField(label=gettext_lazy("Capacity"), min_value=1)
    campaign = forms.ModelChoiceField(
        label=gettext_lazy("Campaign"), queryset=Campaign.objects.none(), required=False
    )
    sms_template_id = forms.CharField(
        label=gettext_lazy("Reminder template id"),
        max_length=30,
        required=False,
        help_text=gettext_lazy(
            "The provider's template; parameters in order: name, event, time, place."
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = Campaign.objects.visible_to(user).filter(
            store_id=user.store_id
        )
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-control")


@capability_required("campaigns.events.view")
def event_list(request):
    user = request.user
    form = None
    if can(user, "campaigns.events.manage") and user.store_id:
        form = EventForm(request.POST or None, user=user)
        if request.method == "POST" and form.is_valid():
            try:
                event = invitations.event_create(actor=user, store=user.store, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Event “%(name)s” created.") % {"name": event.name})
                return redirect("campaigns-events:detail", pk=event.pk)
    events = (
        CampaignEvent.objects.visible_to(user)
        .select_related("campaign")
        .annotate(
            coming=Count("invitations", filter=Q(invitations__rsvp=Rsvp.YES)),
            attended=Count("invitations", filter=Q(invitations__checked_in_at__isnull=False)),
        )
        .order_by("-starts_at")[:100]
    )
    return render(request, "campaigns/events.html", {"events": events, "form": form})


@capability_required("campaigns.events.view")
def event_detail(request, pk: int):
    event = get_visible_or_404(
        CampaignEvent.objects.select_related("campaign"), request.user, pk=pk
    )
    guests = (
        EventInvitation.objects.visible_to(request.user)
        .filter(event=event)
        .select_related("customer", "invited_by", "reminder_sms", "lead")
        .order_by("customer__name", "pk")
    )
    return render(
        request,
        "campaigns/event.html",
        {
            "event": event,
            "guests": guests,
            "coming": event.invitations.filter(rsvp=Rsvp.YES).count(),
            "may_check_in": can(request.user, "campaigns.events.checkin"),
        },
    )


@capability_required("campaigns.events.checkin")
def door(request, pk: int):
    """The check-in list at the door: made for a phone."""
    event = get_visible_or_404(CampaignEvent, request.user, pk=pk)
    query = request.GET.get("q") or request.POST.get("q", "")
    guests = invitations.door_list(user=request.user, event=event, query=query)
    context = {
        "event": event,
        "guests": guests[:100],
        "query": query,
        "arrived": event.invitations.filter(checked_in_at__isnull=False).count(),
        "expected": event.invitations.exclude(rsvp=Rsvp.NO).count(),
    }
    template = "campaigns/partials/door_list.html" if is_partial(request) else "campaigns/door.html"
    return render(request, template, context)


@require_POST
@capability_required("campaigns.events.checkin")
def door_check_in(request, pk: int, invitation_pk: int):
    event = get_visible_or_404(CampaignEvent, request.user, pk=pk)
    invitation = get_visible_or_404(EventInvitation, request.user, pk=invitation_pk, event=event)
    invitation = invitations.check_in(actor=request.user, invitation=invitation)
    if not is_partial(request):
        messages.success(request, _("%(name)s checked in.") % {"name": invitation.customer.name})
        return redirect("campaigns-events:door", pk=event.pk)
    return door(request, event.pk)


def invite_posted(request, **who) -> bool:
    """The invitation a posted form asks for (``event``, ``rsvp``) of the
    lead or member in ``who``; whether it was made (else the message says
    why). The one form handler of the queue's and the call list's invite."""
    event = get_visible_or_404(CampaignEvent, request.user, pk=request.POST.get("event") or 0)
    try:
        invitations.invite(
            actor=request.user, event=event, rsvp=request.POST.get("rsvp", ""), **who
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return False
    messages.success(request, _("Invited to %(event)s.") % {"event": event.name})
    return True


@capability_required("campaigns.invite")
def invite_lead(request, lead_pk: int):
    """Invite the customer of a lead (from the queue or the lead page)."""
    lead = get_visible_or_404(Lead.objects.select_related("customer"), request.user, pk=lead_pk)
    events = CampaignEvent.objects.visible_to(request.user).filter(starts_at__gt=timezone.now())
    if request.method == "POST" and invite_posted(request, lead=lead):
        return redirect("desk:lead", pk=lead.pk)
    return render(
        request,
        "campaigns/invite_lead.html",
        {"lead": lead, "events": events.order_by("starts_at")[:50], "rsvps": Rsvp.choices},
    )


app_name = "campaigns-events"

urlpatterns = [
    path("", event_list, name="list"),
    path("<int:pk>/", event_detail, name="detail"),
    path("<int:pk>/door/", door, name="door"),
    path("<int:pk>/door/<int:invitation_pk>/", door_check_in, name="check-in"),
    path("invite/lead/<int:lead_pk>/", invite_lead, name="invite-lead"),
]
