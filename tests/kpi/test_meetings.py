"""The meeting log and the meetings KPI (晨会夕会, DESIGN §3, seed 000):
working days with both meetings held on time ÷ working days."""

from datetime import date, time
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from kpi import services
from kpi.metrics import Period, Scope, compute, drilldown, meetings_on_time
from kpi.models import Meeting
from tests.kpi.conftest import OCTOBER, at

pytestmark = pytest.mark.django_db


@pytest.fixture
def meet(mike):
    def record(team, kind, when, attendees=()):
        return services.meeting_record(
            actor=mike, team=team, kind=kind, held_at=when, attendees=list(attendees)
        )

    return record


@pytest.fixture
def scenario(meet, team_a1, team_a2, alice, bob, carol):
    # October 2026 starts on a Thursday; Monday–Saturday gives 27 working days.
    both = (alice, bob)
    # Thu 1 Oct: 08:30:00 (the latest on-time start) and 18:00 → a day.
    meet(team_a1, "morning", at(10, 1, 8, 30), both)
    meet(team_a1, "evening", at(10, 1, 18, 0), both)
    # Fri 2 Oct: morning at 08:31 is late → no day.
    meet(team_a1, "morning", at(10, 2, 8, 31), both)
    meet(team_a1, "evening", at(10, 2, 17, 30), both)
    # Sat 3 Oct: no evening meeting → no day.
    meet(team_a1, "morning", at(10, 3, 8), both)
    # Sun 4 Oct: both on time, but Sunday is no working day.
    meet(team_a1, "morning", at(10, 4, 8), both)
    meet(team_a1, "evening", at(10, 4, 17), both)
    # Mon 5 Oct: a late second morning meeting changes nothing → a day; bob
    # missed the morning.
    meet(team_a1, "morning", at(10, 5, 8, 15), [alice])
    meet(team_a1, "morning", at(10, 5, 9), [alice])
    meet(team_a1, "evening", at(10, 5, 17, 45), both)
    # Sat 31 Oct: evening at 17:59:59 → a day; only bob came.
    meet(team_a1, "morning", at(10, 31, 8), [bob])
    meet(team_a1, "evening", at(10, 31, 17, 59, 59), [bob])
    # Team A2 (carol): Thu 1 Oct → a day.
    meet(team_a2, "morning", at(10, 1, 8), [carol])
    meet(team_a2, "evening", at(10, 1, 17), [carol])


def rate(scope, period=OCTOBER, today=None):
    metric = meetings_on_time(scope, period, today=today or date(2026, 11, 25))
    return metric.numerator, metric.denominator, metric.value


def test_meetings_on_time_per_team_store_and_attendee(
    scenario, store_a, team_a1, team_a2, alice, bob
):
    # Team A1: 1, 5 and 31 Oct = 3 of 27 → 11.11 %; team A2: 1 of 27 → 3.70 %.
    assert rate(Scope("team", team_a1.pk)) == (3, 27, Decimal("11.11"))
    assert rate(Scope("team", team_a2.pk)) == (1, 27, Decimal("3.70"))
    # Store: team-days 3 + 1 = 4 of 2 teams × 27 = 54 → 7.41 %.
    assert rate(Scope("store", store_a.pk)) == (4, 54, Decimal("7.41"))
    # alice attended both on 1 and 5 Oct; bob on 1 and 31 Oct → 2 / 27 each.
    assert rate(Scope("agent", alice.pk)) == (2, 27, Decimal("7.41"))
    assert rate(Scope("agent", bob.pk)) == (2, 27, Decimal("7.41"))
    # compute() reports the same figure.
    assert compute(Scope("team", team_a1.pk), OCTOBER)["meetings_on_time"].numerator == 3


def test_on_time_rule_and_working_days_are_store_settings(scenario, store_a, team_a1, mike):
    team = Scope("team", team_a1.pk)
    # Morning meetings on time until 08:31: Fri 2 Oct counts too → 4 / 27 = 14.81 %.
    services.kpi_settings_update(actor=mike, store=store_a, morning_meeting_latest=time(8, 31))
    assert rate(team) == (4, 27, Decimal("14.81"))
    # Back to 08:30, every day a working day: 31 days, Sunday 4 Oct counts:
    # 1, 4, 5 and 31 Oct = 4 / 31 = 12.90 %.
    services.kpi_settings_update(
        actor=mike,
        store=store_a,
        morning_meeting_latest=time(8, 30),
        working_weekdays="1234567",
    )
    assert rate(team) == (4, 31, Decimal("12.90"))


def test_working_days_stop_today_and_the_future_has_none(team_a1, team_a2, alice):
    team = Scope("team", team_a1.pk)
    # November 2026 on the 10th: Mon 2 – Sat 7 and Mon 9 – Tue 10 = 8 days.
    november = Period.month(2026, 11)
    assert rate(team, november, today=date(2026, 11, 10)) == (0, 8, Decimal("0.00"))
    assert rate(team, november, today=date(2026, 10, 20)) == (0, 0, None)
    # A team without an active member owes no meetings.
    assert rate(Scope("team", team_a2.pk), november, today=date(2026, 11, 10)) == (0, 0, None)


def test_meetings_drill_down_to_the_log(scenario, team_a1):
    team = Scope("team", team_a1.pk)
    on_time = drilldown(team, OCTOBER, "meetings_on_time", "numerator")
    everything = drilldown(team, OCTOBER, "meetings_on_time", "denominator")
    # 12 meetings of team A1 in October; late: 2 Oct 08:31 and 5 Oct 09:00.
    assert (everything.count(), on_time.count()) == (12, 10)


def test_meeting_log_rules(sue, alice, carol, team_a1, team_a2, mike):
    now = timezone.now()
    meeting = services.meeting_record(
        actor=sue, team=team_a1, kind="morning", held_at=now, attendees=[alice, sue]
    )
    assert set(meeting.attendees.all()) == {alice, sue}
    assert meeting.recorded_by == sue
    assert meeting.store == team_a1.store
    with pytest.raises(PermissionDenied):  # agents do not keep the log
        services.meeting_record(actor=alice, team=team_a1, kind="morning", held_at=now)
    with pytest.raises(PermissionDenied):  # another team than the supervisor's
        services.meeting_record(actor=sue, team=team_a2, kind="morning", held_at=now)
    with pytest.raises(ValidationError):  # carol is not in team A1
        services.meeting_record(
            actor=sue, team=team_a1, kind="evening", held_at=now, attendees=[carol]
        )
    with pytest.raises(ValidationError):  # a supervisor logs today's meetings only
        services.meeting_record(actor=sue, team=team_a1, kind="evening", held_at=at(10, 1, 17))
    with pytest.raises(ValidationError):
        services.meeting_record(actor=sue, team=team_a1, kind="lunch", held_at=now)
    assert Meeting.objects.count() == 1
