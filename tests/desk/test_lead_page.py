"""The lead page and its actions through the test client. The tests assert on
data, status codes, data-testid hooks, URLs and the database, never on labels."""

import pytest
from django.urls import reverse

from dcc.models import AuditEvent
from followups import services
from followups.models import (
    Appointment,
    FollowUp,
    SmsMessage,
)
from leads.models import Deal, Lead, Level, Source, Status
from tests.desk.helpers import HX, local, log_contact

pytestmark = pytest.mark.django_db


def detail(lead):
    return reverse("desk:lead", args=[lead.pk])


def action(lead, slug):
    return reverse("desk:lead-action", args=[lead.pk, slug])


@pytest.mark.parametrize("other", ["bob", "dave"])
def test_agent_gets_404_on_someone_elses_lead(web, alice, bob, dave, make_lead, other):
    client = web(alice)
    lead = make_lead({"bob": bob, "dave": dave}[other])
    assert client.get(detail(lead)).status_code == 404
    assert client.get(detail(lead), **HX).status_code == 404
    for slug in ("level", "edit", "defeat", "assign", "no-such-action"):
        assert client.post(action(lead, slug), {"level-level": "H"}).status_code == 404
        assert client.get(action(lead, slug)).status_code == 404
    lead.refresh_from_db()
    assert lead.level == Level.B


def test_detail_shows_card_region_and_a_card_gaps(web, alice, make_lead):
    lead = make_lead(alice, name="王先生", phone="13822223333", intended_model=None)
    html = web(alice).get(detail(lead)).content.decode()
    assert lead.phone_display in html
    assert 'data-testid="phone-region"' in html
    assert 'data-valid="false"' in html
    assert 'data-testid="a-card-missing-name"' in html
    assert 'data-testid="a-card-missing-model"' in html
    assert 'data-testid="timeline-item" data-event="leads.lead.created"' in html


def test_detail_lists_the_customers_other_visible_leads(web, alice, mike, make_lead, price_reason):
    first = make_lead(alice, phone="13822223333")
    from leads import services

    services.lead_defeat(actor=alice, lead=first, reason=price_reason)
    second = make_lead(alice, phone="13822223333")
    html = web(alice).get(detail(second)).content.decode()
    assert f'data-testid="other-lead" data-lead-id="{first.pk}"' in html


def test_agent_sees_no_manager_actions(web, alice, make_lead):
    html = web(alice).get(detail(make_lead(alice))).content.decode()
    for slug in ("level", "edit", "defeat", "invalidate", "deal"):
        assert f'data-testid="action-{slug}"' in html
    assert 'data-testid="action-assign"' not in html


@pytest.mark.parametrize("slug", ["assign", "activate", "approve-defeat", "reject-defeat"])
def test_agent_gets_403_on_manager_actions(web, alice, bob, make_lead, slug):
    lead = make_lead(alice)
    response = web(alice).post(
        action(lead, slug), {"assign-owner": bob.pk, "assign-reason": "想要"}
    )
    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.owner == alice


def test_unknown_action_is_404_and_put_is_405(web, alice, make_lead):
    lead = make_lead(alice)
    assert web(alice).post(action(lead, "explode")).status_code == 404
    assert web(alice).put(action(lead, "level")).status_code == 405


def test_the_page_renders_only_the_open_tabs_form(web, alice, make_lead):
    """The other actions' forms come on demand (htmx GET of the action)."""
    lead = make_lead(alice)
    html = web(alice).get(detail(lead)).content.decode()
    assert 'data-testid="action-form-followup"' in html  # the first tab, open
    for slug in ("book", "level", "edit", "defeat", "invalidate", "deal"):
        assert f'data-testid="tab-{slug}"' in html
        assert f'data-testid="action-form-{slug}"' not in html
        assert f'hx-get="{action(lead, slug)}"' in html
    opened = web(alice).get(detail(lead), {"action": "defeat"}).content.decode()
    assert 'data-testid="action-form-defeat"' in opened
    assert 'data-testid="action-form-followup"' not in opened


