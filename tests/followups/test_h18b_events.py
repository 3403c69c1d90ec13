"""Events (issue 18, point 6): invitations from the queue and from campaign
calls, capacity, the reminder SMS exactly once, the door's check-in and the
follow-ups of those who came; who may do what."""

from datetime import datetime, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from followups import sms
from followups.campaigns import calls, invitations
from followups.campaigns.models import CampaignMember
from followups.campaigns.models_outreach import EventInvitation
from followups.models import SmsKind, SmsMessage, SmsStatus
from leads.models import Lead, Source
from tests.campaign_helpers import launched_campaign, make_event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _outbox_only(settings):
    settings.SMS_BACKEND = "followups.backends.console.OutboxOnlyBackend"


@pytest.fixture
def event(store_a, mike):
    return make_event(mike, store_a, capacity=2, sms_template_id="200002")


@pytest.fixture
def member(store_a, team_a1, alice):
    campaign = launched_campaign(store_a, team=team_a1, members=1)
    calls.generate_for_campaign(campaign.pk)
    return CampaignMember.objects.get(campaign=campaign)


def test_only_managers_create_events_in_their_store(store_a, store_b, alice, mike):
    with pytest.raises(PermissionDenied):
        invitations.event_create(
            actor=alice, store=store_a, name="x", starts_at=timezone.now(), place="y", capacity=1
        )
    with pytest.raises(PermissionDenied):
        invitations.event_create(
            actor=mike, store=store_b, name="x", starts_at=timezone.now(), place="y", capacity=1
        )
    with pytest.raises(ValidationError):
        invitations.event_create(
            actor=mike, store=store_a, name="x", starts_at=timezone.now(), place="y", capacity=0
        )


def test_invite_from_the_queue_and_from_a_call(event, alice, make_lead, member):
    lead = make_lead(alice)
    from_queue = invitations.invite(actor=alice, event=event, lead=lead, rsvp="yes")
    assert (from_queue.customer, from_queue.lead, from_queue.rsvp) == (lead.customer, lead, "yes")
    from_call = invitations.invite(actor=alice, event=event, member=member, rsvp="maybe")
    member.refresh_from_db()
    assert from_call.member == member
    assert member.invited
    # Answering again changes the one invitation.
    again = invitations.invite(actor=alice, event=event, lead=lead, rsvp="no")
    assert again.pk == from_queue.pk
    assert again.rsvp == "no"
    assert EventInvitation.objects.filter(event=event).count() == 2


def test_yes_answers_never_pass_the_capacity(event, alice, make_lead):
    leads = [make_lead(alice, phone=f"1370000000{i}") for i in range(3)]
    invitations.invite(actor=alice, event=event, lead=leads[0], rsvp="yes")
    invitations.invite(actor=alice, event=event, lead=leads[1], rsvp="yes")
    with pytest.raises(ValidationError) as full:
        invitations.invite(actor=alice, event=event, lead=leads[2], rsvp="yes")
    assert "rsvp" in full.value.message_dict
    assert not EventInvitation.objects.filter(lead=leads[2]).exists()
    # A maybe still fits; a yes again by someone already coming too.
    invitations.invite(actor=alice, event=event, lead=leads[2], rsvp="maybe")
    invitations.invite(actor=alice, event=event, lead=leads[0], rsvp="yes")


def test_nobody_invites_what_they_may_not_see(event, alice, bob, dave, make_lead, member):
    lead = make_lead(bob)
    with pytest.raises(PermissionDenied):
        invitations.invite(actor=alice, event=event, lead=lead, rsvp="yes")
    with pytest.raises(PermissionDenied):
        invitations.invite(actor=bob, event=event, member=member, rsvp="yes")  # alice's call
    with pytest.raises(PermissionDenied):  # another store's event
        invitations.invite(actor=dave, event=event, lead=lead, rsvp="yes")


def test_one_reminder_the_day_before_template_only(event, alice, make_lead, settings):
    lead = make_lead(alice)
    for _n in range(3):
        invitation = invitations.invite(actor=alice, event=event, lead=lead, rsvp="yes")
    (message,) = SmsMessage.objects.filter(kind=SmsKind.CAMPAIGN, phone=lead.phone)
    assert invitation.reminder_sms == message
    assert message.template_id == "200002"
    assert message.params[:2] == [lead.customer.name, "春季试驾日"]
    assert message.params[3] == "浦东店展厅"
    assert message.send_after == sms.reminder_time(event.starts_at, store=event.store)
    assert message.idempotency_key == invitations.reminder_key(invitation)
    # "No" cancels it; yes again brings the same one message back.
    invitations.invite(actor=alice, event=event, lead=lead, rsvp="no")
    message.refresh_from_db()
    assert message.status == SmsStatus.CANCELLED
    invitations.invite(actor=alice, event=event, lead=lead, rsvp="maybe")
    message.refresh_from_db()
    assert message.status == SmsStatus.PENDING
    assert SmsMessage.objects.filter(phone=lead.phone).count() == 1


def test_the_reminder_is_sent_once_through_the_outbox(event, alice, make_lead):
    lead = make_lead(alice)
    invitation = invitations.invite(actor=alice, event=event, lead=lead, rsvp="yes")
    due = invitation.reminder_sms.send_after
    assert sms.send(invitation.reminder_sms.pk, now=due) == "sent"
    assert sms.send(invitation.reminder_sms.pk, now=due) == "skipped"


