"""Telephony pages: call statistics and unverified follow-ups (issue 5 §6,
§7). Routes in ``urlpatterns``, collected by telephony.urls.

Both pages read ``telephony.stats`` for a period (this month unless chosen)
and drill down with htmx from the same view: ``?agent=`` answers with the
fragment for one agent (their days, or their unverified follow-ups), or the
whole page showing it when the request is not htmx's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext_lazy as _

from dcc.htmx import is_partial
from dcc.policy import capability_required
from dcc.timeutils import local_day_start
from telephony import callbacks, stats
from telephony.models import Call

PAGE_SIZE = 50
# A custom period longer than this is cut to its last this many days.
LONGEST_PERIOD = timedelta(days=366)

PERIODS = {
    "today": _("Today"),
    "yesterday": _("Yesterday"),
    "week": _("This week"),
    "month": _("This month"),
    "last_month": _("Last month"),
    "custom": _("Custom"),
}


@dataclass(frozen=True)
class Period:
    """Local days from ``first`` to ``last``, both included."""

    key: str
    first: date
    last: date

    @property
    def since(self):
        return local_day_start(self.first)

    @property
    def until(self):
        return local_day_start(self.last + timedelta(days=1))


def _date(text: str | None) -> date | None:
    try:
        return parse_date(text or "")
    except ValueError:  # well formed but no such day (2024-02-30)
        return None


def period_from(params, today: date) -> Period:
    """The period a page's ``?period=`` (and ``start``/``end`` for a custom
    one) names; this month by default. Weeks start on Monday."""
    key = params.get("period") or ("custom" if params.get("start") else "month")
    month_start = today.replace(day=1)
    if key == "today":
        return Period(key, today, today)
    if key == "yesterday":
        yesterday = today - timedelta(days=1)
        return Period(key, yesterday, yesterday)
    if key == "week":
        return Period(key, today - timedelta(days=today.weekday()), today)
    if key == "last_month":
        last = month_start - timedelta(days=1)
        return Period(key, last.replace(day=1), last)
    if key == "custom":
        first = _date(params.get("start")) or month_start
        last = _date(params.get("end")) or today
        if first > last:
            first, last = last, first
        first = max(first, last - LONGEST_PERIOD)
        return Period(key, first, last)
    return Period("month", month_start, today)


def _query(request) -> str:
    """The page's filters as a query string, for the drill-down links."""
    query = request.GET.copy()
    for name in ("agent", "page"):
        query.pop(name, None)
    return query.urlencode()


def _scope(request):
    """The stores the user reads (with their settings and call-log reach)
    and the one chosen in ``?store=`` (None: all of them)."""
    logs = stats.store_logs(request.user)
    wanted = request.GET.get("store")
    if not wanted:
        return logs, logs, None
    chosen = [log for log in logs if str(log.store.pk) == wanted]
    if not chosen:
        raise Http404("no such store")
    return logs, chosen, chosen[0].store


def _agent(request, store):
    wanted = request.GET.get("agent")
    if not wanted:
        return None
    if not wanted.isdigit():
        raise Http404("no such agent")
    return get_object_or_404(
        stats.staff_in_scope(request.user, store=store).select_related("team"), pk=wanted
    )


def _context(request, period: Period, logs, shown, store) -> dict:
    return {
        "period": period,
        "periods": PERIODS.items(),
        "query": _query(request),
        "stores": [log.store for log in logs],
        "store": store,
        "logs": shown,
    }


@capability_required("telephony.stats.view")
def call_stats(request):
    """Calls per agent in the period (a totals row under them); an agent's
    days below the table on a click."""
    user = request.user
    period = period_from(request.GET, timezone.localdate())
    logs, shown, store = _scope(request)
    agent = _agent(request, store)
    context = _context(request, period, logs, shown, store)
    limits = sorted({log.answer_within_seconds for log in shown})
    context["answer_within"] = limits[0] if len(limits) == 1 else None
    if agent is not None:
        days = stats.call_stats(
            user, since=period.since, until=period.until, by="day", store=store, agent=agent
        )
        context.update(agent=agent, days=days, days_total=stats.total(days))
        if is_partial(request):
            return render(request, "telephony/partials/stats_agent_days.html", context)
    rows = stats.call_stats(user, since=period.since, until=period.until, by="agent", store=store)
    context.update(rows=rows, total=stats.total(rows))
    calls = Call.objects.visible_to(user).filter(
        started_at__gte=period.since, started_at__lt=period.until
    )
    if store is not None:
        calls = calls.filter(store=store)
    context["callbacks"] = callbacks.callback_stats(calls)
    return render(request, "telephony/stats_calls.html", context)


@capability_required("telephony.stats.view")
def verification(request):
    """Call follow-ups per agent by what the call log says; an agent's
    unverified ones below the table on a click."""
    user = request.user
    period = period_from(request.GET, timezone.localdate())
    logs, shown, store = _scope(request)
    agent = _agent(request, store)
    context = _context(request, period, logs, shown, store)
    windows = sorted({log.verify_window_minutes for log in shown})
    context["window"] = windows[0] if len(windows) == 1 else None
    context["without_log"] = [log.store for log in shown if not log.has_log]
    if agent is not None:
        followups = stats.unverified_followups(
            user, since=period.since, until=period.until, agent=agent, store=store, logs=shown
        )
        context.update(
            agent=agent, page=Paginator(followups, PAGE_SIZE).get_page(request.GET.get("page"))
        )
        if is_partial(request):
            return render(request, "telephony/partials/verification_unverified.html", context)
    rows = stats.verification_summary(
        user, since=period.since, until=period.until, store=store, logs=shown
    )
    context.update(rows=rows, total=stats.verification_total(rows))
    return render(request, "telephony/verification_followups.html", context)


urlpatterns = [
    path("stats/calls/", call_stats, name="call-stats"),
    path("stats/verification/", verification, name="verification"),
]
