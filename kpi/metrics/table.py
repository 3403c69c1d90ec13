"""The KPI table: every figure's name, label, unit and the rows behind it."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from kpi.metrics.base import COUNT, PER_DAY, PERCENT

# ---------------------------------------------------------------- the KPI table


@dataclass(frozen=True)
class Kpi:
    name: str
    label: str
    unit: str
    numerator: str
    denominator: str | None = None
    # What the drill-down of each part lists: leads, followups, visits,
    # calls, deals, targets or meetings (None: no rows, e.g. agent-days).
    rows: tuple[str | None, str | None] = ("leads", "leads")


KPIS: dict[str, Kpi] = {
    k.name: k
    for k in (
        Kpi(
            "followup_rate",
            _("Follow-up rate"),
            PERCENT,
            _("First phone follow-ups"),
            _("Leads carried over un-followed + leads received"),
            ("followups", "leads"),
        ),
        Kpi(
            "invite_to_store_rate",
            _("Invitation-to-store rate"),
            PERCENT,
            _("First invited store visits"),
            _("First phone follow-ups"),
            ("visits", "followups"),
        ),
        Kpi(
            "deals",
            _("Deals"),
            COUNT,
            _("Vehicles ordered (or delivered without order)"),
            rows=("deals", None),
        ),
        Kpi(
            "sla_48h_compliance",
            _("48-hour compliance"),
            PERCENT,
            _("Manufacturer leads called by their deadline"),
            _("Manufacturer leads due"),
        ),
        Kpi(
            "card_creation_rate",
            _("Card-creation rate"),
            PERCENT,
            _("First-time callers with a valid A-card"),
            _("First-time inbound callers"),
            ("calls", "calls"),
        ),
        Kpi(
            "return_visit_rate",
            _("Return-to-showroom rate"),
            PERCENT,
            _("Leads with a second visit"),
            _("Leads with a first visit"),
        ),
        Kpi(
            "test_drive_rate",
            _("Test-drive rate"),
            PERCENT,
            _("Visits with a test drive"),
            _("Store visits"),
            ("visits", "visits"),
        ),
        Kpi(
            "conversion_30d",
            _("30-day conversion"),
            PERCENT,
            _("Leads with a deal within 30 days"),
            _("Leads received"),
        ),
        Kpi(
            "sales_completion",
            _("Sales completion"),
            PERCENT,
            _("Deals"),
            _("Target units"),
            ("deals", "targets"),
        ),
        Kpi(
            "meetings_on_time",
            _("Meetings on time"),
            PERCENT,
            _("Working days with both meetings on time"),
            _("Working days"),
            ("meetings", "meetings"),
        ),
        Kpi("new_leads", _("Leads received"), COUNT, _("Leads received"), rows=("leads", None)),
        Kpi(
            "new_a_cards",
            _("New valid A-cards"),
            COUNT,
            _("Leads received that are valid A-cards"),
            rows=("leads", None),
        ),
        Kpi("calls_inbound", _("Inbound calls"), COUNT, _("Inbound calls"), rows=("calls", None)),
        Kpi(
            "calls_outbound", _("Outbound calls"), COUNT, _("Outbound calls"), rows=("calls", None)
        ),
        Kpi(
            "inbound_calls_per_agent_day",
            _("Inbound calls per agent per day"),
            PER_DAY,
            _("Inbound calls"),
            _("Agent-days with calls"),
            ("calls", None),
        ),
        Kpi(
            "outbound_calls_per_agent_day",
            _("Outbound calls per agent per day"),
            PER_DAY,
            _("Outbound calls"),
            _("Agent-days with calls"),
            ("calls", None),
        ),
        Kpi(
            "talk_seconds_per_agent_day",
            _("Talk time per agent per day (s)"),
            PER_DAY,
            _("Talk time (s)"),
            _("Agent-days with calls"),
            ("calls", None),
        ),
        Kpi(
            "answered_in_time_rate",
            _("Answered in time"),
            PERCENT,
            _("Inbound calls answered in time"),
            _("Inbound calls"),
            ("calls", "calls"),
        ),
    )
}

# The API's contract (API.md "KPI"): these names never go away.
API_METRICS = (
    "followup_rate",
    "invite_to_store_rate",
    "deals",
    "sla_48h_compliance",
    "card_creation_rate",
    "return_visit_rate",
    "test_drive_rate",
    "conversion_30d",
    "sales_completion",
)

PARTS = ("numerator", "denominator")