def test_no_reminder_without_a_template(store_a, mike, alice, make_lead):
    event = make_event(mike, store_a, name="无模板活动")
    invitation = invitations.invite(actor=alice, event=event, lead=make_lead(alice), rsvp="yes")
    assert invitation.reminder_sms is None


def test_check_in_once_and_the_follow_up_next_morning(event, alice, connie, make_lead, member):
    lead = make_lead(alice)
    guest = invitations.invite(actor=alice, event=event, lead=lead, rsvp="yes")
    first = invitations.check_in(actor=connie, invitation=guest)
    second = invitations.check_in(actor=connie, invitation=guest)
    assert first.checked_in_at == second.checked_in_at
    assert first.checked_in_by == connie
    lead.refresh_from_db()
    tomorrow = timezone.localdate() + timedelta(days=1)
    assert lead.next_followup_at == timezone.make_aware(datetime.combine(tomorrow, time(10)))

    # A campaign member without a lead gets one, owned by whoever invited them.
    from_call = invitations.invite(actor=alice, event=event, member=member, rsvp="yes")
    invitations.check_in(actor=connie, invitation=from_call)
    member.refresh_from_db()
    new = member.lead
    assert new is not None
    assert new.owner == alice
    assert new.source == Source.REPURCHASE
    assert new.next_followup_at is not None
    assert Lead.objects.filter(phone=member.phone).count() == 1


def test_door_search_and_who_may_check_in(event, alice, bob, connie, mike, dave, make_lead):
    lead = make_lead(alice, name="王大明", phone="13711112222")
    other = make_lead(alice, name="李小红", phone="13733334444")
    invitations.invite(actor=alice, event=event, lead=lead, rsvp="yes")
    declined = invitations.invite(actor=alice, event=event, lead=other, rsvp="no")
    names = [g.customer.name for g in invitations.door_list(user=connie, event=event)]
    assert names == ["王大明"]  # "no" answers stay off the door's list
    assert [
        g.customer.name for g in invitations.door_list(user=connie, event=event, query="1111")
    ] == ["王大明"]
    assert not invitations.door_list(user=connie, event=event, query="张")
    with pytest.raises(PermissionDenied):
        invitations.door_list(user=bob, event=event)
    with pytest.raises(PermissionDenied):
        invitations.check_in(actor=alice, invitation=declined)


def test_door_page_is_for_the_door(event, alice, connie, dave, make_lead, web):
    lead = make_lead(alice, name="王大明", phone="13711112222")
    guest = invitations.invite(actor=alice, event=event, lead=lead, rsvp="yes")
    client = web(connie)
    page = client.get(f"/campaigns/events/{event.pk}/door/?q=王")
    assert page.status_code == 200
    assert "王大明" in page.content.decode()
    assert 'data-testid="door-check-in"' in page.content.decode()
    done = client.post(f"/campaigns/events/{event.pk}/door/{guest.pk}/", HTTP_HX_REQUEST="true")
    assert done.status_code == 200
    assert 'data-testid="door-arrived"' in done.content.decode()
    assert web(alice).get(f"/campaigns/events/{event.pk}/door/").status_code == 403
    assert web(dave).get(f"/campaigns/events/{event.pk}/").status_code == 404


def test_invite_a_lead_from_its_page(event, alice, make_lead, web):
    lead = make_lead(alice)
    client = web(alice)
    assert client.get(f"/campaigns/events/invite/lead/{lead.pk}/").status_code == 200
    response = client.post(
        f"/campaigns/events/invite/lead/{lead.pk}/", {"event": event.pk, "rsvp": "yes"}
    )
    assert response.status_code == 302
    assert EventInvitation.objects.get(event=event).lead == lead


def test_events_api(event, alice, bob, connie, mike, mary, make_lead, member, api):
    assert api(mary).get(f"/api/v1/events/{event.pk}/").status_code == 404
    assert api(alice).get("/api/v1/events/").json()["count"] == 1
    created = api(mike).post(
        "/api/v1/events/",
        {
            "name": "车展",
            "starts_at": (timezone.now() + timedelta(days=9)).isoformat(),
            "place": "会展中心",
            "capacity": 50,
        },
    )
    assert created.status_code == 201, created.json()
    assert api(alice).post("/api/v1/events/", {"name": "x"}).status_code == 403

    lead = make_lead(alice)
    invited = api(alice).post(
        "/api/v1/event-invitations/", {"event": event.pk, "lead": lead.pk, "rsvp": "yes"}
    )
    assert invited.status_code == 201, invited.json()
    both = api(alice).post(
        "/api/v1/event-invitations/",
        {"event": event.pk, "lead": lead.pk, "member": member.pk, "rsvp": "yes"},
    )
    assert both.status_code == 400
    # Bob's lead is not his to name: 400 (outside his scope), like other ids.
    assert (
        api(bob)
        .post("/api/v1/event-invitations/", {"event": event.pk, "lead": lead.pk, "rsvp": "yes"})
        .status_code
        == 400
    )
    pk = invited.json()["id"]
    assert api(alice).post(f"/api/v1/event-invitations/{pk}/check-in/").status_code == 403
    assert api(mary).post(f"/api/v1/event-invitations/{pk}/check-in/").status_code in (403, 404)
    arrived = api(connie).post(f"/api/v1/event-invitations/{pk}/check-in/")
    assert arrived.status_code == 200
    assert arrived.json()["checked_in_at"]
    assert api(bob).get(f"/api/v1/event-invitations/{pk}/").status_code == 404
