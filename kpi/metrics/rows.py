"""The counted sets: one condition per set (``*_q``) and the base querysets
per scope. ``figures`` aggregates them, ``drilldown`` filters by them."""

from __future__ import annotations

from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce

from followups.models import Appointment, AppointmentStatus, FollowUp
from followups.models import Channel as FollowupChannel
from kpi.metrics.base import (
    CARD_WINDOW,
    CONVERSION_WINDOW,
    LEAD_PATHS,
    MEETING_PATHS,
    STAFF_PATHS,
    TARGET_PATHS,
    VISIT_PATHS,
    Period,
    Scope,
)
from kpi.models import Meeting, Target
from leads.models import OPEN_STATUSES, Deal, Lead, Source, Status

# answered_in_time_q: the one rule, telephony's (the call statistics use it too).
from telephony.models import Call, Direction, answered_in_time_q  # noqa: F401

# ---------------------------------------------------------------- conditions
# One definition per counted set: ``compute`` aggregates them, ``drilldown``
# filters by them.


def between(field: str, period: Period) -> Q:
    return Q(**{f"{field}__gte": period.start_at, f"{field}__lt": period.end_at})


def received_q(period: Period) -> Q:
    return between("received_at", period)


def carried_over_q(period: Period) -> Q:
    start = period.start_at
    not_called_before = Q(first_contacted_at__isnull=True) | Q(first_contacted_at__gte=start)
    open_at_start = (
        Q(status__in=OPEN_STATUSES)
        | Q(first_contacted_at__gte=start)
        | Q(status=Status.DEFEATED, defeated_at__gte=start)
        | Q(status__in=[Status.INVALID, Status.DELIVERED], updated_at__gte=start)
    )
    return Q(received_at__lt=start) & not_called_before & open_at_start


def valid_a_card_q() -> Q:
    # LeadQuerySet.valid_a_cards() as a condition (a test keeps them equal).
    return Q(customer__has_full_name=True, intended_model__isnull=False)


def sla_due_q(period: Period) -> Q:
    return Q(source=Source.MANUFACTURER) & between("first_contact_due", period)


def sla_met_q(period: Period) -> Q:
    return sla_due_q(period) & Q(sla_met_at__isnull=False, sla_met_at__lte=F("first_contact_due"))


def _deals_with_date():
    return Deal.objects.annotate(counted_at=Coalesce("ordered_at", "delivered_at"))


def converted_q(period: Period) -> Q:
    in_time = _deals_with_date().filter(
        lead=OuterRef("pk"), counted_at__lte=OuterRef("received_at") + CONVERSION_WINDOW
    )
    return received_q(period) & Q(Exists(in_time))


def first_call_q(period: Period) -> Q:
    return Q(is_first_call=True, channel=FollowupChannel.CALL) & between("occurred_at", period)


def arrived_q(period: Period) -> Q:
    return Q(status=AppointmentStatus.ARRIVED) & between("arrived_at", period)


def first_invited_q() -> Q:
    """The lead's earliest arrived booked visit (ties broken by id)."""
    earlier = Appointment.objects.filter(
        lead=OuterRef("lead"), status=AppointmentStatus.ARRIVED, is_walk_in=False
    ).filter(
        Q(arrived_at__lt=OuterRef("arrived_at"))
        | Q(arrived_at=OuterRef("arrived_at"), pk__lt=OuterRef("pk"))
    )
    return Q(is_walk_in=False) & ~Q(Exists(earlier))


def visit_number_q(number: int, period: Period) -> Q:
    """Leads (as rows of Lead) with their ``number``-th visit in the period."""
    visits = Appointment.objects.filter(lead=OuterRef("pk"), visit_number=number).filter(
        arrived_q(period)
    )
    return Q(Exists(visits))


