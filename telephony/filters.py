"""The call filters, shared by the calls page and ``GET /api/v1/calls/``
(API.md: lead, agent, direction, started_after, started_before,
disposition; also store, new_caller, unmatched and number)."""

import re

import django_filters
from django.utils.translation import gettext_lazy as _

from dcc.api_fields import IsoDateTimeFilter
from dcc.models import Store, User
from leads.filters import scoped
from leads.models import Lead
from telephony.models import Call, Direction, Disposition

_DIGITS = re.compile(r"\D")


class CallFilter(django_filters.FilterSet):
    lead = django_filters.ModelChoiceFilter(queryset=scoped(Lead), label=_("lead"))
    agent = django_filters.ModelChoiceFilter(queryset=scoped(User), label=_("agent"))
    direction = django_filters.ChoiceFilter(choices=Direction.choices, label=_("direction"))
    disposition = django_filters.ChoiceFilter(choices=Disposition.choices, label=_("result"))
    store = django_filters.ModelChoiceFilter(queryset=scoped(Store), label=_("store"))
    started_after = IsoDateTimeFilter(
        field_name="started_at", lookup_expr="gte", label=_("started from")
    )
    started_before = IsoDateTimeFilter(
        field_name="started_at", lookup_expr="lt", label=_("started before")
    )
    new_caller = django_filters.BooleanFilter(label=_("first-time caller"))
    unmatched = django_filters.BooleanFilter(method="filter_unmatched", label=_("no lead yet"))
    number = django_filters.CharFilter(method="filter_number", label=_("number"))

    class Meta:
        model = Call
        fields = []

    def filter_unmatched(self, queryset, name, value):
        """Calls with a customer number that no lead has (yet)."""
        if value is None:
            return queryset
        if value:
            return queryset.filter(lead__isnull=True).exclude(external_number="")
        return queryset.filter(lead__isnull=False)

    def filter_number(self, queryset, name, value):
        digits = _DIGITS.sub("", value or "")
        if not digits:
            return queryset
        return queryset.filter(external_number__contains=digits)
