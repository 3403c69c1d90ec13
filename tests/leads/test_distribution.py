"""Distribution rules on arrival (issue 17, point 1): conditions, methods,
absent and capped staff skipped, every arrival path, the rule recorded, the
dry run, the rules page's scope, and manufacturer leads flagged after the
store's assignment windows."""

import io
from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from dcc.models import Absence, AuditEvent
from followups import pool as pool_rules
from followups.models import FollowupPolicy
from leads import distribution, importer
from leads.distribution import Planner, in_window
from leads.models import DistributionMethod, DistributionRule, Lead, Level, Source
from leads.services import lead_create

pytestmark = pytest.mark.django_db


def make_rule(store, *, actor, team=None, staff=(), **values):
    values.setdefault("name", "规则")
    values.setdefault("method", DistributionMethod.ROUND_ROBIN)
    channels = values.pop("channels", ())
    models = values.pop("intended_models", ())
    return distribution.rule_save(
        actor=actor,
        store=store,
        team=team,
        channels=channels,
        intended_models=models,
        targets=[(person, weight) for person, weight in staff],
        **values,
    )


def enter(mike, phone, **fields):
    fields.setdefault("name", "王小明")
    fields.setdefault("source", Source.WEB)
    return lead_create(actor=mike, store=mike.store, phone=phone, **fields)


def test_round_robin_over_a_team_records_the_rule(mike, alice, bob, sue, team_a1):
    rule = make_rule(mike.store, actor=mike, team=team_a1)
    owners = [enter(mike, f"1390000000{i}").owner_id for i in range(4)]
    # The team's agents in turn (the supervisor is not a team target).
    assert owners == [alice.pk, bob.pk, alice.pk, bob.pk]
    lead = Lead.objects.get(phone="+8613900000000")
    assert lead.distribution_rule_id == rule.pk
    assert lead.distributed_at is not None
    assert lead.history.earliest().distribution_rule_id == rule.pk
    event = AuditEvent.objects.get(name="leads.lead.distributed", target_id=lead.pk)
    assert event.data == {"rule": rule.pk, "owner": alice.pk}
    rule.refresh_from_db()
    assert rule.last_staff_id == bob.pk


def test_conditions_pick_the_rule(mike, alice, bob, carol, envision, gl8, autohome):
    make_rule(
        mike.store,
        actor=mike,
        name="厂家GL8",
        position=1,
        sources=[Source.MANUFACTURER],
        intended_models=[gl8],
        staff=[(carol, 1)],
    )
    make_rule(
        mike.store,
        actor=mike,
        name="汽车之家H级",
        position=2,
        channels=[autohome],
        levels=[Level.H],
        staff=[(bob, 1)],
    )
    make_rule(mike.store, actor=mike, name="其余", position=3, staff=[(alice, 1)])
    oem = enter(mike, "13900000001", source=Source.MANUFACTURER, intended_model=gl8)
    web_h = enter(mike, "13900000002", channel=autohome, level=Level.H, intended_model=envision)
    web_b = enter(mike, "13900000003", channel=autohome, level=Level.B)
    oem_other_model = enter(
        mike, "13900000004", source=Source.MANUFACTURER, intended_model=envision
    )
    assert [lead.owner_id for lead in (oem, web_h, web_b, oem_other_model)] == [
        carol.pk,
        bob.pk,
        alice.pk,
        alice.pk,
    ]


def test_time_of_day_and_weekday(mike, alice, bob):
    now = timezone.localtime()
    other_day = (now.weekday() + 1) % 7
    make_rule(mike.store, actor=mike, position=1, weekdays=[other_day], staff=[(alice, 1)])
    make_rule(mike.store, actor=mike, position=2, staff=[(bob, 1)])
    assert enter(mike, "13900000001").owner_id == bob.pk
    assert in_window(time(23, 30), time(22, 0), time(6, 0))
    assert in_window(time(3, 0), time(22, 0), time(6, 0))
    assert not in_window(time(12, 0), time(22, 0), time(6, 0))
    assert in_window(time(9, 0), time(9, 0), time(12, 0))
    assert not in_window(time(12, 0), time(9, 0), time(12, 0))


