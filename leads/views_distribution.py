"""The distribution rules page (分配规则): a manager writes the store's
rules and previews them on the last 50 leads (a dry run, nothing written)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dcc.policy import capability_required, get_visible_or_404
from dcc.views import chosen_store
from leads import distribution
from leads.forms import DistributionRuleForm, add_service_errors
from leads.models import DistributionRule


def _page_url(store) -> str:
    return f"{reverse('leads:distribution')}?store={store.pk}"


def _save(request, store, form, rule=None):
    data = dict(form.cleaned_data)
    data.pop("staff")
    try:
        return distribution.rule_save(
            actor=request.user,
            store=store,
            rule=rule,
            channels=data.pop("channels"),
            intended_models=data.pop("intended_models"),
            targets=data.pop("targets"),
            **data,
        )
    except ValidationError as exc:
        add_service_errors(form, exc)
        return None


@capability_required("leads.distribution.manage")
def distribution_rules(request):
    """The store's rules in order, a form for a new one, and the dry run
    (``?preview=all`` for the active rules, ``?preview=<id>`` for one)."""
    store, stores = chosen_store(request)
    form = DistributionRuleForm(request.POST or None, store=store, user=request.user)
    if request.method == "POST" and form.is_valid():
        rule = _save(request, store, form)
        if rule is not None:
            messages.success(request, _("Rule “%(name)s” saved.") % {"name": rule.name})
            return redirect(_page_url(store))
    rules = list(
        DistributionRule.objects.visible_to(request.user)
        .filter(store=store)
        .select_related("team")
        .prefetch_related("targets__staff", "channels", "intended_models")
        .order_by("position", "id")
    )
    preview, preview_rule = request.GET.get("preview", ""), None
    rows = None
    if preview == "all":
        rows = distribution.dry_run(store)
    elif preview.isdigit():
        preview_rule = next((rule for rule in rules if rule.pk == int(preview)), None)
        if preview_rule is not None:
            rows = distribution.dry_run(store, rules=[preview_rule])
    return render(
        request,
        "leads/distribution.html",
        {
            "store": store,
            "stores": stores,
            "rules": rules,
            "form": form,
            "preview_rows": rows,
            "preview_rule": preview_rule,
            "preview_given": sum(1 for row in rows or () if row.person is not None),
        },
    )


@capability_required("leads.distribution.manage")
def distribution_rule_edit(request, pk: int):
    rule = get_visible_or_404(DistributionRule, request.user, pk=pk)
    store = rule.store
    form = DistributionRuleForm(request.POST or None, store=store, user=request.user, rule=rule)
    if request.method == "POST" and form.is_valid() and _save(request, store, form, rule):
        messages.success(request, _("Rule “%(name)s” saved.") % {"name": rule.name})
        return redirect(_page_url(store))
    return render(
        request, "leads/distribution_edit.html", {"store": store, "rule": rule, "form": form}
    )


@require_POST
@capability_required("leads.distribution.manage")
def distribution_rule_delete(request, pk: int):
    rule = get_visible_or_404(DistributionRule, request.user, pk=pk)
    store = rule.store
    distribution.rule_delete(actor=request.user, rule=rule)
    messages.success(request, _("Rule deleted."))
    return redirect(_page_url(store))
