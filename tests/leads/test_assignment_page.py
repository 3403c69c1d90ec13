"""The manager's assignment page: unassigned leads (bulk and round robin),
who is in today, transfers (低意向移交), re-activation of defeated leads and
defeat approvals. Assertions on data, ``data-testid`` hooks and the database."""

import re
from datetime import timedelta
from itertools import pairwise

import pytest
from django.urls import reverse
from django.utils import timezone

from dcc.models import Absence
from leads import services
from leads.models import Lead, Source, Status

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
PAGE = reverse("leads:assignment")


def ids_of(html: str, testid: str) -> list[int]:
    return [int(pk) for pk in re.findall(rf'data-testid="{testid}" data-lead-id="(\d+)"', html)]


@pytest.fixture
def oem(mike, make_lead):
    """``oem(n)``: n unassigned manufacturer leads issued 1, 2, … hours ago."""

    def make(n, start=0):
        now = timezone.now()
        return [
            make_lead(
                mike,
                phone=f"1370000{start + i:04d}",
                source=Source.MANUFACTURER,
                received_at=now - timedelta(hours=i + 1),
            )
            for i in range(n)
        ]

    return make


# ---------------------------------------------------------------- access


@pytest.mark.parametrize("username", ["alice", "carol", "sue", "connie", "dave"])
def test_only_managers_open_the_assignment_page(web, everyone, username):
    client = web(everyone[username])
    assert client.get(PAGE).status_code == 403
    assert client.post(reverse("leads:assignment-bulk"), {}).status_code == 403
    assert client.post(reverse("leads:assignment-activate"), {}).status_code == 403
    assert client.post(reverse("leads:assignment-transfer"), {}).status_code == 403
    alice = everyone["alice"]
    url = reverse("leads:assignment-absence", args=[alice.pk])
    assert client.post(url, {"absent": "1"}).status_code == 403
    assert not Absence.objects.exists()


def test_manager_sees_only_their_store(web, mike, mary, oem, make_lead):
    mine = oem(2)
    theirs = make_lead(mary, phone="13700009999", source=Source.MANUFACTURER)
    html = web(mike).get(PAGE).content.decode()
    assert set(ids_of(html, "unassigned-row")) == {lead.pk for lead in mine}
    assert ids_of(web(mary).get(PAGE).content.decode(), "unassigned-row") == [theirs.pk]


def test_admin_without_a_store_picks_one(web, root, mary, store_b, make_lead):
    lead = make_lead(mary, phone="13700009999", source=Source.MANUFACTURER)
    html = web(root).get(PAGE, {"store": store_b.pk}).content.decode()
    assert ids_of(html, "unassigned-row") == [lead.pk]


# ---------------------------------------------------------------- unassigned leads


def test_unassigned_manufacturer_first_by_deadline(web, mike, alice, oem, make_lead):
    web_lead = make_lead(mike, phone="13700008888", source=Source.WEB)
    make_lead(alice, phone="13700007777", source=Source.MANUFACTURER)  # owned: not listed
    newer, older = oem(2)  # issued 1 h and 2 h ago: the older is due first
    html = web(mike).get(PAGE).content.decode()
    assert ids_of(html, "unassigned-row") == [older.pk, newer.pk, web_lead.pk]
    assert 'data-testid="time-left"' in html
    assert html.count("data-deadline=") == 2  # the web lead has no deadline


def test_overdue_deadline_is_red(web, mike, make_lead):
    make_lead(
        mike,
        phone="13700006666",
        source=Source.MANUFACTURER,
        received_at=timezone.now() - timedelta(hours=49),
    )
    html = web(mike).get(PAGE).content.decode()
    cell = html[html.index('data-testid="time-left"') :]
    assert "text-danger" in cell[: cell.index(">")]


def test_assignment_page_query_count_is_bounded(
    web,
    mike,
    alice,
    bob,
    carol,
    connie,
    oem,
    make_lead,
    price_reason,
    django_assert_max_num_queries,
):
    client = web(mike)
    oem(2)
    with django_assert_max_num_queries(14):
        assert client.get(PAGE).status_code == 200
    oem(30, start=100)
    for n in range(5):
        lead = make_lead(alice, phone=f"1360000{n:04d}")
        services.lead_defeat(actor=alice, lead=lead, reason=price_reason)
        make_lead(connie, phone=f"1350000{n:04d}")
    with django_assert_max_num_queries(14):
        html = client.get(PAGE).content.decode()
    assert len(ids_of(html, "unassigned-row")) == 32
    assert len(ids_of(html, "defeated-row")) == 5


def bulk(client, leads, owners, mode="round_robin", reason="上午分配", **extra):
    return client.post(
        reverse("leads:assignment-bulk"),
        {
            "leads": [lead.pk for lead in leads],
            "owners": [owner.pk for owner in owners],
            "mode": mode,
            "reason": reason,
        },
        **extra,
    )