def first_time_caller_q() -> Q:
    """On Call: an inbound call of someone no lead knew before it (see 5.)."""
    known_number = Lead.objects.filter(
        store=OuterRef("store"),
        phone=OuterRef("external_number"),
        received_at__lt=OuterRef("started_at"),
    )
    known_customer = Lead.objects.filter(
        customer=OuterRef("lead__customer"), received_at__lt=OuterRef("started_at")
    )
    entered_during_call = (
        Q(lead__received_at__gte=F("started_at"))
        & ~Q(Exists(known_number))
        & ~Q(Exists(known_customer))
    )
    return (
        Q(direction=Direction.INBOUND)
        & ~Q(external_number="")
        & (Q(new_caller=True) | entered_during_call)
    )


def carded_q(period: Period) -> Q:
    """On Call: the number got a valid A-card in the store (see 5.)."""

    def cards():
        return (
            Lead.objects.valid_a_cards()
            .filter(store=OuterRef("store"))
            .filter(received_at__gte=OuterRef("started_at"))
            .filter(
                Q(received_at__lt=period.end_at)
                | Q(received_at__lt=OuterRef("started_at") + CARD_WINDOW)
            )
        )

    # The lead's own number or one of its customer's phones: two EXISTS, not
    # one over an OR, so that each finds its leads by the number's index
    # (lead_phone_idx, customer_phone_number_idx) instead of scanning every
    # lead of the store received since the call (minutes for a year).
    by_lead_phone = cards().filter(phone=OuterRef("external_number"))
    by_customer_phone = cards().filter(customer__phones__number=OuterRef("external_number"))
    return Q(Exists(by_lead_phone)) | Q(Exists(by_customer_phone))


def customer_call_q() -> Q:
    return Q(direction__in=[Direction.INBOUND, Direction.OUTBOUND])


# ---------------------------------------------------------------- base querysets


def leads(scope: Scope):
    # A lead closed by a merge counts in the lead it was merged into.
    return Lead.objects.counted().filter(scope.q(LEAD_PATHS))


def followups(scope: Scope):
    return FollowUp.objects.filter(scope.q(STAFF_PATHS))


def visits(scope: Scope, period: Period):
    """Arrived visits, for the owner at the visit (``VISIT_PATHS``)."""
    return Appointment.objects.filter(scope.q(VISIT_PATHS)).filter(arrived_q(period))


def invitations(scope: Scope, period: Period):
    """Arrived visits, for who booked them: the invitation's credit."""
    return Appointment.objects.filter(scope.q(STAFF_PATHS)).filter(arrived_q(period))


def deals(scope: Scope, period: Period):
    return (
        _deals_with_date()
        .filter(scope.q(STAFF_PATHS))
        .filter(counted_at__gte=period.start_at, counted_at__lt=period.end_at)
    )


def targets(scope: Scope, period: Period):
    return Target.objects.filter(scope.q(TARGET_PATHS), month__in=period.months())


def customer_calls(scope: Scope, period: Period):
    return (
        Call.objects.filter(scope.q(STAFF_PATHS))
        .filter(customer_call_q())
        .filter(between("started_at", period))
    )


def first_time_callers(scope: Scope, period: Period, *, per: str | None = None):
    """One call per first-time caller's number: its earliest in the period.
    ``per`` (e.g. ``agent``) splits the scope by that field: the earliest
    call per number for each of its values, as each one's own scope would
    count it (``kpi.grouped``: every agent's figure in one query)."""

    def candidates():
        return (
            Call.objects.filter(scope.q(STAFF_PATHS))
            .filter(between("started_at", period))
            .filter(first_time_caller_q())
        )

    earlier = candidates().filter(
        Q(started_at__lt=OuterRef("started_at"))
        | Q(started_at=OuterRef("started_at"), pk__lt=OuterRef("pk")),
        store=OuterRef("store"),
        external_number=OuterRef("external_number"),
        # Numbers are counted per store already.
        **({per: OuterRef(per)} if per and per != "store" else {}),
    )
    return candidates().filter(~Q(Exists(earlier)))


def meetings(scope: Scope, period: Period):
    return (
        Meeting.objects.filter(scope.q(MEETING_PATHS))
        .filter(between("held_at", period))
        .with_on_time()
    )
