"""``drilldown``: the rows behind one numerator or denominator."""

from __future__ import annotations

from django.db.models import Q

from kpi.metrics.base import Period, Scope
from kpi.metrics.rows import (
    answered_in_time_q,
    carded_q,
    carried_over_q,
    converted_q,
    customer_calls,
    deals,
    first_call_q,
    first_invited_q,
    first_time_callers,
    followups,
    leads,
    meetings,
    received_q,
    sla_due_q,
    sla_met_q,
    targets,
    valid_a_card_q,
    visit_number_q,
    visits,
)
from kpi.metrics.table import KPIS, PARTS
from telephony.models import Direction

# ---------------------------------------------------------------- drill-down


def drilldown(scope: Scope, period: Period, name: str, part: str):
    """The rows behind one figure: its ``count()`` is that figure (for the
    meetings figure, which counts days, the period's meetings: on time for
    the numerator, all for the denominator). LookupError for a figure or part
    without rows."""
    if name not in KPIS or part not in PARTS:
        raise LookupError(f"no figure {name}.{part}")
    builder = _DRILLDOWN.get((name, part))
    if builder is None:
        raise LookupError(f"{name}.{part} lists no rows")
    return builder(scope, period)


def _first_calls(scope, period):
    return followups(scope).filter(first_call_q(period))


def _leads_where(condition):
    return lambda scope, period: leads(scope).filter(condition(period))


def _calls_where(condition):
    return lambda scope, period: customer_calls(scope, period).filter(condition)


_DRILLDOWN = {
    ("followup_rate", "numerator"): _first_calls,
    ("followup_rate", "denominator"): _leads_where(lambda p: received_q(p) | carried_over_q(p)),
    ("invite_to_store_rate", "numerator"): lambda s, p: visits(s, p).filter(first_invited_q()),
    ("invite_to_store_rate", "denominator"): _first_calls,
    ("deals", "numerator"): deals,
    ("sla_48h_compliance", "numerator"): _leads_where(sla_met_q),
    ("sla_48h_compliance", "denominator"): _leads_where(sla_due_q),
    ("card_creation_rate", "numerator"): lambda s, p: first_time_callers(s, p).filter(carded_q(p)),
    ("card_creation_rate", "denominator"): first_time_callers,
    ("return_visit_rate", "numerator"): _leads_where(lambda p: visit_number_q(2, p)),
    ("return_visit_rate", "denominator"): _leads_where(lambda p: visit_number_q(1, p)),
    ("test_drive_rate", "numerator"): lambda s, p: visits(s, p).filter(test_drive=True),
    ("test_drive_rate", "denominator"): visits,
    ("conversion_30d", "numerator"): _leads_where(converted_q),
    ("conversion_30d", "denominator"): _leads_where(received_q),
    ("sales_completion", "numerator"): deals,
    ("sales_completion", "denominator"): targets,
    ("meetings_on_time", "numerator"): lambda s, p: meetings(s, p).filter(on_time=True),
    ("meetings_on_time", "denominator"): meetings,
    ("new_leads", "numerator"): _leads_where(received_q),
    ("new_a_cards", "numerator"): _leads_where(lambda p: received_q(p) & valid_a_card_q()),
    ("calls_inbound", "numerator"): _calls_where(Q(direction=Direction.INBOUND)),
    ("calls_outbound", "numerator"): _calls_where(Q(direction=Direction.OUTBOUND)),
    ("inbound_calls_per_agent_day", "numerator"): _calls_where(Q(direction=Direction.INBOUND)),
    ("outbound_calls_per_agent_day", "numerator"): _calls_where(Q(direction=Direction.OUTBOUND)),
    ("talk_seconds_per_agent_day", "numerator"): _calls_where(Q(billsec__gt=0)),
    ("answered_in_time_rate", "numerator"): _calls_where(answered_in_time_q()),
    ("answered_in_time_rate", "denominator"): _calls_where(Q(direction=Direction.INBOUND)),
}


def has_rows(name: str, part: str) -> bool:
    return (name, part) in _DRILLDOWN
