"""The lead rules of DESIGN §2, through the services that own them."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from dcc.models import Absence, AuditEvent
from dcc.roles import Role
from leads import services
from leads.lifecycle import LeadStateError
from leads.models import Customer, CustomerPhone, Lead, Source, Status
from leads.services import DuplicateLead
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- phones and names


@pytest.mark.parametrize(
    "raw",
    ["13812345678", "138-1234-5678", "+86 138 1234 5678", "008613812345678", "013812345678"],
)
def test_every_way_of_writing_a_mobile_is_one_customer(alice, make_lead, raw):
    first = make_lead(alice, phone="13812345678")
    with pytest.raises(DuplicateLead) as exc:
        make_lead(alice, phone=raw)
    assert exc.value.existing == first


def test_local_landline_gets_the_store_area_code(alice, make_lead):
    lead = make_lead(alice, phone="6234 5678")  # store A's area code is 021
    assert lead.phone == "+862162345678"


@pytest.mark.parametrize("raw", ["12345", "1381234567", "+85291234567", "4008001234", "abc", ""])
def test_invalid_phones_are_rejected_with_a_message(alice, make_lead, raw):
    with pytest.raises(ValidationError) as exc:
        make_lead(alice, phone=raw or " ")
    assert "phone" in exc.value.message_dict
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    ("name", "full"),
    [
        ("王小明", True),
        ("欧阳娜娜", True),
        ("王先生", False),
        ("李女士", False),
        ("张总", False),
        ("客户", False),
        ("王", False),
        ("John Smith", True),
    ],
)
def test_full_name_rule_for_a_cards(name, full):
    assert services.is_full_name(name) is full


def test_valid_a_card_needs_full_name_and_model(alice, make_lead, envision):
    assert make_lead(alice, name="王小明").is_valid_a_card
    assert not make_lead(alice, name="王先生").is_valid_a_card
    assert not make_lead(alice, name="赵六", intended_model=None).is_valid_a_card
    assert Lead.objects.valid_a_cards().count() == 1


# ---------------------------------------------------------------- ownership


def test_first_entry_wins_and_the_attempt_is_recorded(alice, bob, make_lead):
    lead = make_lead(alice, phone="13900000001")
    with pytest.raises(DuplicateLead) as exc:
        make_lead(bob, phone="13900000001", name="王大明")
    assert exc.value.existing.pk == lead.pk
    assert exc.value.existing.owner == alice
    assert Lead.objects.count() == 1
    event = AuditEvent.objects.get(name="leads.lead.duplicate_entry")
    assert event.actor == bob
    assert event.target == lead
    assert event.data["customer_name"] == "王大明"


def test_same_phone_in_another_store_is_another_lead(alice, dave, make_lead):
    make_lead(alice, phone="13900000002")
    assert make_lead(dave, phone="13900000002").store == dave.store


def test_closed_lead_does_not_block_a_new_one(alice, bob, make_lead, price_reason):
    old = make_lead(alice, phone="13900000003")
    services.lead_defeat(actor=alice, lead=old, reason=price_reason)
    new = make_lead(bob, phone="13900000003")
    assert new.owner == bob
    assert new.customer == old.customer  # a known customer keeps one record


def test_database_refuses_a_second_open_lead(alice, make_lead):
    lead = make_lead(alice, phone="13900000004")
    clone = Lead(
        store=lead.store,
        customer=lead.customer,
        phone=lead.phone,
        source=Source.WEB,
        received_at=timezone.now(),
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()


def test_agents_own_what_they_enter_managers_leave_unassigned(alice, connie, mike, make_lead):
    assert make_lead(alice).owner == alice
    assert make_lead(connie, source=Source.WALK_IN).owner == connie
    assert make_lead(mike, source=Source.MANUFACTURER).owner is None


def test_only_a_manager_names_another_owner(alice, bob, mike, make_lead):
    with pytest.raises(PermissionDenied):
        make_lead(alice, owner=bob)
    assert make_lead(mike, owner=bob).owner == bob


def test_owner_must_be_active_staff_of_the_store(mike, dave, make_lead, store_a):
    with pytest.raises(ValidationError) as exc:
        make_lead(mike, owner=dave)
    assert "owner" in exc.value.message_dict
    leaver = StaffFactory(store=store_a, role=Role.AGENT, is_active=False)
    with pytest.raises(ValidationError):
        make_lead(mike, owner=leaver)


def test_assign_needs_a_reason_and_shows_in_history(alice, bob, mike, make_lead):
    lead = make_lead(alice)
    with pytest.raises(ValidationError):
        services.lead_assign(actor=mike, lead=lead, owner=bob, reason="  ")
    services.lead_assign(actor=mike, lead=lead, owner=bob, reason="客户要求换人")
    lead.refresh_from_db()
    assert lead.owner == bob
    record = lead.history.first()
    assert record.history_user == mike
    assert record.history_change_reason == "客户要求换人"
    event = AuditEvent.objects.get(name="leads.lead.assigned", target_id=lead.pk)
    assert event.data == {"previous": alice.pk, "owner": bob.pk, "reason": "客户要求换人"}


@pytest.mark.parametrize("username", ["alice", "carol", "connie"])
def test_only_managers_assign(everyone, make_lead, username):
    lead = make_lead(everyone["alice"])
    with pytest.raises(PermissionDenied):
        services.lead_assign(actor=everyone[username], lead=lead, owner=everyone["bob"], reason="x")


def test_assigning_to_the_current_owner_is_an_error_not_a_no_op(alice, mike, make_lead):
    lead = make_lead(alice)
    with pytest.raises(LeadStateError):
        services.lead_assign(actor=mike, lead=lead, owner=alice, reason="again")


def test_consultant_never_owns_a_dcc_invited_lead(alice, mike, connie, make_lead):
    lead = make_lead(alice)
    Lead.objects.filter(pk=lead.pk).update(is_dcc_invited=True)
    lead.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        services.lead_assign(actor=mike, lead=lead, owner=connie, reason="展厅接待")
    assert "owner" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.leads_transfer(actor=mike, from_staff=alice, to_staff=connie, reason="x")
    lead.refresh_from_db()
    assert lead.owner == alice


def test_manager_of_another_store_cannot_touch_the_lead(alice, bob, mary, make_lead):
    lead = make_lead(alice)
    with pytest.raises(PermissionDenied):
        services.lead_assign(actor=mary, lead=lead, owner=bob, reason="x")


# ---------------------------------------------------------------- clocks


def test_manufacturer_lead_is_due_48_hours_after_issue(mike, make_lead):
    issued = timezone.now() - timedelta(hours=3)
    lead = make_lead(mike, source=Source.MANUFACTURER, received_at=issued)
    assert lead.first_contact_due == issued + timedelta(hours=48)


def test_the_48_hours_are_a_store_setting(mike, make_lead, store_a):
    store_a.manufacturer_first_contact_hours = 24
    store_a.save()
    issued = timezone.now() - timedelta(hours=1)
    lead = make_lead(mike, source=Source.MANUFACTURER, received_at=issued)
    assert lead.first_contact_due == issued + timedelta(hours=24)


def test_web_leads_have_no_hard_deadline(alice, make_lead):
    assert make_lead(alice).first_contact_due is None


def test_agent_back_enters_earlier_today_only(alice, mike, make_lead):
    now = timezone.localtime()
    earlier_today = now.replace(hour=0, minute=5) if now.hour else now
    make_lead(alice, received_at=earlier_today)
    with pytest.raises(ValidationError) as exc:
        make_lead(alice, received_at=now - timedelta(days=1))
    assert "received_at" in exc.value.message_dict
    assert make_lead(mike, received_at=now - timedelta(days=40)).received_at < now
    with pytest.raises(ValidationError):
        make_lead(mike, received_at=now + timedelta(hours=1))


# ---------------------------------------------------------------- bulk assignment


def _manufacturer_leads(mike, make_lead, n):
    return [make_lead(mike, source=Source.MANUFACTURER) for _ in range(n)]


def test_round_robin_alternates_and_skips_absent_and_inactive(
    alice, bob, carol, mike, make_lead, store_a
):
    leads = _manufacturer_leads(mike, make_lead, 6)
    Absence.objects.create(staff=carol, date=timezone.localdate())
    leaver = StaffFactory(store=store_a, role=Role.AGENT, is_active=False)
    result = services.leads_bulk_assign(
        actor=mike,
        lead_ids=[lead.pk for lead in leads],
        owners=[alice, bob, carol, leaver],
        reason="上午分配",
    )
    assert result.count == 6
    assert sorted(len(ids) for ids in result.assigned.values()) == [3, 3]
    assert {staff_id for staff_id, _why in result.skipped_staff} == {carol.pk, leaver.pk}
    owners = [Lead.objects.get(pk=lead.pk).owner_id for lead in leads]
    assert owners[0] != owners[1]
    assert owners[0::2] == [owners[0]] * 3


def test_round_robin_starts_with_the_lightest_workload(alice, bob, mike, make_lead):
    make_lead(alice)
    make_lead(alice)  # alice already has two open leads
    leads = _manufacturer_leads(mike, make_lead, 3)
    services.leads_bulk_assign(
        actor=mike, lead_ids=[lead.pk for lead in leads], owners=[alice, bob], reason="下午分配"
    )
    counts = Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("owner", flat=True)
    assert list(counts).count(bob.pk) == 2


def test_bulk_assign_skips_leads_assigned_meanwhile(alice, bob, mike, make_lead):
    leads = _manufacturer_leads(mike, make_lead, 2)
    services.lead_assign(actor=mike, lead=leads[0], owner=alice, reason="先到")
    result = services.leads_bulk_assign(
        actor=mike, lead_ids=[lead.pk for lead in leads], owners=[bob], reason="批量"
    )
    assert result.assigned == {bob.pk: [leads[1].pk]}
    assert [lead_id for lead_id, _why in result.skipped] == [leads[0].pk]
    assert Lead.objects.get(pk=leads[0].pk).owner == alice


def test_bulk_assign_with_everyone_absent_is_an_error(alice, mike, make_lead):
    leads = _manufacturer_leads(mike, make_lead, 1)
    Absence.objects.create(staff=alice, date=timezone.localdate())
    with pytest.raises(ValidationError):
        services.leads_bulk_assign(actor=mike, lead_ids=[leads[0].pk], owners=[alice], reason="x")


# ---------------------------------------------------------------- transfer


def test_showroom_handover_carries_its_origin_and_restarts_the_clock(
    alice, connie, mike, make_lead, price_reason
):
    kept = make_lead(connie, source=Source.WALK_IN)
    defeated = make_lead(connie, source=Source.WALK_IN)
    services.lead_defeat(actor=connie, lead=defeated, reason=price_reason, note="嫌贵")
    before = timezone.now()
    moved = services.leads_transfer(
        actor=mike, from_staff=connie, to_staff=alice, reason="低意向移交"
    )
    assert {lead.pk for lead in moved} == {kept.pk, defeated.pk}
    defeated.refresh_from_db()
    assert defeated.owner == alice
    assert defeated.status == Status.ACTIVE
    assert defeated.source == Source.LOW_INTENT
    assert defeated.handover_consultant == connie
    assert defeated.handover_defeat_reason == "价格原因 嫌贵"
    assert defeated.handover_visit_date is not None
    assert defeated.first_contact_due >= before + timedelta(days=2)


def test_transfer_of_selected_leads_only(alice, bob, mike, make_lead):
    first, second = make_lead(alice), make_lead(alice)
    services.leads_transfer(
        actor=mike, from_staff=alice, to_staff=bob, lead_ids=[second.pk], reason="调岗"
    )
    assert Lead.objects.get(pk=first.pk).owner == alice
    assert Lead.objects.get(pk=second.pk).owner == bob


# ---------------------------------------------------------------- defeat, activation, invalid


def test_defeat_without_approval(alice, make_lead, price_reason):
    lead = services.lead_defeat(actor=alice, lead=make_lead(alice), reason=price_reason)
    assert lead.status == Status.DEFEATED
    assert lead.defeated_at is not None


def test_defeat_approval_when_the_store_requires_it(alice, mike, make_lead, price_reason, store_a):
    store_a.defeat_approval_required = True
    store_a.save()
    lead = make_lead(alice)
    services.lead_change_level(actor=alice, lead=lead, level="A")
    lead = services.lead_defeat(actor=alice, lead=lead, reason=price_reason, note="预算不够")
    assert lead.status == Status.DEFEAT_PENDING
    with pytest.raises(LeadStateError):
        services.lead_defeat(actor=alice, lead=lead, reason=price_reason)
    rejected = services.lead_defeat_reject(actor=mike, lead=lead, note="再跟一次")
    assert rejected.status == Status.NEW
    assert rejected.defeat_reason is None
    services.lead_defeat(actor=alice, lead=rejected, reason=price_reason)
    approved = services.lead_defeat_approve(actor=mike, lead=rejected)
    assert approved.status == Status.DEFEATED
    # a manager's own defeat needs no approval
    assert services.lead_defeat(actor=mike, lead=make_lead(alice), reason=price_reason).status == (
        Status.DEFEATED
    )


def test_defeat_reason_must_be_in_the_stores_list(alice, make_lead, store_b):
    from leads.models import DefeatReason

    foreign = DefeatReason.objects.create(store=store_b, code="b_only", label="B店专用")
    with pytest.raises(ValidationError):
        services.lead_defeat(actor=alice, lead=make_lead(alice), reason=foreign)


def test_activation_reassigns_and_restarts_the_clock(alice, bob, mike, make_lead, price_reason):
    lead = services.lead_defeat(actor=alice, lead=make_lead(alice), reason=price_reason)
    activated = services.lead_activate(actor=mike, lead=lead, owner=bob, reason="月度激活")
    assert activated.status == Status.ACTIVE
    assert activated.owner == bob
    assert activated.defeat_reason is None
    assert activated.first_contact_due > timezone.now() + timedelta(days=1)
    assert AuditEvent.objects.filter(name="leads.lead.activated", target_id=lead.pk).exists()


def test_activation_refused_when_the_customer_has_an_open_lead(
    alice, bob, mike, make_lead, price_reason
):
    old = services.lead_defeat(
        actor=alice, lead=make_lead(alice, phone="13900000009"), reason=price_reason
    )
    make_lead(bob, phone="13900000009")
    with pytest.raises(LeadStateError):
        services.lead_activate(actor=mike, lead=old, owner=alice, reason="激活")


def test_invalidate_needs_a_known_reason(alice, make_lead):
    lead = make_lead(alice)
    with pytest.raises(ValidationError):
        services.lead_invalidate(actor=alice, lead=lead, reason="bored")
    lead = services.lead_invalidate(actor=alice, lead=lead, reason="wrong_number", note="空号")
    assert lead.status == Status.INVALID


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ("delivered", "defeat"),
        ("delivered", "invalidate"),
        ("active", "activate"),
        ("active", "approve"),
        ("invalid", "invalidate"),
        ("defeated", "assign"),
    ],
)
def test_illegal_transitions_raise(
    alice, bob, mike, make_lead, price_reason, envision, setup, action
):
    lead = make_lead(alice)
    if setup == "delivered":
        services.deal_record(actor=alice, lead=lead, vehicle_model=envision, stage="delivered")
    elif setup == "invalid":
        services.lead_invalidate(actor=alice, lead=lead, reason="no_intent")
    elif setup == "defeated":
        services.lead_defeat(actor=alice, lead=lead, reason=price_reason)
    lead.refresh_from_db()
    before = (lead.status, lead.owner_id)
    calls = {
        "defeat": lambda: services.lead_defeat(actor=alice, lead=lead, reason=price_reason),
        "invalidate": lambda: services.lead_invalidate(actor=alice, lead=lead, reason="other"),
        "activate": lambda: services.lead_activate(actor=mike, lead=lead, owner=bob, reason="x"),
        "approve": lambda: services.lead_defeat_approve(actor=mike, lead=lead),
        "assign": lambda: services.lead_assign(actor=mike, lead=lead, owner=bob, reason="x"),
    }
    with pytest.raises(LeadStateError):
        calls[action]()
    lead.refresh_from_db()
    assert (lead.status, lead.owner_id) == before


def test_level_change_is_recorded_and_same_level_is_an_error(alice, make_lead):
    lead = make_lead(alice, level="B")
    services.lead_change_level(actor=alice, lead=lead, level="H", reason="下周提车")
    lead.refresh_from_db()
    assert lead.level == "H"
    assert lead.history.first().history_change_reason == "下周提车"
    with pytest.raises(LeadStateError):
        services.lead_change_level(actor=alice, lead=lead, level="H")


# ---------------------------------------------------------------- deals


def test_order_then_delivery_is_one_vehicle(alice, make_lead, envision, gl8):
    lead = make_lead(alice)
    deal = services.deal_record(actor=alice, lead=lead, vehicle_model=envision, stage="order")
    assert (deal.card, Lead.objects.get(pk=lead.pk).status) == ("B", Status.ORDERED)
    services.deal_record(actor=alice, lead=lead, vehicle_model=envision, stage="delivered")
    deal.refresh_from_db()
    assert deal.card == "C"
    assert lead.deals.count() == 1
    # a second vehicle delivered without an order is a deal of its own
    services.deal_record(actor=alice, lead=lead, vehicle_model=gl8, stage="delivered")
    assert lead.deals.count() == 2
    assert deal.agent == alice


# ---------------------------------------------------------------- merge and history


def test_merging_customers_keeps_phones_leads_and_history(alice, bob, mike, make_lead):
    first = make_lead(alice, phone="13900000010", name="王先生")
    second = make_lead(bob, phone="13900000011", name="王建国")
    keep = services.customer_merge(actor=mike, keep=first.customer, merge=second.customer)
    assert set(keep.phones.values_list("number", flat=True)) == {"+8613900000010", "+8613900000011"}
    assert set(keep.leads.values_list("pk", flat=True)) == {first.pk, second.pk}
    assert keep.name == "王建国"  # the full name wins over a form of address
    merged = Customer.objects.get(pk=second.customer_id)
    assert merged.merged_into == keep
    # a new entry of the merged customer's number finds the kept customer
    second_lead = Lead.objects.get(pk=second.pk)
    services.lead_invalidate(actor=bob, lead=second_lead, reason="duplicate")
    again = make_lead(alice, phone="13900000011")
    assert again.customer == keep
    assert CustomerPhone.objects.filter(number="+8613900000011").count() == 1


def test_only_managers_merge(alice, make_lead):
    a, b = make_lead(alice), make_lead(alice)
    with pytest.raises(PermissionDenied):
        services.customer_merge(actor=alice, keep=a.customer, merge=b.customer)


def test_history_says_who_changed_what(alice, mike, bob, make_lead):
    lead = make_lead(alice)
    services.lead_assign(actor=mike, lead=lead, owner=bob, reason="休假")
    users = [record.history_user for record in lead.history.order_by("history_date")]
    assert users == [alice, mike]
