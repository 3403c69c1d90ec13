"""Issue 13, point 8: per-agent daily targets (seed 001: 50–60 inbound and
70–80 outbound calls a person a day, and invitations) as store settings,
with progress on the agent's home and on team health."""

from datetime import timedelta
from itertools import count

import pytest
from django.urls import reverse
from django.utils import timezone

from followups import services
from kpi.goals import daily_goals
from kpi.models import KpiSettings
from telephony.models import Call, Direction, Disposition

pytestmark = pytest.mark.django_db

_keys = count()


def _call(agent, *, direction=Direction.OUTBOUND, disposition=Disposition.ANSWERED, when=None):
    started = when or timezone.now() - timedelta(minutes=5)
    return Call.objects.create(
        store=agent.store,
        key=f"goal-{next(_keys)}",
        started_at=started,
        ended_at=started + timedelta(minutes=1),
        direction=direction,
        disposition=disposition,
        external_number="+8613900000000",
        agent=agent,
        extension=agent.extension,
    )


def test_defaults_are_seed_001s_and_progress_counts_today(alice, bob, make_lead, store_a):
    for _ in range(3):
        _call(alice)
    _call(alice, direction=Direction.INBOUND)
    _call(alice, direction=Direction.INBOUND, disposition=Disposition.NO_ANSWER)  # not taken
    _call(alice, when=timezone.now() - timedelta(days=1, hours=1))  # yesterday
    _call(bob)
    services.appointment_book(
        actor=alice, lead=make_lead(alice), scheduled_at=timezone.now() + timedelta(days=2)
    )
    goals = daily_goals(agents=[alice, bob])
    mine = {g.key: (g.done, g.target) for g in goals[alice.pk]}
    assert mine == {"inbound": (1, 50), "outbound": (3, 70), "invitations": (1, 3)}
    assert {g.key: g.done for g in goals[bob.pk]} == {"inbound": 0, "outbound": 1, "invitations": 0}
    # The store's own targets.
    KpiSettings.objects.create(
        store=store_a, daily_inbound_calls=60, daily_outbound_calls=80, daily_invitations=1
    )
    goals = daily_goals(agents=[alice])
    assert [(g.key, g.target, g.met) for g in goals[alice.pk]] == [
        ("inbound", 60, False),
        ("outbound", 80, False),
        ("invitations", 1, True),
    ]


def test_the_agents_home_shows_their_goals(web, alice, bob):
    _call(alice)
    _call(bob)
    html = web(alice).get(reverse("desk:desk-extras"), HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="my-goals"' in html
    assert 'data-testid="goal-outbound" data-done="1" data-target="70"' in html


def test_team_health_shows_each_members_goals_in_scope(web, sue, alice, bob, carol, mike):
    _call(alice)
    _call(alice)
    _call(carol)
    html = web(sue).get("/").content.decode()  # sue supervises alice and bob
    assert 'data-testid="team-goals"' in html
    assert 'data-testid="goal-row" data-agent="alice"' in html
    assert 'data-testid="goal-row" data-agent="bob"' in html
    assert 'data-agent="carol"' not in html
    manager = web(mike).get("/").content.decode()
    assert 'data-testid="goal-row" data-agent="carol"' in manager


def test_a_manager_sets_the_targets(web, mike, alice, store_a):
    client = web(mike)
    page = client.get(reverse("kpi:settings")).content.decode()
    assert "daily_outbound_calls" in page
    data = {
        "store": store_a.pk,
        "morning_meeting_latest": "08:30",
        "evening_meeting_latest": "18:00",
        "working_weekdays": "123456",
        "daily_inbound_calls": 55,
        "daily_outbound_calls": 75,
        "daily_invitations": 4,
    }
    response = client.post(reverse("kpi:settings"), data)
    assert response.status_code == 302
    settings = KpiSettings.objects.get(store=store_a)
    assert (
        settings.daily_inbound_calls,
        settings.daily_outbound_calls,
        settings.daily_invitations,
    ) == (55, 75, 4)
    assert web(alice).get(reverse("kpi:settings")).status_code in (403, 404)


def test_goal_queries_do_not_grow_with_agents(
    alice, bob, carol, sue, django_assert_max_num_queries
):
    with django_assert_max_num_queries(3):
        daily_goals(agents=[alice, bob, carol, sue])
