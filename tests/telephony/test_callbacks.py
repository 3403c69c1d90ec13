"""Missed-call callbacks (issue 14 §2): a customer's call no agent answered
waits in the lead owner's queue, or in the store's shared list for a number
no lead has; a connected call back (in the log) or a logged follow-up that
reached the customer clears it; the call statistics page counts missed
calls and how soon they were called back."""

import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from followups import services as followups
from leads import services as leads
from telephony import callbacks
from telephony import services as telephony
from telephony.models import Call
from tests.kpi.test_calls_as_they_happened import (
    cdr,
    direct,
    ivr_hangup,
    outbound,
    s,
)

pytestmark = pytest.mark.django_db

TRUNK = "PJSIP/ct-trunk-00009"


def queue_abandoned(number, t, linked):
    return [
        cdr(number, "400", TRUNK, "", "Queue", "400,t", t, t, t + s(50), 50, "ANSWERED", linked),
        cdr(number, "400", TRUNK, "Local/8001@from-queue-0001;1", "Queue", "400,t", t + s(2),
            None, t + s(50), 0, "NO ANSWER", linked),
    ]  # fmt: skip


def load(actor, lines):
    return telephony.import_cdr(
        actor=actor,
        store=actor.store,
        fileobj=io.BytesIO("".join(lines).encode()),
        file_name="Master.csv",
    )


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def alices_lead(alice, mike, envision):
    return leads.lead_create(
        actor=mike,
        store=alice.store,
        phone="+8613855550001",
        owner=alice,
        name="王先生",
        source="web",
        intended_model=envision,
        received_at=timezone.now() - timedelta(days=3),
    )


def test_a_missed_call_waits_in_the_owners_queue_until_called_back(
    alice, bob, mike, alices_lead, now
):
    missed_at = now - timedelta(hours=3)
    load(mike, ivr_hangup("13855550001", missed_at, "MISS"))
    mine = callbacks.for_agent(alice, now=now)["mine"]
    assert [(item.number, item.lead, item.missed) for item in mine] == [
        ("+8613855550001", alices_lead, 1)
    ]
    assert mine[0].waited == timedelta(hours=3)
    assert callbacks.for_agent(bob, now=now) == {"mine": [], "shared": []}
    # An unanswered call back does not clear it; a connected one does.
    load(mike, outbound("8001", "13855550001", missed_at + s(600), "TRY", answered=False))
    assert len(callbacks.for_agent(alice, now=now)["mine"]) == 1
    load(mike, outbound("8001", "13855550001", missed_at + s(1200), "BACK"))
    assert callbacks.for_agent(alice, now=now)["mine"] == []

    figures = callbacks.callback_stats(Call.objects.filter(store=alice.store))
    assert (figures.missed, figures.within_30_minutes, figures.within_2_hours) == (1, 1, 1)


def test_a_logged_follow_up_that_reached_the_customer_clears_it(alice, mike, alices_lead, now):
    load(mike, ivr_hangup("13855550001", now - timedelta(hours=1), "MISS"))
    followups.followup_log(actor=alice, lead=alices_lead, channel="call", result="no_answer")
    assert len(callbacks.for_agent(alice, now=timezone.now())["mine"]) == 1
    followups.followup_log(actor=alice, lead=alices_lead, channel="call", result="reached")
    assert callbacks.for_agent(alice, now=timezone.now())["mine"] == []


def test_an_unknown_number_goes_to_the_stores_shared_list_and_is_taken_once(
    alice, bob, dave, mike, now
):
    load(mike, queue_abandoned("13955550009", now - timedelta(minutes=40), "ABANDON"))
    call = Call.objects.get(key="ABANDON")
    assert (call.answered_by, call.extension, call.queue) == ("system", "", "400")
    for agent in (alice, bob):
        shared = callbacks.for_agent(agent, now=now)["shared"]
        assert [item.number for item in shared] == ["+8613955550009"]
        assert shared[0].waited_minutes == 40
    # Another store's agent neither sees nor takes it.
    assert callbacks.for_agent(dave, now=now)["shared"] == []
    assert callbacks.claim(dave, call.pk, now=now) == 0
    assert callbacks.claim(alice, call.pk, now=now) == 1
    assert callbacks.claim(bob, call.pk, now=now) == 0
    assert [item.number for item in callbacks.for_agent(alice, now=now)["mine"]] == [
        "+8613955550009"
    ]
    assert callbacks.for_agent(bob, now=now) == {"mine": [], "shared": []}


def test_the_desk_shows_the_section_and_an_agent_takes_a_number(web, alice, mike, now):
    load(mike, queue_abandoned("13955550009", now - timedelta(minutes=5), "ABANDON"))
    call = Call.objects.get(key="ABANDON")
    home = web(alice).get(reverse("desk:home")).content.decode()
    # The desk fetches its callbacks section as it loads (htmx, out of band).
    assert reverse("desk:desk-extras") in home
    page = web(alice).get(reverse("desk:desk-extras"), HTTP_HX_REQUEST="true")
    html = page.content.decode()
    assert 'data-testid="callbacks"' in html
    assert 'data-testid="callback-shared"' in html
    assert f'name="next" value="{reverse("desk:home")}"' in html  # back to the desk
    response = web(alice).post(reverse("telephony:callback-claim", args=[call.pk]))
    assert response.status_code == 302
    call.refresh_from_db()
    assert call.callback_claimed_by == alice


def test_a_manager_cannot_take_call_backs(web, mike, now):
    load(mike, queue_abandoned("13955550009", now - timedelta(minutes=5), "ABANDON"))
    call = Call.objects.get(key="ABANDON")
    response = web(mike).post(reverse("telephony:callback-claim", args=[call.pk]))
    assert response.status_code == 403
    call.refresh_from_db()
    assert call.callback_claimed_by is None


def test_the_call_statistics_page_counts_missed_calls_and_call_backs(web, mike, now):
    start = now - timedelta(hours=6)
    lines = ivr_hangup("13955550001", start, "M1") + ivr_hangup("13955550002", start, "M2")
    lines += direct("13955550001", start + s(600), "BACK1")  # they called again, reached
    load(mike, lines)
    response = web(mike).get(reverse("telephony:call-stats"), {"period": "week"})
    html = response.content.decode()
    assert 'data-testid="callback-missed">2<' in html
    assert 'data-testid="callback-30m">50.00%<' in html