def test_bulk_assign_to_one_person(web, mike, alice, oem):
    leads = oem(3)
    response = bulk(web(mike), leads, [alice], mode="one", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="section-unassigned"')
    assert 'data-testid="bulk-result" data-count="3"' in html
    assert ids_of(html, "unassigned-row") == []
    assert {lead.owner for lead in Lead.objects.all()} == {alice}
    assert all(lead.history.first().history_change_reason == "上午分配" for lead in leads)


def test_round_robin_alternates_and_skips_the_absent(web, mike, alice, bob, carol, oem):
    leads = oem(4)
    client = web(mike)
    client.post(reverse("leads:assignment-absence", args=[carol.pk]), {"absent": "1"}, **HTMX)
    assert Absence.objects.filter(staff=carol, date=timezone.localdate()).exists()
    response = bulk(client, leads, [alice, bob, carol], **HTMX)
    html = response.content.decode()
    assert 'data-testid="bulk-result" data-count="4"' in html
    assert html.count('data-testid="bulk-result-staff-skipped"') == 1
    owners = list(
        Lead.objects.order_by("first_contact_due", "received_at", "id").values_list(
            "owner", flat=True
        )
    )
    assert set(owners) == {alice.pk, bob.pk}
    assert all(a != b for a, b in pairwise(owners))


def test_bulk_assign_reports_leads_taken_meanwhile(web, mike, alice, bob, oem):
    first, second = oem(2)
    services.lead_assign(actor=mike, lead=first, owner=bob, reason="电话里说好了")
    html = bulk(web(mike), [first, second], [alice], mode="one", **HTMX).content.decode()
    assert 'data-testid="bulk-result" data-count="1"' in html
    assert html.count('data-testid="bulk-result-skipped"') == 1
    first.refresh_from_db()
    assert first.owner == bob


def test_bulk_assign_needs_a_reason(web, mike, alice, oem):
    leads = oem(2)
    html = bulk(web(mike), leads, [alice], reason="", **HTMX).content.decode()
    assert "is-invalid" in html
    assert set(ids_of(html, "unassigned-row")) == {lead.pk for lead in leads}
    assert not Lead.objects.filter(owner__isnull=False).exists()


def test_one_person_mode_with_two_people_is_an_error(web, mike, alice, bob, oem):
    leads = oem(2)
    html = bulk(web(mike), leads, [alice, bob], mode="one", **HTMX).content.decode()
    assert 'data-testid="owners-error"' in html
    assert not Lead.objects.filter(owner__isnull=False).exists()
    # The ticks survive the error.
    assert html.count('checked data-testid="pick-lead"') == 2


def test_bulk_assign_without_htmx_redirects(web, mike, alice, oem):
    response = bulk(web(mike), oem(1), [alice])
    assert response.status_code == 302
    assert response.url == PAGE
    assert Lead.objects.get().owner == alice


# ---------------------------------------------------------------- who is in today


def test_absence_toggle(web, mike, alice):
    client = web(mike)
    url = reverse("leads:assignment-absence", args=[alice.pk])
    response = client.post(url, {"absent": "1"}, **HTMX)
    html = response.content.decode()
    assert 'data-username="alice" data-absent="true"' in html
    assert f'id="owner-absent-{alice.pk}" hx-swap-oob="true"' in html
    assert Absence.objects.filter(staff=alice).count() == 1
    client.post(url, {}, **HTMX)  # the switch turned off sends nothing
    assert not Absence.objects.exists()
    page = client.get(PAGE).content.decode()
    assert 'data-username="alice" data-absent="false"' in page


def test_absence_of_another_stores_staff_is_404(web, mike, dave):
    url = reverse("leads:assignment-absence", args=[dave.pk])
    assert web(mike).post(url, {"absent": "1"}).status_code == 404


# ---------------------------------------------------------------- transfer


def test_transfer_lists_the_transferable_leads(web, mike, connie, make_lead, price_reason):
    open_lead = make_lead(connie, phone="13500000001")
    defeated = make_lead(connie, phone="13500000002")
    services.lead_defeat(actor=connie, lead=defeated, reason=price_reason)
    invalid = make_lead(connie, phone="13500000003")
    services.lead_invalidate(actor=connie, lead=invalid, reason="wrong_number")
    response = web(mike).get(
        reverse("leads:assignment-transfer"), {"from_staff": connie.pk}, **HTMX
    )
    html = response.content.decode()
    assert set(ids_of(html, "transfer-row")) == {open_lead.pk, defeated.pk}
    # Nothing is ticked: the manager picks what moves (issue 13 point 9).
    assert 'name="leads"' in html
    assert " checked" not in html


def test_transfer_from_a_consultant_is_a_low_intent_handover(
    web, mike, connie, alice, make_lead, price_reason
):
    kept = make_lead(connie, phone="13500000001", source=Source.WALK_IN)
    moved = make_lead(connie, phone="13500000002", source=Source.WALK_IN)
    services.lead_defeat(actor=connie, lead=moved, reason=price_reason, note="嫌贵")
    response = web(mike).post(
        reverse("leads:assignment-transfer"),
        {
            "from_staff": connie.pk,
            "to_staff": alice.pk,
            "leads": [moved.pk],
            "reason": "低意向移交",
        },
        **HTMX,
    )
    html = response.content.decode()
    assert 'data-testid="transfer-result" data-count="1"' in html
    assert ids_of(html, "transfer-row") == [kept.pk]  # what connie still has
    moved.refresh_from_db()
    assert moved.owner == alice
    assert moved.source == Source.LOW_INTENT
    assert moved.handover_consultant == connie
    assert moved.status == Status.ACTIVE
    assert "嫌贵" in moved.handover_defeat_reason
    kept.refresh_from_db()
    assert kept.owner == connie


def test_transfer_needs_a_reason_and_a_lead(web, mike, connie, alice, make_lead):
    lead = make_lead(connie, phone="13500000001")
    client = web(mike)
    url = reverse("leads:assignment-transfer")
    data = {"from_staff": connie.pk, "to_staff": alice.pk, "leads": [lead.pk], "reason": ""}
    assert "is-invalid" in client.post(url, data, **HTMX).content.decode()
    data.update(reason="移交", leads=[])
    html = client.post(url, data, **HTMX).content.decode()
    assert 'data-testid="transfer-leads-error"' in html
    lead.refresh_from_db()
    assert lead.owner == connie


# ---------------------------------------------------------------- defeats


def test_bulk_activation_reports_each_failure(web, mike, alice, bob, make_lead, price_reason):
    first = make_lead(alice, phone="13600000001")
    second = make_lead(alice, phone="13600000002")
    blocked = make_lead(alice, phone="13600000003")
    for lead in (first, second, blocked):
        services.lead_defeat(actor=alice, lead=lead, reason=price_reason)
    make_lead(bob, phone="13600000003")  # the customer came back: a new open lead
    response = web(mike).post(
        reverse("leads:assignment-activate"),
        {"leads": [first.pk, second.pk, blocked.pk], "owner": bob.pk, "reason": "激活战败"},
        **HTMX,
    )
    html = response.content.decode()
    assert 'data-done="2" data-failed="1"' in html
    assert f'data-testid="activation-failed" data-lead-id="{blocked.pk}"' in html
    for lead in (first, second):
        lead.refresh_from_db()
        assert (lead.status, lead.owner) == (Status.ACTIVE, bob)
    blocked.refresh_from_db()
    assert blocked.status == Status.DEFEATED
    assert ids_of(html, "defeated-row") == [blocked.pk]


def test_bulk_activation_needs_a_reason_and_a_tick(web, mike, alice, bob, make_lead, price_reason):
    lead = make_lead(alice, phone="13600000001")
    services.lead_defeat(actor=alice, lead=lead, reason=price_reason)
    client = web(mike)
    url = reverse("leads:assignment-activate")
    html = client.post(
        url, {"leads": [lead.pk], "owner": bob.pk, "reason": ""}, **HTMX
    ).content.decode()
    assert "is-invalid" in html
    html = client.post(url, {"owner": bob.pk, "reason": "激活"}, **HTMX).content.decode()
    assert 'data-testid="form-errors"' in html
    lead.refresh_from_db()
    assert lead.status == Status.DEFEATED


def test_pending_defeats_are_approved_or_rejected_here(
    web, mike, alice, make_lead, price_reason, store_a
):
    store_a.defeat_approval_required = True
    store_a.save()
    approve = make_lead(alice, phone="13600000001")
    reject = make_lead(alice, phone="13600000002")
    for lead in (approve, reject):
        services.lead_defeat(actor=alice, lead=lead, reason=price_reason)
    client = web(mike)
    assert set(ids_of(client.get(PAGE).content.decode(), "pending-row")) == {
        approve.pk,
        reject.pk,
    }
    url = reverse("leads:assignment-defeat-decision", args=[approve.pk])
    html = client.post(url, {"decision": "approve"}, **HTMX).content.decode()
    assert ids_of(html, "pending-row") == [reject.pk]
    assert ids_of(html, "defeated-row") == [approve.pk]
    url = reverse("leads:assignment-defeat-decision", args=[reject.pk])
    client.post(url, {"decision": "reject", "note": "再跟进"})
    approve.refresh_from_db()
    reject.refresh_from_db()
    assert approve.status == Status.DEFEATED
    assert reject.status == Status.NEW


def test_defeat_decision_on_another_stores_lead_is_404(web, mary, alice, make_lead, price_reason):
    lead = make_lead(alice, phone="13600000001")
    services.lead_defeat(actor=alice, lead=lead, reason=price_reason)
    url = reverse("leads:assignment-defeat-decision", args=[lead.pk])
    assert web(mary).post(url, {"decision": "approve"}).status_code == 404
