"""Daily goals (issue 13, point 8): each agent's calls and invitations of
the day against the store's per-agent daily targets (``KpiSettings``: seed
001's 50–60 inbound and 70–80 outbound calls a person a day, and visits
booked). Read by the agent's home and by team health.

Grouped SQL: one query for the calls, one for the bookings, one for the
stores' targets, whatever the number of agents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dcc.timeutils import local_day_start
from followups.models import Appointment
from kpi.models import KpiSettings
from telephony.models import Call, Direction, Disposition

GOALS = {
    "inbound": (_("Inbound calls"), "daily_inbound_calls"),
    "outbound": (_("Outbound calls"), "daily_outbound_calls"),
    "invitations": (_("Visits booked"), "daily_invitations"),
}


@dataclass
class Goal:
    key: str
    label: str
    done: int
    target: int

    @property
    def met(self) -> bool:
        return self.done >= self.target


def _targets(store_ids) -> dict[int, dict[str, int]]:
    defaults = {field: KpiSettings._meta.get_field(field).default for _l, field in GOALS.values()}
    saved = {
        row["store"]: row
        for row in KpiSettings.objects.filter(store__in=set(store_ids)).values("store", *defaults)
    }
    return {store: {**defaults, **saved.get(store, {})} for store in store_ids}


def daily_goals(*, agents, now: datetime | None = None) -> dict[int, list[Goal]]:
    """``{agent id: [Goal, …]}`` for today (local): customer calls the agent
    had, in and out, and store visits they booked (walk-ins are not
    invitations). ``agents`` are users already scoped by the caller."""
    agents = list(agents)
    if not agents:
        return {}
    now = now or timezone.now()
    today = timezone.localdate(now)
    start, end = local_day_start(today), local_day_start(today + timedelta(days=1))
    ids = [agent.pk for agent in agents]
    calls = {
        row["agent"]: row
        for row in Call.objects.filter(agent__in=ids, started_at__gte=start, started_at__lt=end)
        .values("agent")
        .annotate(
            # 接听来电: calls the agent answered; 呼出电话: every call they made.
            inbound=Count(
                "pk", filter=Q(direction=Direction.INBOUND, disposition=Disposition.ANSWERED)
            ),
            outbound=Count("pk", filter=Q(direction=Direction.OUTBOUND)),
        )
        .order_by()
    }
    booked = dict(
        Appointment.objects.filter(
            agent__in=ids, created_at__gte=start, created_at__lt=end, is_walk_in=False
        )
        .values_list("agent")
        .annotate(n=Count("pk"))
        .order_by()
    )
    targets = _targets([agent.store_id for agent in agents])
    result = {}
    for agent in agents:
        done = {**calls.get(agent.pk, {}), "invitations": booked.get(agent.pk, 0)}
        store_targets = targets[agent.store_id]
        result[agent.pk] = [
            Goal(key, str(label), done.get(key, 0), store_targets[field])
            for key, (label, field) in GOALS.items()
        ]
    return result
