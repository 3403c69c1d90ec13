"""Follow-up pages: the first-contact distribution, the breach list, the SMS
outbox and the store rules. (The call queue, the visits list and the actions
on a visit are working screens: ``desk.views``.)

Views translate: one form in, one service called, one page or fragment out.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from dcc.htmx import is_partial
from dcc.policy import can, capability_required, get_visible_or_404, require
from dcc.timeutils import local_day_start
from dcc.views import chosen_store
from followups import selectors, services, sms
from followups.forms import PolicyForm, StoreRulesForm
from followups.models import FollowupPolicy, SlaBreach, SmsMessage, SmsStatus
from leads.forms import add_service_errors

PAGE_SIZE = 50


# ---------------------------------------------------------------- supervisor


def _period(request):
    """[start, end) from ?start=&end= (dates, end inclusive); default the
    last 30 days."""
    today = timezone.localdate()
    end_day = parse_date(request.GET.get("end") or "") or today
    start_day = parse_date(request.GET.get("start") or "") or end_day - timedelta(days=29)
    if start_day > end_day:
        start_day, end_day = end_day, start_day
    return start_day, end_day


@capability_required("followups.team_health.view")
def first_contact(request):
    start_day, end_day = _period(request)
    tables = selectors.first_contact_distribution(
        user=request.user,
        start=local_day_start(start_day),
        end=local_day_start(end_day + timedelta(days=1)),
    )
    return render(
        request,
        "followups/first_contact.html",
        {
            "tables": [
                (_("By agent"), tables["owner"]),
                (_("By source"), tables["source"]),
                (_("By store"), tables["store"]),
            ],
            "start": start_day,
            "end": end_day,
            "thresholds": [label for label, _m in selectors.FIRST_CONTACT_WITHIN],
        },
    )


# ---------------------------------------------------------------- breaches


@capability_required("followups.breaches.view")
def breaches(request):
    show = request.GET.get("show", "open")
    queryset = SlaBreach.objects.visible_to(request.user).select_related(
        "lead__customer", "lead__owner", "owner", "acknowledged_by"
    )
    if show != "all":
        queryset = queryset.open()
    page = Paginator(queryset.order_by("-due_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "followups/breaches.html",
        {
            "page": page,
            "show": show,
            "can_acknowledge": can(request.user, "followups.breaches.acknowledge"),
        },
    )


@require_POST
@capability_required("followups.breaches.acknowledge")
def breach_acknowledge(request, pk):
    breach = get_visible_or_404(SlaBreach, request.user, pk=pk)
    error = None
    try:
        services.breach_acknowledge(
            actor=request.user, breach=breach, note=request.POST.get("note", "")
        )
    except ValidationError as exc:
        error = " ".join(m for messages_ in exc.message_dict.values() for m in messages_)
        if not is_partial(request):
            messages.error(request, error)
    if is_partial(request):
        breach = SlaBreach.objects.select_related(
            "lead__customer", "lead__owner", "owner", "acknowledged_by"
        ).get(pk=breach.pk)
        # The row, and the layout's open-breaches badge updated in place
        # (an out-of-band swap; ``badges`` is the layout's context processor's).
        return render(
            request,
            "followups/partials/breach_acknowledged.html",
            {"breach": breach, "can_acknowledge": True, "error": error},
        )
    return redirect("followups:breaches")


# ---------------------------------------------------------------- SMS outbox

SMS_FILTERS = {
    "problems": (SmsStatus.FAILED, SmsStatus.UNCERTAIN),
    "pending": (SmsStatus.PENDING, SmsStatus.SENDING),
    "sent": (SmsStatus.SENT,),
    "cancelled": (SmsStatus.CANCELLED,),
}


@capability_required("followups.sms.view")
def sms_outbox(request):
    show = request.GET.get("show", "all")
    queryset = SmsMessage.objects.visible_to(request.user).select_related("lead__customer")
    if show in SMS_FILTERS:
        queryset = queryset.filter(status__in=SMS_FILTERS[show])
    page = Paginator(queryset.order_by("-created_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for message in page:
        message.preview = sms.preview(message)
    problems = (
        SmsMessage.objects.visible_to(request.user)
        .filter(status__in=SMS_FILTERS["problems"])
        .count()
    )
    return render(
        request,
        "followups/sms_outbox.html",
        {
            "page": page,
            "show": show,
            "problems": problems,
            "can_retry": can(request.user, "followups.sms.retry"),
            "retryable": (SmsStatus.FAILED, SmsStatus.UNCERTAIN),
        },
    )


@require_POST
def sms_retry(request, pk):
    require(request.user, "followups.sms.retry")
    message = get_visible_or_404(SmsMessage, request.user, pk=pk)
    message = sms.retry_by_hand(actor=request.user, message=message)
    if message.status == SmsStatus.PENDING:
        messages.success(request, _("The message will be sent again."))
    else:
        messages.error(request, _("Only a failed or uncertain message can be sent again."))
    return redirect(f"{reverse('followups:sms')}?show={request.POST.get('show', 'all')}")


# ---------------------------------------------------------------- store rules


@capability_required("followups.policy.manage")
def store_rules(request):
    """门店规则: the manager's settings for the store's clocks and cadence."""
    from dcc.models import Store

    store, stores = chosen_store(request)
    policy = FollowupPolicy.objects.for_store(store)
    if request.method == "POST":
        # Validation writes into the instances; the service re-reads both under lock.
        store_form = StoreRulesForm(request.POST, instance=Store.objects.get(pk=store.pk))
        policy_form = PolicyForm(request.POST, instance=policy)
        if store_form.is_valid() and policy_form.is_valid():
            try:
                services.store_rules_update(
                    actor=request.user,
                    store=store,
                    reason=request.POST.get("reason", ""),
                    **store_form.cleaned_data,
                    **policy_form.cleaned_data,
                )
            except ValidationError as exc:
                add_service_errors(policy_form, exc)
            else:
                messages.success(request, _("Store rules saved."))
                return redirect(f"{reverse('followups:settings')}?store={store.pk}")
    else:
        store_form = StoreRulesForm(instance=store)
        policy_form = PolicyForm(instance=policy)
    return render(
        request,
        "followups/store_rules.html",
        {
            "store": store,
            "stores": stores,
            "store_form": store_form,
            "policy_form": policy_form,
        },
    )


# ---------------------------------------------------------------- provider callbacks


def _callback(request, token: str, handle):
    """The provider's push (no session, no CSRF: the provider cannot hold
    either): the secret token in the URL is the credential, compared in
    constant time; a wrong one reads as a missing page."""
    import hmac
    import json

    from django.conf import settings
    from django.http import Http404, JsonResponse

    from followups.sms_callbacks import CallbackError

    expected = getattr(settings, "SMS_CALLBACK_TOKEN", "")
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Http404
    if request.method != "POST":
        return JsonResponse({"result": 1, "errmsg": "POST only"}, status=405)
    try:
        payload = json.loads(request.body.decode("utf-8") or "null")
        handle(payload)
    except (ValueError, CallbackError) as exc:
        return JsonResponse({"result": 1, "errmsg": str(exc)[:200]}, status=400)
    return JsonResponse({"result": 0, "errmsg": "OK"})


@csrf_exempt
@login_not_required
def sms_reply_callback(request, token):
    """Tencent Cloud SMS reply push (followups.sms_callbacks.record_reply)."""
    from followups.sms_callbacks import record_reply

    return _callback(request, token, record_reply)


@csrf_exempt
@login_not_required
def sms_status_callback(request, token):
    """Tencent Cloud SMS status report (followups.sms_callbacks.record_receipts)."""
    from followups.sms_callbacks import record_receipts

    return _callback(request, token, record_receipts)
