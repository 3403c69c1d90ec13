"""Scorecard pages: a team's (its supervisor's) or a member's card for a
month, every actual linking to the rows behind it; the store's card and
scoring settings for managers. The arithmetic is ``kpi.scorecard``; the
scope rule is ``kpi.selectors.scope_for`` (404 for a card not yours)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dcc.models import Store, Team
from dcc.policy import Level, can, capability_required, scope_level
from dcc.views import chosen_store
from kpi import metrics, selectors
from kpi import scorecard as cards
from kpi.limits import report_page
from kpi.metrics import Period, Scope
from kpi.models import ScorecardRole, ScorecardSettings
from kpi.views import _display, _key, _query

# ---------------------------------------------------------------- the card


def _card_scope(request) -> Scope:
    """``?s=team:N`` or ``?s=agent:N``; without it the user's own card (an
    agent), their team's (a supervisor) or the first team they may read."""
    key = request.GET.get("s", "")
    kind, _sep, id_text = key.partition(":")
    if key:
        if kind not in ("team", "agent") or not id_text.isdigit():
            raise Http404("a scorecard is a team's or a member's")
        return selectors.scope_for(request.user, kind, int(id_text))
    level = scope_level(request.user)
    if level is Level.OWN:
        return selectors.scope_for(request.user, "agent", None)
    if level is Level.TEAM and request.user.team_id:
        return selectors.scope_for(request.user, "team", None)
    team = Team.objects.visible_to(request.user).order_by("store__code", "name").first()
    if team is None:
        raise Http404("no team")
    return selectors.scope_for(request.user, "team", team.pk)


def _month(request) -> Period:
    text = request.GET.get("month")
    if text:
        try:
            return Period.parse_month(text)
        except ValueError:
            messages.error(request, _("Enter a month as YYYY-MM."))
    return Period.current_month()


def _money(value) -> str:
    return "—" if value is None else f"{value:,.2f}"


@capability_required("kpi.scorecard.view")
@report_page
def scorecard_view(request):
    scope = _card_scope(request)
    period = _month(request)
    try:
        card = cards.scorecard(scope, period)
    except ValueError:
        raise Http404("no scorecard for this scope") from None
    role, figures_scope, _basis = cards.card_scope(scope)
    query = _query(figures_scope, period)
    rows = []
    for result in card.items:
        links = {}
        if result.metric is not None:
            links = {
                part: f"{reverse('kpi:drill', args=[result.name, part])}?{query}"
                for part in metrics.PARTS
                if metrics.has_rows(result.name, part)
            }
        target = result.item.target
        rows.append(
            {
                "result": result,
                "links": links,
                "actual": _display(result.metric)
                if result.metric is not None
                else ("—" if result.actual is None else f"{result.actual}%"),
                "target": f"{target.normalize():f}%"
                if result.unit == metrics.PERCENT
                else f"{target.normalize():f}",
            }
        )
    choices = [
        c for c in selectors.scope_choices(request.user) if c.scope.kind in ("team", "agent")
    ]
    context = {
        "card": card,
        "rows": rows,
        "scope_key": _key(scope),
        "scope_label": selectors.scope_label(scope),
        "choices": choices,
        "period": period,
        "previous": _query(scope, period.previous()),
        "next": _query(scope, period.next()),
        "is_supervisor_card": role == ScorecardRole.SUPERVISOR,
        "figures_label": selectors.scope_label(figures_scope),
        "money": {
            "base": _money(card.settings.base_pay),
            "performance_base": _money(card.settings.monthly_performance_base),
            "quarterly_base": _money(card.settings.quarterly_performance_base),
            "pay": _money(card.pay),
            "gross": _money(card.commission.gross),
            "deductions": _money(card.commission.deductions),
            "net": _money(card.commission.net),
            "month": _money(card.month_pay),
        },
        "can_manage": can(request.user, "kpi.scorecard.manage"),
    }
    return render(request, "kpi/scorecard.html", context)


# ---------------------------------------------------------------- settings


class ScorecardItemForm(forms.Form):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    metric = forms.ChoiceField(label=gettext_lazy("Figure"), choices=())
    label = forms.CharField(label=gettext_lazy("Label"), required=False, max_length=100)
    weight = forms.DecimalField(
        label=gettext_lazy("Weight (%)"),
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal(100),
    )
    target = forms.DecimalField(
        label=gettext_lazy("Target"), max_digits=12, decimal_places=2, min_value=Decimal(0)
    )
    order = forms.IntegerField(label=gettext_lazy("Order"), min_value=0, initial=0)
    active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["metric"].choices = [("", "---------"), *cards.metric_choices()]


