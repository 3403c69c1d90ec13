"""Campaign pages (issue 18): segments with a live count, campaigns, their
launch, SMS rounds and members with their replies."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dcc.htmx import is_partial
from dcc.policy import can, capability_required, get_visible_or_404
from followups import sms
from followups.campaigns import calls, segments, services
from followups.campaigns.forms import CampaignForm, SegmentForm
from followups.campaigns.models import Campaign, CampaignMember, CampaignStatus, Segment
from followups.models import DeliveryStatus, SmsMessage, SmsReply, SmsStatus
from leads.forms import add_service_errors

PAGE_SIZE = 50


def _store(request):
    return request.user.store


@capability_required("campaigns.view")
def campaign_list(request):
    campaigns = (
        Campaign.objects.visible_to(request.user)
        .select_related("segment", "team")
        .with_member_count()
        .order_by("-created_at", "-pk")
    )
    return render(
        request,
        "campaigns/list.html",
        {
            "campaigns": campaigns,
            "segments": Segment.objects.visible_to(request.user).order_by("name"),
            "can_manage": can(request.user, "campaigns.manage") and request.user.store_id,
        },
    )


def _count(store, form) -> tuple[int | None, list[str]]:
    if not form.is_valid():
        return None, []
    try:
        filters = segments.clean(form.filters())
    except ValidationError:
        return None, []
    return segments.customers(store, filters).count(), segments.describe(filters)


@capability_required("campaigns.manage")
def segment_edit(request, pk=None):
    """Build a segment: the count follows the filters as they change (htmx),
    saved with a name."""
    store = _store(request)
    if store is None:
        messages.error(request, _("Segments belong to a store: sign in as a store's staff."))
        return redirect("campaigns:list")
    segment = get_visible_or_404(Segment, request.user, pk=pk) if pk else None
    if request.method == "POST":
        form = SegmentForm(request.POST)
        if form.is_valid():
            try:
                segment = services.segment_save(
                    actor=request.user,
                    store=store,
                    name=form.cleaned_data["name"],
                    filters=form.filters(),
                    segment=segment,
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
                return redirect("campaigns:list")
    elif segment is not None:
        initial = dict(segment.filters, name=segment.name)
        form = SegmentForm(initial=initial)
        form.is_bound = False
    else:
        form = SegmentForm(request.GET or None)
    bound = form if form.is_bound else SegmentForm(segment.filters if segment else {})
    count, described = _count(store, bound)
    context = {"form": form, "segment": segment, "count": count, "described": described}
    return render(request, "campaigns/segment.html", context)


@capability_required("campaigns.manage")
def segment_count(request):
    """The live count of the segment form's filters (an htmx fragment)."""
    count, described = _count(_store(request), SegmentForm(request.GET))
    return render(
        request, "campaigns/partials/segment_count.html", {"count": count, "described": described}
    )


@capability_required("campaigns.manage")
def campaign_edit(request, pk=None):
    store = _store(request)
    campaign = get_visible_or_404(Campaign, request.user, pk=pk) if pk else None
    if campaign is None and store is None:
        messages.error(request, _("Campaigns belong to a store: sign in as a store's staff."))
        return redirect("campaigns:list")
    store = campaign.store if campaign else store
    form = CampaignForm(request.POST or None, instance=campaign, store=store)
    if request.method == "POST" and form.is_valid():
        instance = form.save(commit=False)
        instance.store = store
        instance.sms_params = form.cleaned_data["sms_params_text"]
        try:
            instance = services.campaign_save(
                actor=request.user,
                campaign=instance,
                promoted_models=form.cleaned_data["promoted_models"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Campaign saved."))
            return redirect("campaigns:detail", pk=instance.pk)
    return render(request, "campaigns/edit.html", {"form": form, "campaign": campaign})


def round_rows(campaign):
    """Each round with its messages' figures (one query per round)."""
    rows = []
    for round_ in campaign.rounds.order_by("number"):
        figures = SmsMessage.objects.filter(batch=services.batch_name(round_)).aggregate(
            total=Count("pk"),
            pending=Count("pk", filter=Q(status__in=[SmsStatus.PENDING, SmsStatus.SENDING])),
            sent=Count("pk", filter=Q(status=SmsStatus.SENT)),
            failed=Count("pk", filter=Q(status__in=[SmsStatus.FAILED, SmsStatus.UNCERTAIN])),
            delivered=Count("pk", filter=Q(delivery_status=DeliveryStatus.DELIVERED)),
        )
        rows.append({"round": round_, **figures})
    return rows


@capability_required("campaigns.view")
def campaign_detail(request, pk):
    campaign = get_visible_or_404(
        Campaign.objects.select_related("segment", "team", "store"), request.user, pk=pk
    )
    members = campaign.members.select_related(
        "customer", "vehicle__vehicle_model", "sms", "caller"
    ).order_by("pk")
    show = request.GET.get("show", "all")
    if show == "replied":
        members = members.filter(replied_at__isnull=False)
    elif show == "opted_out":
        members = members.filter(opted_out_at__isnull=False)
    page = Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))
    figures = campaign.members.aggregate(
        total=Count("pk"),
        replied=Count("pk", filter=Q(replied_at__isnull=False)),
        opted_out=Count("pk", filter=Q(opted_out_at__isnull=False)),
    )
    count = None
    if campaign.status == CampaignStatus.DRAFT and campaign.segment_id:
        count = segments.customers(campaign.store, campaign.segment.filters).count()
    context = {
        "campaign": campaign,
        "page": page,
        "show": show,
        "figures": figures,
        "rounds": round_rows(campaign),
        "segment_count": count,
        "described": segments.describe(campaign.segment.filters) if campaign.segment_id else [],
        "params": [services.PARAM_SOURCES.get(p, p) for p in campaign.sms_params],
        "can_manage": can(request.user, "campaigns.manage"),
    }
    if is_partial(request):
        return render(request, "campaigns/partials/members.html", context)
    return render(request, "campaigns/detail.html", context)


