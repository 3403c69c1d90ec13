"""The lead filters, shared by the list page and ``GET /api/v1/leads/``
(API.md: status, source, channel, owner, level, store, received_after,
received_before, q, rule)."""

import re

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from dcc.api_fields import IsoDateTimeFilter
from dcc.models import Store, User
from leads.models import Channel, Lead, LeadRules, Level, Source, Status

_DIGITS = re.compile(r"\D")
_NUMBERISH = re.compile(r"^[\d\s+()\-]*\d[\d\s+()\-]*$")


def scoped(model):
    """A filter's queryset: the model's rows the requesting user may see."""

    def queryset(request):
        user = getattr(request, "user", None)
        return model.objects.visible_to(user) if user is not None else model.objects.none()

    return queryset


class LeadFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, label=_("status"))
    source = django_filters.MultipleChoiceFilter(choices=Source.choices, label=_("source"))
    level = django_filters.MultipleChoiceFilter(choices=Level.choices, label=_("level"))
    # Typed for the schema: drf-spectacular cannot follow ``channel__code``.
    channel = extend_schema_field(OpenApiTypes.STR)(
        django_filters.ModelMultipleChoiceFilter(
            field_name="channel__code",
            to_field_name="code",
            queryset=Channel.objects.all(),
            label=_("channel"),
        )
    )
    owner = django_filters.ModelChoiceFilter(queryset=scoped(User), label=_("owner"))
    unassigned = django_filters.BooleanFilter(
        field_name="owner", lookup_expr="isnull", label=_("unassigned")
    )
    store = django_filters.ModelChoiceFilter(queryset=scoped(Store), label=_("store"))
    received_after = IsoDateTimeFilter(
        field_name="received_at", lookup_expr="gte", label=_("received from")
    )
    received_before = IsoDateTimeFilter(
        field_name="received_at", lookup_expr="lt", label=_("received before")
    )
    q = django_filters.CharFilter(method="search", label=_("name or phone"))
    # The working rules of the queue and team health (LeadRules), so that a
    # team-health number links to the leads it counts.
    rule = django_filters.ChoiceFilter(
        choices=[
            ("open", _("open")),
            ("new", _("not yet contacted")),
            ("overdue", _("overdue")),
            ("due_today", _("due today")),
            ("escalated", _("escalated")),
        ],
        method="by_rule",
        label=_("working rule"),
    )

    class Meta:
        model = Lead
        fields = []

    def by_rule(self, queryset, name, value):
        """Open leads meeting one working rule, as the team health counts them
        (today: the local day)."""
        from datetime import timedelta

        from django.utils import timezone

        from dcc.timeutils import local_day_start

        today = local_day_start(timezone.localdate())
        rules = {
            "open": Q(),
            "new": LeadRules.not_yet_contacted(),
            "overdue": LeadRules.overdue(today),
            "due_today": LeadRules.due_between(today, today + timedelta(days=1)),
            "escalated": LeadRules.escalated(),
        }
        return queryset.open().filter(rules[value])

    def search(self, queryset, name, value):
        """Digits search the number (any part: 138, 5678, 138 1234); anything
        else the customer's name."""
        value = value.strip()
        if not value:
            return queryset
        if _NUMBERISH.match(value):  # names never hold digits: any digits search the number
            return queryset.filter(phone__contains=_DIGITS.sub("", value))
        return queryset.filter(Q(customer__name__icontains=value))