def test_absent_and_capped_staff_are_skipped_then_next_rule(mike, alice, bob, carol):
    Absence.objects.create(staff=alice, date=timezone.localdate(), created_by=mike)
    make_rule(mike.store, actor=mike, position=1, staff=[(alice, 1), (bob, 1)], daily_cap=2)
    make_rule(mike.store, actor=mike, position=2, staff=[(carol, 1)])
    owners = [enter(mike, f"1390000000{i}").owner_id for i in range(4)]
    # Alice is away; Bob takes two (the cap); then the second rule's Carol.
    assert owners == [bob.pk, bob.pk, carol.pk, carol.pk]


def test_no_rule_leaves_the_lead_unassigned(mike, alice):
    make_rule(mike.store, actor=mike, sources=[Source.MANUFACTURER], staff=[(alice, 1)])
    lead = enter(mike, "13900000001")
    assert lead.owner_id is None
    assert lead.distribution_rule_id is None
    assert not AuditEvent.objects.filter(name="leads.lead.distributed").exists()


def test_an_agent_keeps_what_they_enter(mike, alice, bob):
    make_rule(mike.store, actor=mike, staff=[(bob, 1)])
    lead = lead_create(
        actor=alice, store=alice.store, name="李雷", phone="13900000001", source=Source.WEB
    )
    assert lead.owner_id == alice.pk
    assert lead.distribution_rule_id is None


def test_fewest_open_leads(mike, alice, bob, make_lead):
    for i in range(3):
        make_lead(alice, phone=f"1380000000{i}")
    make_rule(
        mike.store, actor=mike, method=DistributionMethod.FEWEST_OPEN, staff=[(alice, 1), (bob, 1)]
    )
    owners = [enter(mike, f"1390000000{i}").owner_id for i in range(5)]
    # Bob has none open: he takes until he has as many as Alice, then turns.
    assert owners[:3] == [bob.pk, bob.pk, bob.pk]
    assert sorted(owners[3:]) == [alice.pk, bob.pk]


def test_weighted(mike, alice, bob):
    make_rule(
        mike.store, actor=mike, method=DistributionMethod.WEIGHTED, staff=[(alice, 2), (bob, 1)]
    )
    owners = [enter(mike, f"1390000000{i}").owner_id for i in range(6)]
    assert owners.count(alice.pk) == 4
    assert owners.count(bob.pk) == 2


