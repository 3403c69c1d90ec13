"""Every KPI of DESIGN §3 for any scope and period, by SQL aggregates.

``compute(scope, period)`` answers every figure in a dozen grouped queries,
whatever the number of leads, calls or visits; ``drilldown(scope, period,
name, part)`` answers the queryset of the exact rows a numerator or a
denominator counts (the same conditions, so its ``count()`` is the figure).
Nothing here checks who asks: ``kpi.selectors.scope_for`` decides which
scopes a user may read.

Layout: ``base`` (Scope, Period, Metric), ``table`` (the KPI registry: each
KPI's name, label, unit and the named counts of its parts; each count's
table, SQL and drill-down rows), ``rows`` (one condition per counted
set and the base querysets), ``figures`` (``compute``: the aggregates) and
``drilldown``. The scorecard, dashboards and the monthly export build on
``compute``, ``KPIS`` and ``drilldown``.

Vocabulary
==========
- ``Scope``: ``agent`` (a staff member), ``team``, ``store`` or ``group``
  (every store). Each base table reaches the scope by its own path
  (``*_PATHS``): a lead by its owner (DESIGN §3: "attribute a lead to its
  owner"), a follow-up, a visit, a call and a deal by the staff member on it
  (who made the call, who booked the visit, who was credited the deal), a
  target by its member, a meeting by its team (an agent: by attendance).
  Team figures follow members' *current* team (no team history is kept).
- ``Period``: local dates, both inclusive (``Period.month(2026, 10)``); its
  bounds are aware datetimes at local midnight (Asia/Shanghai), so a lead
  received at 00:10 on 1 October is October's even though it is still
  30 September in UTC, and 23:59:59 on 31 October is October's.
- ``Metric``: numerator, denominator and value. Rates are percentages with
  two decimals (half up), None when the denominator is 0; counts carry their
  value only; per-day figures are plain quotients with two decimals.

Interpretations of the definitions (DESIGN §3, seeds 000/001/003)
==================================================================
1. Follow-up rate 电话跟进率 = first phone follow-ups made in the period ÷
   (leads carried over un-followed + leads received in the period).
   - A first phone follow-up is the follow-up flagged ``is_first_call``
     (the lead's earliest logged call, answered or not; ``followups``
     keeps the flag on exactly one row per lead), counted for the agent who
     made it, in the period its ``occurred_at`` falls.
   - Carried over un-followed: received before the period start, with no
     phone follow-up before the start (``first_contacted_at`` empty or at/
     after the start), and still open at the start. "Open at the start" is
     read from what the lead records: open now; or first called at/after the
     start (it was still being worked); or defeated at/after the start
     (``defeated_at``); or, for invalid and delivered leads, which record no
     closing time, last changed at/after the start (``updated_at``). Known
     limit: an invalid or delivered lead edited after the start without a
     call counts as carried over.
   - Every lead first called in the period is in the denominator (received
     in it, or carried over), so at store level the rate is at most 100 %.
     Per agent it can pass 100 %: the numerator follows whoever called, the
     denominator the lead's owner.
2. Invitation-to-store rate 邀约到店率 = first invited store visits in the
   period ÷ first phone follow-ups in the period (the numerator of 1).
   A first invited visit is an arrived appointment that was booked (not a
   walk-in) and is the lead's earliest arrived booked visit; it counts in the
   period of its ``arrived_at`` for the agent who booked it. A walk-in before
   it does not stop it being the first *invited* visit.
3. Deals 客户成交量: one per sold vehicle (``Deal`` row), at its order or,
   with no order recorded, its delivery (``Coalesce(ordered_at,
   delivered_at)``), for the staff member credited (the owner when recorded).
4. 48-hour compliance = manufacturer leads whose first-contact deadline
   (``first_contact_due``: issue time + the store's hours) falls in the
   period and that had a logged call by it (``sla_met_at <=
   first_contact_due``) ÷ manufacturer leads whose deadline falls in the
   period. A transfer or activation restarts the deadline
   (``leads.services._restart_clock``): such a lead counts once, at its
   current deadline, for its current owner.
5. Card-creation rate 建卡率 = first-time inbound callers of the period who
   got a valid A-card ÷ first-time inbound callers, counted per distinct
   number (per store).
   - A first-time caller is an inbound call with a number and either
     telephony's ``new_caller`` flag (no lead knew the number when the call
     ended), or a linked lead received at or after the call started (the
     agent entered the caller during the call) while no lead had that
     number or that customer before the call.
   - Each number is represented by its earliest such call in the period
     (in the scope): that call is the drill-down row, and its agent gets it.
   - The number got a valid A-card (``LeadQuerySet.valid_a_cards``: full
     name, intended model) when a lead of the store with that number (its
     own or a customer phone) was received from that call's start until the
     period's end, or within ``CARD_WINDOW`` (7 days, as telephony links a
     new lead's calls of the week before) after the call, whichever is
     later. Validity is read as it is now.
6. Return-to-showroom rate 再回展厅率 = leads whose second store visit
   (``visit_number`` 2) arrived in the period ÷ leads whose first visit
   (``visit_number`` 1) arrived in the period, walk-ins included, for the
   lead's owner. Both are events of the period (the figure of a closed month
   does not move); a return in October of a September first visit counts in
   October's numerator only, so a single month can pass 100 %.
7. Test-drive rate 试乘试驾率 = arrived visits of the period with a test drive
   ÷ arrived visits of the period (walk-ins included; a group arriving
   together is one visit), for the agent who booked (or recorded) them.
8. 30-day conversion 30天转化率 = leads received in the period with a deal
   (3.) no later than 30 × 24 h after ``received_at`` ÷ leads received in the
   period, for the owner. A month's figure is final 30 days after its end.
9. Sales completion 销量完成率 = deals of the period (3.) ÷ the targets' units
   (任务分配表) of the months the period touches (a partial month brings its
   whole month's target). Per category too (``sales_completion_by_category``)
   for the commission's 90 % prerequisite.
10. Meetings 晨会夕会 = working days with both a morning and an evening
   meeting held on time ÷ working days, per team: a store's or the group's
   figure sums team-days over the teams with an active member; an agent's
   counts the days they attended both. Working days are the store's
   ``KpiSettings.working_weekdays`` (default Monday–Saturday) up to today;
   on time = held no later than the store's latest start for the kind
   (defaults 08:30 and 18:00). Public holidays are not known: known limit.
11. Call productivity: customer calls (inbound, outbound; internal calls
   never count) per agent-day, where an agent-day is a local day on which
   the agent had at least one customer call; talk time is billed seconds;
   answered in time = inbound calls answered within the store's
   ``answer_within_seconds`` (three rings) ÷ all inbound calls (a missed call
   was not answered in time), as ``telephony.stats`` reads it.
Extra counts: ``new_leads`` (received in the period), ``new_a_cards`` (of
those, valid A-cards now).
"""

