"""Merging two leads of one customer: nothing is lost (every follow-up,
visit, call, recording and deal counted before and after), the merged lead
is closed and not counted twice, and a manager decides who keeps the lead
when both owners worked theirs."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from dcc.models import AuditEvent
from followups.models import Appointment, FollowUp
from followups.services import appointment_arrive, appointment_book, followup_log
from leads.lifecycle import LeadStateError
from leads.models import Deal, Lead, Status
from leads.services import deal_record, lead_merge, merge_survivor
from telephony.models import Call, Recording
from tests.telephony.builders import make_call


def _recording(lead, agent, call):
    return Recording.objects.create(
        store=lead.store,
        call=call,
        key=f"rec-{call.pk}",
        file=f"recordings/test/{call.pk}.wav",
        original_name=f"{call.pk}.wav",
        sha256=f"{call.pk:064d}",
        started_at=call.started_at,
        direction="outbound",
        agent=agent,
        lead=lead,
    )


def _work(lead, agent, manager):
    followup_log(actor=agent, lead=lead, channel="call", result="reached")
    followup_log(actor=agent, lead=lead, channel="wechat", result="reached")
    call = make_call(agent, timezone.now() - timedelta(hours=1), lead=lead)
    _recording(lead, agent, call)
    return call


def _counts(*leads):
    ids = [lead.pk for lead in leads]
    return {
        "followups": FollowUp.objects.filter(lead__in=ids).count(),
        "appointments": Appointment.objects.filter(lead__in=ids).count(),
        "calls": Call.objects.filter(lead__in=ids).count(),
        "recordings": Recording.objects.filter(lead__in=ids).count(),
        "deals": Deal.objects.filter(lead__in=ids).count(),
    }


@pytest.fixture
def pair(alice, bob, mike, make_lead, gl8):
    """alice entered the customer first; bob entered them again with their
    other number, booked and received a visit, and took an order."""
    first = make_lead(alice, phone="13911110000", name="周杰")
    second = make_lead(bob, phone="13922220000", name="周杰")
    _work(first, alice, mike)
    _work(second, bob, mike)
    visit = appointment_book(
        actor=bob, lead=second, scheduled_at=timezone.now() + timedelta(hours=2)
    )
    appointment_arrive(actor=mike, appointment=visit, arrived_at=timezone.now())
    deal_record(actor=mike, lead=second, vehicle_model=gl8, stage="order")
    return first, second


def test_merge_loses_nothing_and_a_manager_decides_the_owner(pair, mike, bob, alice):
    first, second = pair
    keep, merge = merge_survivor(second, first)
    assert (keep, merge) == (first, second)  # the first entry is kept
    before = _counts(first, second)
    assert before == {"followups": 4, "appointments": 1, "calls": 2, "recordings": 2, "deals": 1}

    # Both owners worked their lead: the merge waits for a decision.
    with pytest.raises(ValidationError) as refused:
        lead_merge(actor=mike, keep=keep, merge=merge)
    assert "owner" in refused.value.message_dict
    assert Lead.objects.get(pk=second.pk).status != Status.MERGED

    lead_merge(actor=mike, keep=keep, merge=merge, owner=bob, reason="同一客户两个号码")
    keep.refresh_from_db()
    merge.refresh_from_db()
    assert _counts(keep) == before  # everything now on the lead kept
    assert _counts(merge) == dict.fromkeys(before, 0)
    assert merge.status == Status.MERGED
    assert merge.merged_into_id == keep.pk
    assert keep.owner == bob
    assert keep.status == Status.ORDERED  # it came as far as the duplicate had
    assert keep.customer_id == merge.customer_id  # one customer, both numbers
    assert set(keep.customer.phones.values_list("number", flat=True)) == {
        "+8613911110000",
        "+8613922220000",
    }
    # One first call per lead, the earliest; the follow-ups keep their agents.
    assert FollowUp.objects.filter(lead=keep, is_first_call=True).count() == 1
    assert set(FollowUp.objects.filter(lead=keep).values_list("agent", flat=True)) == {
        alice.pk,
        bob.pk,
    }
    # Recorded: the history rows and the audit event.
    event = AuditEvent.objects.get(name="leads.lead.merged")
    assert event.data["merged"] == merge.pk
    assert event.data["owner_decided"] is True
    assert merge.history.first().history_change_reason == "同一客户两个号码"
    # Not counted twice by the figures.
    assert set(Lead.objects.counted().values_list("pk", flat=True)) == {keep.pk}
    # The phone of the merged lead is free for nothing else: merging again is refused.
    with pytest.raises(LeadStateError):
        lead_merge(actor=mike, keep=keep, merge=merge, owner=bob)


def test_first_entrys_owner_keeps_when_only_one_worked(alice, bob, mike, make_lead):
    first = make_lead(alice, phone="13933330000", name="吴磊")
    second = make_lead(bob, phone="13944440000", name="吴磊")
    followup_log(actor=bob, lead=second, channel="call", result="reached")
    lead_merge(actor=mike, keep=first, merge=second)
    first.refresh_from_db()
    assert first.owner == alice
    assert FollowUp.objects.filter(lead=first).count() == 1


def test_the_later_entry_cannot_be_kept_and_two_booked_visits_refuse(alice, bob, mike, make_lead):
    first = make_lead(alice, phone="13955550000", name="郑爽")
    second = make_lead(bob, phone="13966660000", name="郑爽")
    with pytest.raises(ValidationError):
        lead_merge(actor=mike, keep=second, merge=first)
    soon = timezone.now() + timedelta(days=1)
    appointment_book(actor=alice, lead=first, scheduled_at=soon)
    appointment_book(actor=bob, lead=second, scheduled_at=soon)
    with pytest.raises(LeadStateError):
        lead_merge(actor=mike, keep=first, merge=second, owner=alice)
    assert Appointment.objects.filter(lead=second).count() == 1  # nothing moved


def test_roles_and_scope(alice, bob, sue, mary, make_lead):
    first = make_lead(alice, phone="13977770000", name="王菲")
    second = make_lead(bob, phone="13988880000", name="王菲")
    for actor in (alice, sue):  # wrong role
        with pytest.raises(PermissionDenied):
            lead_merge(actor=actor, keep=first, merge=second)
    with pytest.raises(PermissionDenied):  # another store's manager
        lead_merge(actor=mary, keep=first, merge=second)
    assert not Lead.objects.filter(status=Status.MERGED).exists()