def _act(request, pk, action, done_message):
    campaign = get_visible_or_404(Campaign, request.user, pk=pk)
    try:
        action(actor=request.user, campaign=campaign)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, done_message)
    return redirect("campaigns:detail", pk=pk)


@require_POST
@capability_required("campaigns.manage")
def campaign_launch(request, pk):
    return _act(
        request, pk, services.campaign_launch, _("Launched: the first SMS round is on its way.")
    )


@require_POST
@capability_required("campaigns.manage")
def round_new(request, pk):
    return _act(request, pk, services.round_plan, _("A new SMS round is on its way."))


@require_POST
@capability_required("campaigns.manage")
def call_group(request, pk):
    """The members a manager ticked on the campaign page go on the callers'
    lists now (the "chosen group" call target, or extra calls in any)."""
    campaign = get_visible_or_404(Campaign, request.user, pk=pk)
    ids = [int(value) for value in request.POST.getlist("member") if value.isdigit()]
    if not ids:
        messages.error(request, _("Tick the members to call first."))
        return redirect("campaigns:detail", pk=pk)
    try:
        result = calls.call_group(actor=request.user, campaign=campaign, member_ids=ids)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        if not result.callers:
            messages.error(request, _("The campaign's team has no agents or callers to call."))
        else:
            messages.success(
                request,
                _("%(count)s members put on the call lists of %(callers)s callers.")
                % {"count": result.added, "callers": result.callers},
            )
    return redirect("campaigns:detail", pk=pk)


@require_POST
@capability_required("campaigns.manage")
def campaign_close(request, pk):
    return _act(request, pk, services.campaign_close, _("Campaign closed."))


@capability_required("campaigns.view")
def member_detail(request, pk, member_pk):
    """One member: their vehicle, the round messages and every reply."""
    campaign = get_visible_or_404(Campaign, request.user, pk=pk)
    member = get_visible_or_404(
        CampaignMember.objects.filter(campaign=campaign).select_related(
            "customer", "vehicle__vehicle_model", "caller", "lead"
        ),
        request.user,
        pk=member_pk,
    )
    prefix = f"campaign:{campaign.pk}:round:"
    suffix = f":member:{member.pk}"
    sent = [
        m
        for m in SmsMessage.objects.filter(
            batch__startswith=prefix, phone=member.phone, store_id=campaign.store_id
        ).order_by("created_at")
        if m.idempotency_key.endswith(suffix)
    ]
    for message in sent:
        message.preview = sms.preview(message)
    replies = SmsReply.objects.filter(store_id=campaign.store_id, phone=member.phone)
    if campaign.launched_at:
        replies = replies.filter(received_at__gte=campaign.launched_at)
    return render(
        request,
        "campaigns/member.html",
        {
            "campaign": campaign,
            "member": member,
            "sent": sent,
            "replies": replies.order_by("received_at"),
        },
    )
