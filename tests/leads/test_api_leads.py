"""API.md "Leads" and deals: every endpoint's happy path and its error codes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dcc.models import Absence, AuditEvent
from leads.models import DefeatReason, Lead, Source, Status

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"


def url(lead, action=""):
    return f"{LEADS}{lead.pk}/{action + '/' if action else ''}"


def body(**overrides):
    data = {"name": "张三丰", "phone": "138-1234-5678", "source": "web", "level": "A"}
    data.update(overrides)
    return data


# ---------------------------------------------------------------- create


def test_agent_creates_a_lead_and_owns_it(api, alice, store_a, envision, autohome):
    response = api(alice).post(
        LEADS,
        body(channel="autohome", intended_model=envision.pk, note="官网留资"),
        format="json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["owner"] == alice.pk
    assert data["status"] == "new"
    assert data["store"] == store_a.pk
    assert data["name"] == "张三丰"
    assert data["phone"] == "+8613812345678"
    assert data["phone_display"] == "138 1234 5678"
    assert data["source"] == "web"
    assert data["channel"] == "autohome"
    assert data["intended_model"] == envision.pk
    assert data["level"] == "A"
    assert data["note"] == "官网留资"
    assert data["is_valid_a_card"] is True
    assert data["first_contact_due"] is None
    assert data["first_contacted_at"] is None
    assert data["expected_purchase_date"] is None
    for key in ("received_at", "created_at"):
        assert data[key].endswith("+08:00"), data[key]
    lead = Lead.objects.get(pk=data["id"])
    assert lead.created_by == alice
    assert lead.history.first().history_user == alice


def test_manufacturer_lead_by_a_manager_is_unassigned_with_a_48h_clock(api, mike):
    issued = timezone.now() - timedelta(days=1)
    response = api(mike).post(
        LEADS,
        body(source="manufacturer", received_at=issued.isoformat(), name="王先生"),
        format="json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["owner"] is None
    assert data["is_valid_a_card"] is False  # no full name, no model
    lead = Lead.objects.get(pk=data["id"])
    assert lead.first_contact_due == lead.received_at + timedelta(hours=48)


def test_manager_names_the_owner(api, mike, alice):
    response = api(mike).post(LEADS, body(owner=alice.pk), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["owner"] == alice.pk


def test_group_admin_names_the_store(api, root, store_b):
    missing = api(root).post(LEADS, body(), format="json")
    assert missing.status_code == 400
    assert "store" in missing.json()
    response = api(root).post(LEADS, body(store=store_b.pk), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["store"] == store_b.pk
    assert response.json()["owner"] is None


def test_handover_fields_are_accepted(api, mike, alice, connie):
    response = api(mike).post(
        LEADS,
        body(
            source="low_intent",
            owner=alice.pk,
            handover_consultant=connie.pk,
            handover_visit_date="2024-05-01",
            handover_defeat_reason="嫌贵",
            expected_purchase_date="2030-01-01",
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["handover_consultant"] == connie.pk
    assert data["handover_visit_date"] == "2024-05-01"
    assert data["expected_purchase_date"] == "2030-01-01"
    assert data["transferred_at"] is not None


def test_duplicate_phone_is_409_and_recorded(api, alice, bob, make_lead):
    existing = make_lead(alice, phone="13812345678")
    before = Lead.objects.count()
    response = api(bob).post(LEADS, body(phone="+86 138 1234 5678"), format="json")
    assert response.status_code == 409, response.content
    data = response.json()
    assert data["existing_lead"] == existing.pk
    assert data["owner"] == alice.pk
    assert data["detail"]
    assert Lead.objects.count() == before
    event = AuditEvent.objects.get(name="leads.lead.duplicate_entry")
    assert event.target_id == existing.pk
    assert event.actor == bob


def test_duplicate_of_an_unassigned_lead_has_no_owner(api, mike, alice, make_lead):
    existing = make_lead(mike, phone="13812345678")
    response = api(alice).post(LEADS, body(), format="json")
    assert response.status_code == 409
    assert response.json() == {
        "detail": response.json()["detail"],
        "existing_lead": existing.pk,
        "owner": None,
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"phone": ""}, "phone"),
        ({"name": " "}, "name"),
        ({"source": "tv"}, "source"),
        ({"level": "Z"}, "level"),
        ({"channel": "tiktok"}, "channel"),
        ({"intended_model": 999999}, "intended_model"),
        ({"received_at": "not a time"}, "received_at"),
    ],
)
def test_bad_input_is_400_per_field(api, alice, overrides, field):
    response = api(alice).post(LEADS, body(**overrides), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Lead.objects.exists()


def test_agent_cannot_back_enter_yesterday(api, alice):
    yesterday = timezone.now() - timedelta(days=1, hours=1)
    response = api(alice).post(LEADS, body(received_at=yesterday.isoformat()), format="json")
    assert response.status_code == 400
    assert "received_at" in response.json()


def test_naming_another_store_or_its_staff_is_400(api, mike, store_b, dave):
    foreign_store = api(mike).post(LEADS, body(store=store_b.pk), format="json")
    assert foreign_store.status_code == 400
    assert "store" in foreign_store.json()
    foreign_owner = api(mike).post(LEADS, body(owner=dave.pk), format="json")
    assert foreign_owner.status_code == 400
    assert "owner" in foreign_owner.json()


def test_agent_naming_another_owner_is_403(api, alice, bob):
    response = api(alice).post(LEADS, body(owner=bob.pk), format="json")
    assert response.status_code == 403
    assert not Lead.objects.exists()


def test_manager_cannot_give_a_lead_to_a_manager(api, mike):
    response = api(mike).post(LEADS, body(owner=mike.pk), format="json")
    assert response.status_code == 400
    assert "owner" in response.json()


# ---------------------------------------------------------------- list and filters


def _ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_list_is_paginated(api, alice, make_lead):
    for _ in range(3):
        make_lead(alice)
    response = api(alice).get(LEADS, {"page_size": 2})
    data = response.json()
    assert data["count"] == 3
    assert len(data["results"]) == 2
    assert data["next"]


@pytest.fixture
def filter_leads(mike, alice, bob, make_lead, gl8, autohome):
    now = timezone.now()
    return {
        "old": make_lead(
            mike,
            phone="13800001111",
            name="李雷",
            source=Source.MANUFACTURER,
            received_at=now - timedelta(days=10),
        ),
        "web": make_lead(alice, phone="13900002222", name="韩梅梅", channel=autohome, level="H"),
        "bob": make_lead(bob, phone="13700003333", name="李华", intended_model=gl8, level="C"),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"old", "web", "bob"}),
        ({"status": "new"}, {"old", "web", "bob"}),
        ({"status": "defeated"}, set()),
        ({"source": "manufacturer"}, {"old"}),
        ({"source": "web"}, {"web", "bob"}),
        ({"channel": "autohome"}, {"web"}),
        ({"level": "H"}, {"web"}),
        ({"level": ["H", "C"]}, {"web", "bob"}),
        ({"unassigned": "true"}, {"old"}),
        ({"q": "李"}, {"old", "bob"}),
        ({"q": "韩梅"}, {"web"}),
        ({"q": "2222"}, {"web"}),
        ({"q": "137 0000"}, {"bob"}),
    ],
)
def test_filters(api, mike, filter_leads, params, expected):
    response = api(mike).get(LEADS, params)
    assert _ids(response) == {filter_leads[key].pk for key in expected}


def test_filters_by_owner_store_and_time(api, mike, alice, filter_leads, store_a):
    client = api(mike)
    assert _ids(client.get(LEADS, {"owner": alice.pk})) == {filter_leads["web"].pk}
    assert len(_ids(client.get(LEADS, {"store": store_a.pk}))) == 3
    cut = (timezone.now() - timedelta(days=1)).isoformat()
    assert _ids(client.get(LEADS, {"received_before": cut})) == {filter_leads["old"].pk}
    assert _ids(client.get(LEADS, {"received_after": cut})) == {
        filter_leads["web"].pk,
        filter_leads["bob"].pk,
    }


def test_filters_outside_scope_are_400(api, mike, dave, store_b):
    assert api(mike).get(LEADS, {"owner": dave.pk}).status_code == 400
    assert api(mike).get(LEADS, {"store": store_b.pk}).status_code == 400
    assert api(mike).get(LEADS, {"status": "lost"}).status_code == 400


def test_list_query_count_does_not_grow_with_rows(
    api, mike, alice, make_lead, autohome, django_assert_max_num_queries
):
    client = api(mike)
    make_lead(alice, channel=autohome)
    # token, count, page, the access log's row (dcc.audit.record_access)
    with django_assert_max_num_queries(4):
        assert client.get(LEADS).status_code == 200
    for _ in range(12):
        make_lead(alice, channel=autohome)
    make_lead(mike)
    with django_assert_max_num_queries(4):
        response = client.get(LEADS)
    assert response.json()["count"] == 14


# ---------------------------------------------------------------- detail


def test_detail_has_deals_and_timeline(api, mike, alice, bob, make_lead, gl8):
    lead = make_lead(mike, owner=alice)
    api(mike).post(url(lead, "assign"), {"owner": bob.pk, "reason": "alice 休假"}, format="json")
    api(bob).post(url(lead, "deal"), {"vehicle_model": gl8.pk, "stage": "order"}, format="json")
    response = api(bob).get(url(lead))
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "ordered"
    assert [(d["vehicle_model"], d["card"]) for d in data["deals"]] == [(gl8.pk, "B")]
    timeline = data["timeline"]
    assert timeline[-1]["kind"] == "history"
    assert timeline[-1]["created"] is True
    assert timeline[-1]["actor"] == {"id": mike.pk, "name": mike.display_name}
    reasons = [entry["reason"] for entry in timeline if entry["kind"] == "history"]
    assert "alice 休假" in reasons
    assigned = next(e for e in timeline if e.get("name") == "leads.lead.assigned")
    assert assigned["data"]["owner"] == bob.pk
    assert assigned["at"].endswith("+08:00")
    owner_change = next(
        e for e in timeline if e["kind"] == "history" and e["reason"] == "alice 休假"
    )
    assert {"field", "old", "new"} <= set(owner_change["changes"][0])
    assert (data["followups"], data["appointments"]) == ([], [])  # tests/followups/test_api.py
    assert data["calls"] == []  # tests/telephony/test_api.py


def test_unknown_lead_is_404(api, mike):
    assert api(mike).get(f"{LEADS}987654/").status_code == 404


# ---------------------------------------------------------------- edit and level


def test_patch_details(api, alice, make_lead, gl8, autohome):
    lead = make_lead(alice)
    response = api(alice).patch(
        url(lead),
        {"name": "王先生", "intended_model": gl8.pk, "channel": "autohome", "note": "改"},
        format="json",
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["name"], data["intended_model"], data["channel"], data["note"]) == (
        "王先生",
        gl8.pk,
        "autohome",
        "改",
    )
    assert data["is_valid_a_card"] is False  # 王先生 is a form of address
    lead.refresh_from_db()
    assert lead.history.first().history_user == alice


def test_patch_cannot_touch_owner_or_status(api, alice, bob, make_lead):
    lead = make_lead(alice)
    response = api(alice).patch(url(lead), {"owner": bob.pk, "status": "invalid"}, format="json")
    assert response.status_code == 200
    lead.refresh_from_db()
    assert (lead.owner, lead.status) == (alice, Status.NEW)
    assert api(alice).put(url(lead), body(), format="json").status_code == 405


def test_change_level(api, alice, make_lead):
    lead = make_lead(alice, level="B")
    response = api(alice).post(url(lead, "level"), {"level": "H", "reason": "下周提车"})
    assert response.status_code == 200, response.content
    assert response.json()["level"] == "H"
    lead.refresh_from_db()
    assert lead.history.first().history_change_reason == "下周提车"
    assert api(alice).post(url(lead, "level"), {"level": "H"}).status_code == 409
    bad = api(alice).post(url(lead, "level"), {"level": "X"})
    assert bad.status_code == 400
    assert "level" in bad.json()


# ---------------------------------------------------------------- assign


def test_manager_assigns_with_a_reason(api, mike, alice, make_lead):
    lead = make_lead(mike)
    response = api(mike).post(url(lead, "assign"), {"owner": alice.pk, "reason": "上午分配"})
    assert response.status_code == 200, response.content
    assert response.json()["owner"] == alice.pk
    lead.refresh_from_db()
    assert lead.owner == alice
    record = lead.history.first()
    assert record.history_change_reason == "上午分配"
    assert record.history_user == mike
    assert AuditEvent.objects.filter(name="leads.lead.assigned", target_id=lead.pk).exists()


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_assign_needs_a_reason(api, mike, alice, make_lead, reason):
    lead = make_lead(mike)
    data = {"owner": alice.pk} if reason is None else {"owner": alice.pk, "reason": reason}
    response = api(mike).post(url(lead, "assign"), data, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()
    lead.refresh_from_db()
    assert lead.owner is None


def test_assign_errors(api, mike, alice, dave, connie, make_lead):
    lead = make_lead(mike, owner=alice)
    client = api(mike)
    same = client.post(url(lead, "assign"), {"owner": alice.pk, "reason": "x"})
    assert same.status_code == 409
    foreign = client.post(url(lead, "assign"), {"owner": dave.pk, "reason": "x"})
    assert foreign.status_code == 400
    assert "owner" in foreign.json()
    missing = client.post(url(lead, "assign"), {"reason": "x"})
    assert missing.status_code == 400
    assert "owner" in missing.json()
    assert client.post(url(lead, "assign"), {"owner": connie.pk, "reason": "x"}).status_code == 200


def test_agent_cannot_assign(api, alice, bob, make_lead):
    lead = make_lead(alice)
    response = api(alice).post(url(lead, "assign"), {"owner": bob.pk, "reason": "x"})
    assert response.status_code == 403


# ---------------------------------------------------------------- bulk assign and transfer


def test_bulk_assign_round_robin_skips_absent_staff(api, mike, alice, bob, carol, make_lead):
    start = timezone.now() - timedelta(hours=10)
    leads = [
        make_lead(mike, source=Source.MANUFACTURER, received_at=start + timedelta(hours=i))
        for i in range(4)
    ]
    taken = make_lead(mike, owner=bob)
    Absence.objects.create(staff=carol, date=timezone.localdate())
    response = api(mike).post(
        f"{LEADS}bulk-assign/",
        {
            "leads": [lead.pk for lead in leads] + [taken.pk, 987654],
            "owners": [alice.pk, bob.pk, carol.pk],
            "reason": "厂家线索上午分配",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    data = response.json()
    # bob already has an open lead: alice (lighter) starts the cycle.
    assert data["assigned"] == {
        str(alice.pk): [leads[0].pk, leads[2].pk],
        str(bob.pk): [leads[1].pk, leads[3].pk],
    }
    assert {row["lead"] for row in data["skipped"]} == {taken.pk, 987654}
    assert [row["staff"] for row in data["skipped_staff"]] == [carol.pk]
    assert all(row["reason"] for row in data["skipped"] + data["skipped_staff"])
    owners = dict(
        Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("pk", "owner")
    )
    assert owners == {
        leads[0].pk: alice.pk,
        leads[1].pk: bob.pk,
        leads[2].pk: alice.pk,
        leads[3].pk: bob.pk,
    }


def test_bulk_assign_errors(api, mike, alice, dave, make_lead):
    lead = make_lead(mike)
    client = api(mike)
    no_reason = client.post(
        f"{LEADS}bulk-assign/", {"leads": [lead.pk], "owners": [alice.pk]}, format="json"
    )
    assert no_reason.status_code == 400
    assert "reason" in no_reason.json()
    foreign = client.post(
        f"{LEADS}bulk-assign/",
        {"leads": [lead.pk], "owners": [dave.pk], "reason": "x"},
        format="json",
    )
    assert foreign.status_code == 400
    assert "owners" in foreign.json()
    Absence.objects.create(staff=alice, date=timezone.localdate())
    nobody = client.post(
        f"{LEADS}bulk-assign/",
        {"leads": [lead.pk], "owners": [alice.pk], "reason": "x"},
        format="json",
    )
    assert nobody.status_code == 400
    assert "owners" in nobody.json()


def test_transfer_from_a_consultant_is_a_low_intent_handover(api, mike, connie, alice, make_lead):
    first = make_lead(connie, source=Source.WALK_IN)
    second = make_lead(connie, source=Source.WALK_IN)
    response = api(mike).post(
        f"{LEADS}transfer/",
        {"from_staff": connie.pk, "to_staff": alice.pk, "reason": "展厅低意向移交"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert sorted(response.json()["transferred"]) == sorted([first.pk, second.pk])
    for lead in (first, second):
        lead.refresh_from_db()
        assert lead.owner == alice
        assert lead.source == Source.LOW_INTENT
        assert lead.handover_consultant == connie
        assert lead.first_contact_due == lead.transferred_at + timedelta(days=2)
        assert lead.history.first().history_change_reason == "展厅低意向移交"


def test_transfer_chosen_leads_only(api, mike, alice, bob, make_lead):
    first, second = make_lead(alice), make_lead(alice)
    response = api(mike).post(
        f"{LEADS}transfer/",
        {"from_staff": alice.pk, "to_staff": bob.pk, "leads": [second.pk], "reason": "调岗"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"transferred": [second.pk]}
    first.refresh_from_db()
    assert first.owner == alice


def test_transfer_errors(api, mike, alice, bob, dave):
    client = api(mike)
    nothing = client.post(
        f"{LEADS}transfer/",
        {"from_staff": alice.pk, "to_staff": bob.pk, "reason": "x"},
        format="json",
    )
    assert nothing.status_code == 400
    assert "leads" in nothing.json()
    no_reason = client.post(
        f"{LEADS}transfer/", {"from_staff": alice.pk, "to_staff": bob.pk}, format="json"
    )
    assert no_reason.status_code == 400
    assert "reason" in no_reason.json()
    foreign = client.post(
        f"{LEADS}transfer/",
        {"from_staff": alice.pk, "to_staff": dave.pk, "reason": "x"},
        format="json",
    )
    assert foreign.status_code == 400
    assert "to_staff" in foreign.json()


# ---------------------------------------------------------------- defeat reasons


def test_defeat_reasons_are_the_stores_list(api, alice, store_a, store_b):
    DefeatReason.objects.create(store=store_a, code="no_stock", label="缺车", sort_order=1)
    DefeatReason.objects.create(store=store_a, code="price", label="价格太高", sort_order=2)
    DefeatReason.objects.create(store=store_b, code="b_only", label="苏州专用")
    response = api(alice).get("/api/v1/defeat-reasons/")
    assert response.status_code == 200, response.content
    data = response.json()
    assert isinstance(data, list)
    codes = [row["code"] for row in data]
    assert {"bought_competitor", "bought_elsewhere", "postponed", "unreachable", "other"} <= set(
        codes
    )
    assert "no_stock" in codes
    assert "b_only" not in codes
    assert codes.count("price") == 1
    assert {"code": "price", "label": "价格太高"} in data


def test_group_admin_picks_the_store(api, root, mike, store_b):
    DefeatReason.objects.create(store=store_b, code="b_only", label="苏州专用")
    group = api(root).get("/api/v1/defeat-reasons/").json()
    assert "b_only" not in [row["code"] for row in group]
    assert "price" in [row["code"] for row in group]
    chosen = api(root).get("/api/v1/defeat-reasons/", {"store": store_b.pk}).json()
    assert "b_only" in [row["code"] for row in chosen]
    foreign = api(mike).get("/api/v1/defeat-reasons/", {"store": store_b.pk})
    assert foreign.status_code == 400
    assert "store" in foreign.json()


# ---------------------------------------------------------------- defeat, approval, activation


def test_defeat(api, alice, make_lead):
    lead = make_lead(alice)
    response = api(alice).post(url(lead, "defeat"), {"reason": "price", "note": "差两万"})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "defeated"
    assert data["defeat_reason"] == "price"
    assert data["defeat_note"] == "差两万"
    assert data["defeated_at"].endswith("+08:00")
    again = api(alice).post(url(lead, "defeat"), {"reason": "price"})
    assert again.status_code == 409
    assert again.json()["detail"]


def test_defeat_uses_the_stores_own_reason(api, alice, store_a, store_b, make_lead):
    own = DefeatReason.objects.create(store=store_a, code="price", label="价格太高")
    DefeatReason.objects.create(store=store_b, code="b_only", label="苏州专用")
    lead = make_lead(alice)
    foreign = api(alice).post(url(lead, "defeat"), {"reason": "b_only"})
    assert foreign.status_code == 400
    assert "reason" in foreign.json()
    unknown = api(alice).post(url(lead, "defeat"), {"reason": "nope"})
    assert unknown.status_code == 400
    assert api(alice).post(url(lead, "defeat"), {"reason": "price"}).status_code == 200
    lead.refresh_from_db()
    assert lead.defeat_reason == own


def test_defeat_with_approval(api, alice, mike, store_a, make_lead):
    store_a.defeat_approval_required = True
    store_a.save()
    approved, rejected = make_lead(alice), make_lead(alice)
    api(alice).post(url(approved, "level"), {"level": "H"})
    for lead in (approved, rejected):
        response = api(alice).post(url(lead, "defeat"), {"reason": "postponed"})
        assert response.status_code == 202, response.content
        assert response.json()["status"] == "defeat_pending"
    assert api(alice).post(url(approved, "defeat/approve")).status_code == 403
    response = api(mike).post(url(approved, "defeat/approve"))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "defeated"
    response = api(mike).post(url(rejected, "defeat/reject"), {"note": "再跟一次"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "new"
    assert response.json()["defeat_reason"] is None
    # nothing pending any more
    assert api(mike).post(url(approved, "defeat/approve")).status_code == 409
    assert api(mike).post(url(rejected, "defeat/reject")).status_code == 409


def test_manager_defeats_directly_even_with_approval(api, mike, alice, store_a, make_lead):
    store_a.defeat_approval_required = True
    store_a.save()
    lead = make_lead(alice)
    response = api(mike).post(url(lead, "defeat"), {"reason": "price"})
    assert response.status_code == 200
    assert response.json()["status"] == "defeated"


def test_activate(api, mike, alice, bob, make_lead):
    lead = make_lead(alice)
    api(alice).post(url(lead, "defeat"), {"reason": "unreachable"})
    no_reason = api(mike).post(url(lead, "activate"), {"owner": bob.pk})
    assert no_reason.status_code == 400
    assert "reason" in no_reason.json()
    response = api(mike).post(url(lead, "activate"), {"owner": bob.pk, "reason": "战败激活"})
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["owner"], data["defeat_reason"]) == ("active", bob.pk, None)
    lead.refresh_from_db()
    assert lead.history.first().history_change_reason == "战败激活"
    again = api(mike).post(url(lead, "activate"), {"owner": bob.pk, "reason": "x"})
    assert again.status_code == 409


def test_activate_when_the_customer_came_back_is_409(api, mike, alice, bob, make_lead):
    lead = make_lead(alice, phone="13812345678")
    api(alice).post(url(lead, "defeat"), {"reason": "price"})
    make_lead(bob, phone="13812345678")
    response = api(mike).post(url(lead, "activate"), {"owner": bob.pk, "reason": "x"})
    assert response.status_code == 409


def test_invalidate(api, alice, make_lead):
    lead = make_lead(alice)
    bad = api(alice).post(url(lead, "invalidate"), {"reason": "rude"})
    assert bad.status_code == 400
    assert "reason" in bad.json()
    response = api(alice).post(url(lead, "invalidate"), {"reason": "wrong_number", "note": "空号"})
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["invalid_reason"], data["invalid_note"]) == (
        "invalid",
        "wrong_number",
        "空号",
    )
    assert api(alice).post(url(lead, "invalidate"), {"reason": "peer"}).status_code == 409


# ---------------------------------------------------------------- deals


def test_order_then_delivery(api, alice, make_lead, envision):
    lead = make_lead(alice)
    order = api(alice).post(
        url(lead, "deal"), {"vehicle_model": envision.pk, "stage": "order"}, format="json"
    )
    assert order.status_code == 201, order.content
    ordered = order.json()
    assert ordered["card"] == "B"
    assert ordered["agent"] == alice.pk
    assert ordered["ordered_at"].endswith("+08:00")
    assert ordered["delivered_at"] is None
    lead.refresh_from_db()
    assert lead.status == Status.ORDERED
    delivery = api(alice).post(
        url(lead, "deal"), {"vehicle_model": envision.pk, "stage": "delivered"}, format="json"
    )
    assert delivery.status_code == 201, delivery.content
    delivered = delivery.json()
    assert delivered["id"] == ordered["id"]
    assert delivered["card"] == "C"
    lead.refresh_from_db()
    assert lead.status == Status.DELIVERED
    # a delivered lead is done: no defeat, no invalidation
    assert api(alice).post(url(lead, "defeat"), {"reason": "price"}).status_code == 409
    assert api(alice).post(url(lead, "invalidate"), {"reason": "peer"}).status_code == 409


def test_deal_errors(api, alice, mike, make_lead, envision):
    lead = make_lead(alice)
    bad_stage = api(alice).post(
        url(lead, "deal"), {"vehicle_model": envision.pk, "stage": "quote"}, format="json"
    )
    assert bad_stage.status_code == 400
    assert "stage" in bad_stage.json()
    bad_model = api(alice).post(
        url(lead, "deal"), {"vehicle_model": 987654, "stage": "order"}, format="json"
    )
    assert bad_model.status_code == 400
    assert "vehicle_model" in bad_model.json()
    last_month = (timezone.now() - timedelta(days=30)).isoformat()
    old = {"vehicle_model": envision.pk, "stage": "order", "deal_at": last_month}
    agent_backdate = api(alice).post(url(lead, "deal"), old, format="json")
    assert agent_backdate.status_code == 400
    assert "deal_at" in agent_backdate.json()
    assert api(mike).post(url(lead, "deal"), old, format="json").status_code == 201