def test_import_distributes_in_bulk(mike, alice, bob, team_a1, django_assert_max_num_queries):
    make_rule(mike.store, actor=mike, team=team_a1)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = importer.SHEET_TITLE
    sheet.append(["姓名", "手机号", "来源"])
    for i in range(40):
        sheet.append([f"客户{i}", f"139000{i:05d}", "web"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    # Set-based: the queries do not grow with the rows (40 rows here).
    with django_assert_max_num_queries(60):
        result = importer.lead_import(actor=mike, file=buffer)
    assert result.created == 40, result.errors
    leads = Lead.objects.filter(lead_import=result.record)
    counts = {alice.pk: 0, bob.pk: 0}
    for owner_id in leads.values_list("owner_id", flat=True):
        counts[owner_id] += 1
    assert counts == {alice.pk: 20, bob.pk: 20}
    assert AuditEvent.objects.filter(name="leads.lead.distributed").count() == 40


def test_api_arrival_is_distributed(mike, alice, api):
    make_rule(mike.store, actor=mike, staff=[(alice, 1)])
    response = api(mike).post(
        "/api/v1/leads/",
        {"name": "韩梅梅", "phone": "13900000009", "source": "web"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Lead.objects.get(phone="+8613900000009").owner_id == alice.pk


def test_dry_run_writes_nothing(mike, alice, bob, make_lead):
    for i in range(3):
        enter(mike, f"1390000000{i}")  # no rule yet: unassigned
    rule = make_rule(mike.store, actor=mike, staff=[(alice, 1), (bob, 1)])
    before = list(Lead.objects.order_by("pk").values_list("pk", "owner_id", "distribution_rule_id"))
    rows = distribution.dry_run(mike.store)
    assert [row.person.pk for row in reversed(rows)] == [alice.pk, bob.pk, alice.pk]
    assert {row.rule.pk for row in rows} == {rule.pk}
    assert before == list(
        Lead.objects.order_by("pk").values_list("pk", "owner_id", "distribution_rule_id")
    )
    rule.refresh_from_db()
    assert rule.last_staff_id is None


def test_rules_page_scope_and_roles(web, mike, mary, alice, store_a):
    rule = make_rule(store_a, actor=mike, staff=[(alice, 1)])
    assert web(alice).get(reverse("leads:distribution")).status_code == 403
    client = web(mary)
    assert client.get(reverse("leads:distribution-edit", args=[rule.pk])).status_code == 404
    assert client.get(reverse("leads:distribution") + f"?store={store_a.pk}").status_code == 404
    assert client.post(reverse("leads:distribution-delete", args=[rule.pk])).status_code == 404
    assert DistributionRule.objects.filter(pk=rule.pk).exists()


def test_rules_page_creates_and_previews(web, mike, alice, bob, make_lead):
    enter(mike, "13900000001")
    client = web(mike)
    response = client.post(
        reverse("leads:distribution"),
        {
            "name": "全部网络线索",
            "position": 1,
            "is_active": "on",
            "sources": [Source.WEB],
            "staff": [alice.pk, bob.pk],
            f"weight_{alice.pk}": 3,
            f"weight_{bob.pk}": 1,
            "method": DistributionMethod.WEIGHTED,
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    rule = DistributionRule.objects.get(name="全部网络线索")
    assert dict(rule.targets.values_list("staff_id", "weight")) == {alice.pk: 3, bob.pk: 1}
    page = client.get(reverse("leads:distribution") + f"?preview={rule.pk}")
    assert page.status_code == 200
    assert alice.display_name in page.content.decode()
    assert Lead.objects.get(phone="+8613900000001").owner_id is None


def test_rule_needs_a_team_or_staff(web, mike):
    response = web(mike).post(
        reverse("leads:distribution"),
        {"name": "空", "position": 1, "method": DistributionMethod.ROUND_ROBIN},
    )
    assert response.status_code == 200
    assert not DistributionRule.objects.exists()


def test_planner_reads_state_in_few_queries(
    mike, alice, bob, team_a1, django_assert_max_num_queries
):
    make_rule(mike.store, actor=mike, team=team_a1, position=1)
    make_rule(mike.store, actor=mike, staff=[(alice, 1)], position=2)
    with django_assert_max_num_queries(10):
        planner = Planner(mike.store)
        for _i in range(100):
            planner.choose(Lead(source=Source.WEB, level=Level.B))


def test_manufacturer_leads_flagged_after_the_window(mike, alice, web):
    FollowupPolicy.objects.create(store=mike.store, assignment_windows="10:00,15:00")
    tz = timezone.get_current_timezone()
    day = timezone.localdate() - timedelta(days=1)
    morning = datetime.combine(day, time(9, 0), tzinfo=tz)
    lead = lead_create(
        actor=mike,
        store=mike.store,
        name="厂家客户",
        phone="13900000001",
        source=Source.MANUFACTURER,
        received_at=morning,
    )
    taken = lead_create(
        actor=mike,
        store=mike.store,
        name="已分配",
        phone="13900000002",
        source=Source.MANUFACTURER,
        received_at=morning,
        owner=alice,
    )
    assert pool_rules.flag_unassigned(now=morning + timedelta(minutes=30)) == 0
    assert pool_rules.flag_unassigned(now=morning + timedelta(hours=2)) == 1
    lead.refresh_from_db()
    taken.refresh_from_db()
    assert lead.unassigned_flagged_at is not None
    assert taken.unassigned_flagged_at is None
    assert pool_rules.flag_unassigned(now=morning + timedelta(hours=7)) == 0  # once
    page = web(mike).get(reverse("leads:assignment")).content.decode()
    assert page.count('data-testid="flagged-late"') == 1