class BaseItemFormSet(forms.BaseFormSet):
    def kept_forms(self):
        return [
            form
            for form in self.forms
            if form.has_changed() or form.initial
            if not self._should_delete_form(form)
        ]

    def clean(self):
        if any(self.errors):
            return
        seen = {}
        total = Decimal(0)
        for form in self.kept_forms():
            metric = form.cleaned_data.get("metric")
            if metric in seen:
                form.add_error("metric", _("This figure is already on the card."))
            seen[metric] = form
            if form.cleaned_data.get("active"):
                total += form.cleaned_data["weight"]
        if seen and total != 100:
            raise ValidationError(
                _("The active items' weights add up to %(total)s%%, not 100%%.")
                % {"total": f"{total.normalize():f}"}
            )


ItemFormSet = forms.formset_factory(
    ScorecardItemForm, formset=BaseItemFormSet, extra=2, can_delete=True
)


class DeductionsField(forms.CharField):
    """``{category: yuan}`` as one "category: amount" line each."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        if isinstance(value, dict):
            return "\n".join(f"{k}: {v}" for k, v in value.items())
        return value

    def to_python(self, value):
        text = super().to_python(value)
        result = {}
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line:
                continue
            category, _sep, amount = line.replace("：", ":").rpartition(":")
            try:
                money = Decimal(amount.strip())
            except InvalidOperation:
                money = None
            if not category.strip() or money is None or money < 0:
                raise ValidationError(
                    _("Line %(n)s: write “category: amount”, e.g. “SUV: 300”.") % {"n": number}
                )
            result[category.strip()] = f"{money.normalize():f}"
        return result


class ScorecardSettingsForm(forms.ModelForm):
    category_deductions = DeductionsField(
        label=gettext_lazy("Deduction per missed category"),
        required=False,
        help_text=gettext_lazy(
            "One line per model category: “category: yuan”, e.g. “SUV: 300”. "
            "Withheld when the category is below the required completion."
        ),
    )

    class Meta:
        model = ScorecardSettings
        fields = list(cards.SETTINGS_FIELDS)


def _store(request) -> Store:
    store, request.stores = chosen_store(request)
    return store


def _item_rows(formset) -> list[dict]:
    return [
        {
            **{name: form.cleaned_data[name] for name in cards.ITEM_FIELDS},
            "id": form.cleaned_data.get("id"),
        }
        for form in formset.kept_forms()
    ]


def _add_item_errors(formset, exc: ValidationError) -> None:
    """The service's errors on the rows (``row-<index>-<field>``) and the card."""
    kept = formset.kept_forms()
    for key, errors in exc.message_dict.items():
        _row, index, name = key.split("-", 2) if key.startswith("row-") else ("", "", key)
        for error in errors:
            if index.isdigit() and int(index) < len(kept):
                kept[int(index)].add_error(name, error)
            else:
                formset._non_form_errors.append(error)


@capability_required("kpi.scorecard.manage")
def scorecard_settings(request):
    store = _store(request)
    role = request.POST.get("role") or request.GET.get("role") or ScorecardRole.SUPERVISOR
    if role not in ScorecardRole.values:
        raise Http404("unknown card")
    settings = cards.settings_for(store)
    items = list(store.scorecard_items.filter(role=role).order_by("order", "pk"))
    initial = [{name: getattr(item, name) for name in ("id", *cards.ITEM_FIELDS)} for item in items]
    formset = ItemFormSet(prefix="items", initial=initial)
    form = ScorecardSettingsForm(prefix="settings", instance=settings)
    back = f"{reverse('kpi:scorecard-settings')}?store={store.pk}&role={role}"
    if request.method == "POST" and request.POST.get("form") == "items":
        formset = ItemFormSet(request.POST, prefix="items", initial=initial)
        if formset.is_valid():
            try:
                cards.scorecard_items_save(
                    actor=request.user, store=store, role=role, items=_item_rows(formset)
                )
            except ValidationError as exc:
                _add_item_errors(formset, exc)
            else:
                messages.success(request, _("Scorecard saved."))
                return redirect(back)
    elif request.method == "POST" and request.POST.get("form") == "settings":
        # Validation writes into a copy; the service re-reads the row under lock.
        form = ScorecardSettingsForm(
            request.POST, prefix="settings", instance=ScorecardSettings.objects.get(pk=settings.pk)
        )
        if form.is_valid():
            try:
                cards.scorecard_settings_update(
                    actor=request.user, store=store, **form.cleaned_data
                )
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(name if name in form.fields else None, error)
            else:
                messages.success(request, _("Scorecard settings saved."))
                return redirect(back)
    return render(
        request,
        "kpi/scorecard_settings.html",
        {
            "stores": request.stores,
            "store": store,
            "role": role,
            "roles": ScorecardRole.choices,
            "formset": formset,
            "form": form,
        },
    )


scorecard_urlpatterns = [
    path("scorecard/", scorecard_view, name="scorecard"),
    path("scorecard/settings/", scorecard_settings, name="scorecard-settings"),
]
