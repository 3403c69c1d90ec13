"""Demo meetings and targets for `make run` (after ``telephony.demo``): the
meetings figure and the sales completion have something true to show.

- 晨会夕会: every team held both meetings on each working day of last month
  and of this month up to today, at 08:20 and 17:45; now and then one
  started late (08:40) or was missed, so the figure is not 100 %.
- 任务分配表: each agent's and caller's units per model category for last
  month and this month, set by the store's manager.

Through ``kpi.services`` (the manager may record past meetings). Idempotent:
a store with meetings is left alone.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from dcc.models import Store, Team, User
from dcc.roles import Role
from kpi import services
from kpi.metrics.figures import store_weekdays
from kpi.models import Meeting, MeetingKind

MORNING, LATE_MORNING, EVENING = time(8, 20), time(8, 40), time(17, 45)
MINUTES = {
    MeetingKind.MORNING: "通报昨日数据，明确今日邀约目标",
    MeetingKind.EVENING: "复盘当日通话与邀约",
}


def load():
    for store in Store.objects.filter(code__in=["SH01", "SZ01"]).order_by("code"):
        if Meeting.objects.filter(store=store).exists():
            continue
        manager = User.objects.filter(store=store, role=Role.MANAGER).order_by("pk").first()
        if manager is None:
            continue
        rng = random.Random(f"dcc-kpi-demo-{store.code}")  # noqa: S311 - demo data
        _meetings(store, manager, rng)
        _targets(store, manager, rng)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _meetings(store, manager, rng) -> None:
    now = timezone.now()
    today = timezone.localdate(now)
    first = _month_start(_month_start(today) - timedelta(days=1))
    weekdays = store_weekdays([store.pk])[store.pk]
    for team in Team.objects.filter(store=store).order_by("pk"):
        members = list(User.objects.filter(team=team, is_active=True))
        if not members:
            continue
        day = first
        while day <= today:
            if day.isoweekday() in weekdays:
                roll = rng.random()
                for kind, at in ((MeetingKind.MORNING, MORNING), (MeetingKind.EVENING, EVENING)):
                    if kind == MeetingKind.MORNING and roll < 0.08:
                        at = LATE_MORNING
                    if kind == MeetingKind.EVENING and roll > 0.95:
                        continue  # missed
                    held_at = timezone.make_aware(datetime.combine(day, at))
                    if held_at > now:
                        continue
                    absent = rng.choice(members) if rng.random() < 0.2 else None
                    services.meeting_record(
                        actor=manager,
                        team=team,
                        kind=kind,
                        held_at=held_at,
                        attendees=[m for m in members if m != absent],
                        minutes="通报昨日数据，明确今日邀约目标"
                        if kind == MeetingKind.MORNING
                        else "复盘当日通话与邀约",
                    )
            day += timedelta(days=1)


def _targets(store, manager, rng) -> None:
    today = timezone.localdate()
    categories = services.target_categories()
    for month in (_month_start(_month_start(today) - timedelta(days=1)), _month_start(today)):
        for team in Team.objects.filter(store=store).order_by("pk"):
            members = User.objects.filter(
                team=team, is_active=True, role__in=(Role.AGENT, Role.CALLER)
            )
            units = {
                (member.pk, category): rng.randint(1, 4)
                for member in members
                for category in categories
            }
            if units:
                services.targets_set(actor=manager, team=team, month=month, units=units)