def test_an_action_form_on_demand(web, alice, make_lead):
    lead = make_lead(alice)
    client = web(alice)
    response = client.get(action(lead, "defeat"), **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert 'data-testid="action-form-defeat"' in html
    assert f'hx-post="{action(lead, "defeat")}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    # Without htmx: the page with that tab open.
    plain = client.get(action(lead, "defeat"))
    assert plain.status_code == 302
    assert plain.url == f"{detail(lead)}?action=defeat"


def test_an_action_not_offered_is_not_served(web, alice, mike, make_lead):
    lead = make_lead(alice)
    assert web(alice).get(action(lead, "assign"), **HX).status_code == 403  # role
    assert web(alice).get(action(lead, "merge"), **HX).status_code == 403
    services_lead = Lead.objects.get(pk=lead.pk)
    assert services_lead.status != Status.DEFEAT_PENDING
    # A manager may approve defeats, but this lead awaits none: not offered.
    assert web(mike).get(action(lead, "approve-defeat"), **HX).status_code == 404
    assert web(mike).get(action(lead, "assign"), **HX).status_code == 200


def test_change_level_by_htmx_returns_the_panel(web, alice, make_lead):
    lead = make_lead(alice)
    response = web(alice).post(
        action(lead, "level"), {"level-level": "H", "level-reason": "下周提车"}, **HX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="lead-panel"')
    assert 'data-testid="message"' in html
    lead.refresh_from_db()
    assert lead.level == Level.H
    assert lead.history.first().history_change_reason == "下周提车"
    assert "下周提车" in html  # the timeline says why


def test_change_level_without_htmx_redirects_with_a_message(web, alice, make_lead):
    lead = make_lead(alice)
    client = web(alice)
    response = client.post(action(lead, "level"), {"level-level": "C", "level-reason": ""})
    assert response.status_code == 302
    assert response.url == detail(lead)
    page = client.get(response.url).content.decode()
    assert "alert-success" in page
    lead.refresh_from_db()
    assert lead.level == Level.C


def test_same_level_is_reported_not_silently_ignored(web, alice, make_lead):
    lead = make_lead(alice, level=Level.B)
    html = web(alice).post(action(lead, "level"), {"level-level": "B"}, **HX).content.decode()
    assert "alert-error" in html or "alert-danger" in html


def test_edit_details(web, alice, make_lead, gl8, autohome):
    lead = make_lead(alice, name="王先生")
    response = web(alice).post(
        action(lead, "edit"),
        {
            "edit-name": "王大锤",
            "edit-intended_model": gl8.pk,
            "edit-channel": autohome.pk,
            "edit-expected_purchase_date": "2026-12-01",
            "edit-note": "周末方便",
        },
        **HX,
    )
    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.customer.name == "王大锤"
    assert lead.customer.has_full_name
    assert lead.intended_model == gl8
    assert lead.channel == autohome
    assert str(lead.expected_purchase_date) == "2026-12-01"
    assert lead.note == "周末方便"
    assert 'data-valid="true"' in response.content.decode()


def test_edit_with_blank_name_is_an_inline_error(web, alice, make_lead):
    lead = make_lead(alice, name="王小明")
    response = web(alice).post(action(lead, "edit"), {"edit-name": ""}, **HX)
    html = response.content.decode()
    assert 'id="lead-panel"' in html
    assert "is-invalid" in html
    lead.refresh_from_db()
    assert lead.customer.name == "王小明"


def test_defeat_without_approval(web, alice, make_lead, price_reason):
    lead = make_lead(alice)
    web(alice).post(
        action(lead, "defeat"), {"defeat-reason": price_reason.pk, "defeat-note": "嫌贵"}, **HX
    )
    lead.refresh_from_db()
    assert lead.status == Status.DEFEATED
    assert lead.defeat_note == "嫌贵"


def test_defeat_with_approval_then_approve(web, alice, mike, make_lead, price_reason, store_a):
    store_a.defeat_approval_required = True
    store_a.save()
    lead = make_lead(alice)
    html = (
        web(alice)
        .post(action(lead, "defeat"), {"defeat-reason": price_reason.pk}, **HX)
        .content.decode()
    )
    lead.refresh_from_db()
    assert lead.status == Status.DEFEAT_PENDING
    assert 'data-testid="message"' in html
    assert 'data-testid="defeat-info"' in html
    manager_html = web(mike).get(detail(lead)).content.decode()
    assert 'data-testid="action-approve-defeat"' in manager_html
    response = web(mike).post(action(lead, "approve-defeat"), {}, **HX)
    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.status == Status.DEFEATED
    assert AuditEvent.objects.filter(name="leads.lead.defeat_approved").exists()


def test_defeat_with_approval_then_reject(web, alice, mike, make_lead, price_reason, store_a):
    store_a.defeat_approval_required = True
    store_a.save()
    lead = make_lead(alice)
    web(alice).post(action(lead, "defeat"), {"defeat-reason": price_reason.pk})
    response = web(mike).post(action(lead, "reject-defeat"), {"reject-note": "再跟一次"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == Status.NEW
    assert lead.defeat_reason is None


def test_invalidate(web, alice, make_lead):
    lead = make_lead(alice)
    web(alice).post(
        action(lead, "invalidate"), {"invalid-reason": "wrong_number", "invalid-note": "空号"}
    )
    lead.refresh_from_db()
    assert lead.status == Status.INVALID
    assert lead.invalid_reason == "wrong_number"


def test_record_an_order_then_delivery(web, alice, make_lead, envision):
    lead = make_lead(alice)
    client = web(alice)
    html = client.post(
        action(lead, "deal"), {"deal-vehicle_model": envision.pk, "deal-stage": "order"}, **HX
    ).content.decode()
    lead.refresh_from_db()
    assert lead.status == Status.ORDERED
    assert 'data-testid="deal-row" data-card="B"' in html
    client.post(
        action(lead, "deal"), {"deal-vehicle_model": envision.pk, "deal-stage": "delivered"}
    )
    lead.refresh_from_db()
    assert lead.status == Status.DELIVERED
    assert Deal.objects.get().card == "C"


def test_assign_needs_a_reason_and_shows_it_in_history(web, alice, bob, mike, make_lead):
    lead = make_lead(alice)
    client = web(mike)
    response = client.post(
        action(lead, "assign"), {"assign-owner": bob.pk, "assign-reason": ""}, **HX
    )
    assert "is-invalid" in response.content.decode()
    lead.refresh_from_db()
    assert lead.owner == alice

    response = client.post(
        action(lead, "assign"), {"assign-owner": bob.pk, "assign-reason": "alice 休假"}, **HX
    )
    html = response.content.decode()
    lead.refresh_from_db()
    assert lead.owner == bob
    item = html[html.index('data-event="leads.lead.assigned"') :]
    item = item[: item.index("</li>\n    \n")] if "</li>\n    \n" in item else item
    assert "alice 休假" in item
    assert "alice 休假" in web(bob).get(detail(lead)).content.decode()


def test_supervisor_assigns_within_the_team_only(web, sue, alice, bob, carol, make_lead):
    lead = make_lead(alice)
    assert web(sue).get(detail(lead)).status_code == 200
    # carol is in another team: refused on the form, the lead stays alice's.
    response = web(sue).post(
        action(lead, "assign"), {"assign-owner": carol.pk, "assign-reason": "x"}
    )
    lead.refresh_from_db()
    assert lead.owner == alice
    response = web(sue).post(action(lead, "assign"), {"assign-owner": bob.pk, "assign-reason": "x"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.owner == bob


def test_activate_a_defeated_lead(web, alice, bob, mike, make_lead, price_reason):
    from leads import services

    lead = make_lead(alice)
    services.lead_defeat(actor=alice, lead=lead, reason=price_reason)
    html = web(mike).get(detail(lead)).content.decode()
    assert 'data-testid="action-activate"' in html
    response = web(mike).post(
        action(lead, "activate"), {"activate-owner": bob.pk, "activate-reason": "客户回心转意"}
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == Status.ACTIVE
    assert lead.owner == bob


def test_manager_of_another_store_gets_404(web, mary, alice, make_lead):
    lead = make_lead(alice)
    assert web(mary).get(detail(lead)).status_code == 404
    assert web(mary).post(action(lead, "assign"), {}).status_code == 404


def test_detail_query_count_is_bounded(
    web, alice, mike, bob, make_lead, django_assert_max_num_queries
):
    from leads import services

    lead = make_lead(alice)
    for n in range(5):
        services.lead_change_level(actor=mike, lead=lead, level="HACB"[n % 4])
        services.lead_assign(
            actor=mike, lead=lead, owner=bob if n % 2 == 0 else alice, reason="轮换"
        )
    client = web(mike)
    # Only the open tab's form is built: the other forms' choices cost no query;
    # the relations most leads lack are read only when a lead has them.
    with django_assert_max_num_queries(20):
        assert client.get(detail(lead)).status_code == 200


def timeline_items(html: str) -> dict[str, str]:
    """The timeline's entries by event name, newest first, each as its HTML."""
    chunks = html.split('data-testid="timeline-item" data-event="')[1:]
    return {chunk.split('"', 1)[0]: chunk.split("</li>\n    \n", 1)[0] for chunk in chunks}


def test_timeline_shows_each_step_once_with_what_changed(web, alice, make_lead, price_reason):
    from leads import services

    lead = make_lead(alice)
    services.lead_change_level(actor=alice, lead=lead, level=Level.H, reason="很急")
    services.lead_defeat(actor=alice, lead=lead, reason=price_reason, note="嫌贵")
    items = timeline_items(web(alice).get(detail(lead)).content.decode())
    assert list(items) == ["leads.lead.defeated", "changed", "leads.lead.created"]
    assert 'data-field="status"' in items["leads.lead.defeated"]
    assert "嫌贵" in items["leads.lead.defeated"]
    assert 'data-field="level"' in items["changed"]
    assert "很急" in items["changed"]
    assert "data-field" not in items["leads.lead.created"]


def test_timeline_shows_a_refused_duplicate_entry(web, alice, bob, make_lead):
    lead = make_lead(alice, phone="13822223333")
    web(bob).post(
        reverse("leads:new"),
        {"name": "王二", "phone": "138-2222-3333", "source": Source.INBOUND, "level": Level.A},
    )
    items = timeline_items(web(alice).get(detail(lead)).content.decode())
    assert "王二" in items["leads.lead.duplicate_entry"]


def test_followup_tab_on_the_lead_page(web, alice, make_lead):
    lead = make_lead(alice)
    client = web(alice)
    assert (
        'data-testid="action-followup"'
        in client.get(reverse("desk:lead", args=[lead.pk])).content.decode()
    )
    client.post(
        reverse("desk:lead-action", args=[lead.pk, "followup"]),
        {
            "followup-result": "no_answer",
            "followup-channel": "call",
            "followup-purpose": "other",
            "followup-level": lead.level,
        },
    )
    followup = FollowUp.objects.get(lead=lead)
    assert followup.result == "no_answer"
    assert Lead.objects.get(pk=lead.pk).unanswered_attempts == 1


def test_the_lead_timeline_tells_contacts_and_visits(web, alice, make_lead):
    lead = make_lead(alice)
    log_contact(alice, lead, result="reached", note="想要白色")
    appointment = services.appointment_book(actor=alice, lead=lead, scheduled_at=local(1, 16))
    services.appointment_confirm(actor=alice, appointment=appointment)
    html = web(alice).get(reverse("desk:lead", args=[lead.pk])).content.decode()
    events = [
        'data-event="followups.followup.logged"',
        'data-event="followups.appointment.booked"',
        'data-event="followups.appointment.confirmed"',
    ]
    assert all(event in html for event in events)
    assert "想要白色" in html


def test_a_visit_without_booking_counts_as_first_then_return_visit(web, alice, make_lead):
    lead = make_lead(alice)
    client = web(alice)
    booked = services.appointment_book(actor=alice, lead=lead, scheduled_at=local(1, 10))
    services.appointment_arrive(actor=alice, appointment=booked)
    client.post(
        reverse("desk:lead-action", args=[lead.pk, "visit"]),
        {"visit-group_size": 2, "visit-test_drive": "on"},
    )
    walk_in = Appointment.objects.get(lead=lead, is_walk_in=True)
    assert (walk_in.status, walk_in.visit_number, walk_in.test_drive) == ("arrived", 2, True)
    assert not SmsMessage.objects.filter(appointment=walk_in).exists()


def test_the_timeline_tells_when_a_contact_happened_and_who_made_it(web, alice, mike, make_lead):
    """Issue 13 point 9: a manager back-entering yesterday's call of alice's:
    the timeline shows alice and yesterday's time; who typed it follows."""
    from datetime import timedelta

    from django.utils import timezone

    lead = make_lead(alice)
    made_at = timezone.now() - timedelta(days=1, hours=2)
    services.followup_log(
        actor=mike,
        agent=alice,
        lead=lead,
        channel="call",
        result="reached",
        occurred_at=made_at,
        note="昨天打的电话",
    )
    html = web(alice).get(reverse("desk:lead", args=[lead.pk])).content.decode()
    item = timeline_items(html)["followups.followup.logged"]
    shown = timezone.localtime(made_at).strftime("%Y-%m-%d %H:%M")
    assert f">{shown}</time>" in item
    assert alice.display_name in item.split("</span>")[0] + item.split("</time>")[0]
    assert 'data-testid="timeline-recorded"' in item
    assert mike.display_name in item.split('data-testid="timeline-recorded"')[1]