from kpi.metrics.base import (
    CARD_WINDOW,
    CONVERSION_WINDOW,
    COUNT,
    PER_DAY,
    PERCENT,
    SCOPE_KINDS,
    Metric,
    Period,
    Scope,
    percent,
    quotient,
)
from kpi.metrics.drilldown import drilldown, has_rows
from kpi.metrics.figures import (
    compute,
    meetings_on_time,
    sales_completion_by_category,
    working_day_rows,
    working_days,
)
from kpi.metrics.rows import (
    customer_calls,
    deals,
    first_time_callers,
    followups,
    leads,
    meetings,
    targets,
    visits,
)
from kpi.metrics.table import API_METRICS, KPIS, PARTS, Kpi

__all__ = [
    "API_METRICS",
    "CARD_WINDOW",
    "CONVERSION_WINDOW",
    "COUNT",
    "KPIS",
    "PARTS",
    "PERCENT",
    "PER_DAY",
    "SCOPE_KINDS",
    "Kpi",
    "Metric",
    "Period",
    "Scope",
    "compute",
    "customer_calls",
    "deals",
    "drilldown",
    "first_time_callers",
    "followups",
    "has_rows",
    "leads",
    "meetings",
    "meetings_on_time",
    "percent",
    "quotient",
    "sales_completion_by_category",
    "targets",
    "visits",
    "working_day_rows",
    "working_days",
]
