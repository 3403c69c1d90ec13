"""Filters of ``GET /api/v1/followups/`` and ``GET /api/v1/appointments/``.

Related objects resolve within the caller's scope: naming a lead or a member
of staff the caller cannot see is a 400 on that filter, like the lead list's.
"""

import django_filters
from django.utils.translation import gettext_lazy as _

from dcc.api_fields import IsoDateTimeFilter
from dcc.models import User
from followups.models import Appointment, AppointmentStatus, FollowUp, Result
from leads.models import Lead


def _scoped(model):
    def queryset(request):
        user = getattr(request, "user", None)
        return model.objects.visible_to(user) if user is not None else model.objects.none()

    return queryset


class FollowUpFilter(django_filters.FilterSet):
    lead = django_filters.ModelChoiceFilter(queryset=_scoped(Lead), label=_("lead"))
    agent = django_filters.ModelChoiceFilter(queryset=_scoped(User), label=_("agent"))
    result = django_filters.MultipleChoiceFilter(choices=Result.choices, label=_("result"))
    occurred_after = IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gte", label=_("contacted from")
    )
    occurred_before = IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="lt", label=_("contacted before")
    )

    class Meta:
        model = FollowUp
        fields = []


class AppointmentFilter(django_filters.FilterSet):
    lead = django_filters.ModelChoiceFilter(queryset=_scoped(Lead), label=_("lead"))
    agent = django_filters.ModelChoiceFilter(queryset=_scoped(User), label=_("booked by"))
    receiver = django_filters.ModelChoiceFilter(
        queryset=_scoped(User), label=_("receiving salesperson")
    )
    status = django_filters.MultipleChoiceFilter(
        choices=AppointmentStatus.choices, label=_("status")
    )
    scheduled_after = IsoDateTimeFilter(
        field_name="scheduled_at", lookup_expr="gte", label=_("scheduled from")
    )
    scheduled_before = IsoDateTimeFilter(
        field_name="scheduled_at", lookup_expr="lt", label=_("scheduled before")
    )

    class Meta:
        model = Appointment
        fields = []
