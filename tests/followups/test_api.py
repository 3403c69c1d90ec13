"""API.md "Follow-ups, appointments, deals": every endpoint's happy path, its
error codes and its scope."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from dcc.timeutils import local_day_start
from followups.models import (
    Appointment,
    AppointmentStatus,
    FollowUp,
    FollowupPolicy,
    SmsMessage,
    SmsStatus,
)
from leads.models import DefeatReason, Lead, Source, Status

pytestmark = pytest.mark.django_db

LEADS = "/api/v1/leads/"
FOLLOWUPS = "/api/v1/followups/"
APPOINTMENTS = "/api/v1/appointments/"
QUEUE = "/api/v1/queue/"


@pytest.fixture(autouse=True)
def _outbox_only(settings):
    settings.SMS_BACKEND = "followups.backends.console.OutboxOnlyBackend"


def lead_url(lead, action=""):
    return f"{LEADS}{lead.pk}/{action + '/' if action else ''}"


def appointment_url(appointment, action=""):
    return f"{APPOINTMENTS}{appointment.pk}/{action + '/' if action else ''}"


def at(value: str) -> datetime:
    assert value.endswith("+08:00"), value
    return datetime.fromisoformat(value)


def earlier_today(now=None):
    """A time earlier today (local), however close to midnight the test runs."""
    now = now or timezone.now()
    return max(now - timedelta(hours=1), local_day_start(timezone.localdate(now)))


def log(client, lead, **data):
    data.setdefault("channel", "call")
    data.setdefault("result", "reached")
    return client.post(lead_url(lead, "followups"), data, format="json")


def book(client, lead, *, days=3, **data):
    data.setdefault("scheduled_at", (timezone.now() + timedelta(days=days)).isoformat())
    return client.post(lead_url(lead, "appointments"), data, format="json")


@pytest.fixture
def booked(api, alice, make_lead):
    """An appointment of alice's, three days ahead."""
    response = book(api(alice), make_lead(alice))
    assert response.status_code == 201, response.content
    return Appointment.objects.get(pk=response.json()["id"])


# ---------------------------------------------------------------- follow-ups: create


def test_log_a_followup(api, alice, make_lead):
    lead = make_lead(alice, level="A")
    before = timezone.now()
    response = log(api(alice), lead, purpose="test_drive", note="客户下周有空")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["id"] == FollowUp.objects.get().pk
    assert data["lead"] == lead.pk
    assert (data["agent"], data["agent_name"]) == (alice.pk, alice.display_name)
    assert (data["channel"], data["purpose"], data["result"]) == ("call", "test_drive", "reached")
    assert data["note"] == "客户下周有空"
    assert data["lead_status"] == "active"
    assert data["is_first_call"] is True
    assert data["created_by"] == alice.pk
    assert data["appointment"] is None
    occurred = at(data["occurred_at"])
    assert before <= occurred <= timezone.now()  # defaults to now
    assert at(data["next_followup_at"]) == occurred + timedelta(days=3)  # level A
    lead.refresh_from_db()
    assert (lead.status, lead.next_followup_at) == (Status.ACTIVE, occurred + timedelta(days=3))


@pytest.mark.parametrize(("level", "days"), [("H", 1), ("A", 3), ("B", 7), ("C", 14)])
def test_next_followup_defaults_from_the_levels_cadence(api, alice, make_lead, level, days):
    data = log(api(alice), make_lead(alice, level=level)).json()
    assert at(data["next_followup_at"]) - at(data["occurred_at"]) == timedelta(days=days)


def test_cadence_is_the_stores_setting_and_follows_a_new_level(api, alice, make_lead, store_a):
    FollowupPolicy.objects.create(store=store_a, cadence_b_days=5, cadence_h_days=2)
    client = api(alice)
    data = log(client, make_lead(alice, level="B")).json()
    assert at(data["next_followup_at"]) - at(data["occurred_at"]) == timedelta(days=5)
    data = log(client, make_lead(alice, level="B"), level="H").json()
    assert at(data["next_followup_at"]) - at(data["occurred_at"]) == timedelta(days=2)
    assert (data["level_before"], data["level_after"]) == ("B", "H")


def test_explicit_times_win(api, alice, make_lead):
    occurred = earlier_today()
    next_time = timezone.now() + timedelta(hours=5)
    response = log(
        api(alice),
        make_lead(alice),
        occurred_at=occurred.isoformat(),
        next_followup_at=next_time.isoformat(),
    )
    assert response.status_code == 201, response.content
    assert at(response.json()["occurred_at"]) == occurred
    assert at(response.json()["next_followup_at"]) == next_time


@pytest.mark.parametrize(
    ("result", "status"),
    [("reached", "active"), ("no_answer", "active"), ("refused", "active"), ("invited", "invited")],
)
def test_results_drive_the_lead(api, alice, make_lead, result, status):
    lead = make_lead(alice)
    response = log(api(alice), lead, result=result)
    assert response.status_code == 201, response.content
    assert response.json()["lead_status"] == status
    assert Lead.objects.get(pk=lead.pk).status == status


def test_defeated_without_a_reason_uses_other_and_the_note(api, alice, make_lead):
    lead = make_lead(alice)
    response = log(api(alice), lead, result="defeated", note="已在别家订车")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["lead_status"] == "defeated"
    assert data["next_followup_at"] is None
    lead.refresh_from_db()
    assert (lead.status, lead.defeat_reason.code, lead.defeat_note) == (
        Status.DEFEATED,
        "other",
        "已在别家订车",
    )


def test_defeated_with_the_stores_reason(api, alice, make_lead, store_a, store_b):
    own = DefeatReason.objects.create(store=store_a, code="no_stock", label="缺车")
    DefeatReason.objects.create(store=store_b, code="b_only", label="苏州专用")
    lead = make_lead(alice)
    client = api(alice)
    for code in ("b_only", "nope"):
        bad = log(client, lead, result="defeated", defeat_reason=code)
        assert bad.status_code == 400, bad.content
        assert "defeat_reason" in bad.json()
    not_defeated = log(client, lead, result="reached", defeat_reason="no_stock")
    assert not_defeated.status_code == 400
    assert "defeat_reason" in not_defeated.json()
    assert not FollowUp.objects.exists()
    response = log(client, lead, result="defeated", defeat_reason="no_stock")
    assert response.status_code == 201, response.content
    assert Lead.objects.get(pk=lead.pk).defeat_reason == own


def test_defeated_with_approval_waits_for_the_manager(api, alice, mike, make_lead, store_a):
    store_a.defeat_approval_required = True
    store_a.save()
    by_agent = log(api(alice), make_lead(alice), result="defeated", defeat_reason="price")
    assert by_agent.status_code == 201, by_agent.content
    assert by_agent.json()["lead_status"] == "defeat_pending"
    by_manager = log(api(mike), make_lead(alice), result="defeated", defeat_reason="price")
    assert by_manager.status_code == 201, by_manager.content
    assert by_manager.json()["lead_status"] == "defeated"


def test_invalid_result(api, alice, make_lead):
    client = api(alice)
    default = make_lead(alice)
    response = log(client, default, result="invalid", note="空号")
    assert response.status_code == 201, response.content
    assert response.json()["lead_status"] == "invalid"
    default.refresh_from_db()
    assert (default.status, default.invalid_reason) == (Status.INVALID, "other")
    chosen = make_lead(alice)
    bad = log(client, chosen, result="invalid", invalid_reason="rude")
    assert bad.status_code == 400
    assert "invalid_reason" in bad.json()
    response = log(client, chosen, result="invalid", invalid_reason="wrong_number")
    assert response.status_code == 201, response.content
    assert Lead.objects.get(pk=chosen.pk).invalid_reason == "wrong_number"


@pytest.mark.parametrize("form", ["nested", "flat"])
def test_invited_books_the_visit_in_the_same_call(api, alice, connie, make_lead, form):
    connie.mobile = "+8613911112222"
    connie.save()
    lead = make_lead(alice)
    when = timezone.now() + timedelta(days=2)
    visit = {"scheduled_at": when.isoformat(), "receiver": connie.pk}
    extra = {"appointment": visit} if form == "nested" else visit
    response = log(api(alice), lead, result="invited", purpose="test_drive", **extra)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["lead_status"] == "invited"
    appointment = Appointment.objects.get(lead=lead)
    assert data["appointment"]["id"] == appointment.pk
    assert data["appointment"]["receiver"] == connie.pk
    assert data["appointment"]["purpose"] == "test_drive"
    assert at(data["appointment"]["scheduled_at"]) == when
    assert {row["kind"] for row in data["appointment"]["sms"]} == {
        "booking_customer",
        "booking_receiver",
        "reminder_customer",
    }


def test_appointment_input_errors(api, alice, connie, make_lead):
    lead = make_lead(alice)
    client = api(alice)
    when = (timezone.now() + timedelta(days=2)).isoformat()
    both = log(
        client, lead, result="invited", appointment={"scheduled_at": when}, scheduled_at=when
    )
    assert both.status_code == 400
    assert "appointment" in both.json()
    not_invited = log(client, lead, result="reached", scheduled_at=when)
    assert not_invited.status_code == 400
    assert "scheduled_at" in not_invited.json()
    no_time = log(client, lead, result="invited", receiver=connie.pk)
    assert no_time.status_code == 400
    assert "scheduled_at" in no_time.json()
    nested_no_time = log(client, lead, result="invited", appointment={"receiver": connie.pk})
    assert nested_no_time.status_code == 400
    assert "appointment" in nested_no_time.json()
    assert not FollowUp.objects.exists()
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"channel": "pigeon"}, "channel"),
        ({"channel": None}, "channel"),
        ({"result": "maybe"}, "result"),
        ({"purpose": "fun"}, "purpose"),
        ({"level": "Z"}, "level"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"agent": 987654}, "agent"),
    ],
)
def test_bad_input_is_400_per_field(api, alice, make_lead, overrides, field):
    response = log(api(alice), make_lead(alice), **overrides)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not FollowUp.objects.exists()


def test_no_followup_on_a_closed_lead(api, alice, make_lead):
    lead = make_lead(alice)
    client = api(alice)
    assert log(client, lead, result="invalid").status_code == 201
    response = log(client, lead)
    assert response.status_code == 409
    assert response.json()["detail"]


# ---------------------------------------------------------------- back-entry and agent


def test_agent_back_enters_earlier_today_only(api, alice, make_lead):
    lead = make_lead(alice)
    client = api(alice)
    today = log(client, lead, occurred_at=earlier_today().isoformat())
    assert today.status_code == 201, today.content
    yesterday = timezone.now() - timedelta(days=1, hours=1)
    old = log(client, lead, occurred_at=yesterday.isoformat())
    assert old.status_code == 400
    assert "occurred_at" in old.json()
    future = log(client, lead, occurred_at=(timezone.now() + timedelta(hours=1)).isoformat())
    assert future.status_code == 400
    assert "occurred_at" in future.json()


@pytest.mark.parametrize("manager", ["mike", "root"])
def test_manager_records_history_for_an_agent(api, everyone, make_lead, manager):
    alice = everyone["alice"]
    lead = make_lead(alice)
    past = timezone.now() - timedelta(days=20)
    response = log(api(everyone[manager]), lead, agent=alice.pk, occurred_at=past.isoformat())
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["agent"], data["created_by"]) == (alice.pk, everyone[manager].pk)
    assert at(data["occurred_at"]) == past


def test_only_a_manager_names_another_agent(api, alice, bob, sue, make_lead):
    lead = make_lead(alice)
    assert log(api(alice), lead, agent=bob.pk).status_code == 403
    assert log(api(sue), lead, agent=alice.pk).status_code == 403
    assert log(api(alice), lead, agent=alice.pk).status_code == 201
    assert list(FollowUp.objects.values_list("agent", flat=True)) == [alice.pk]


def test_the_agent_named_works_in_the_leads_store(api, mike, root, dave, make_lead, alice):
    lead = make_lead(alice)
    foreign = log(api(mike), lead, agent=dave.pk)  # not even in mike's directory
    assert foreign.status_code == 400
    assert "agent" in foreign.json()
    other_store = log(api(root), lead, agent=dave.pk)  # root sees dave; the service refuses
    assert other_store.status_code == 400
    assert "agent" in other_store.json()


# ---------------------------------------------------------------- roles and scope


def test_callers_and_consultants_log_on_their_own_leads(api, carol, connie, alice, make_lead):
    assert log(api(carol), make_lead(carol)).status_code == 201
    assert log(api(connie), make_lead(connie, source=Source.WALK_IN)).status_code == 201
    assert log(api(connie), make_lead(alice)).status_code == 404
    assert log(api(carol), make_lead(alice)).status_code == 404


def test_supervisor_logs_on_the_teams_leads_not_anothers(api, sue, alice, carol, make_lead):
    response = log(api(sue), make_lead(alice))
    assert response.status_code == 201
    assert response.json()["agent"] == sue.pk
    assert log(api(sue), make_lead(carol)).status_code == 404


@pytest.mark.parametrize("username", ["bob", "dave", "mary"])
def test_another_agents_lead_is_404_for_every_post(api, everyone, make_lead, envision, username):
    alice = everyone["alice"]
    lead = make_lead(alice)
    client = api(everyone[username])
    when = (timezone.now() + timedelta(days=1)).isoformat()
    assert log(client, lead).status_code == 404
    assert book(client, lead).status_code == 404
    deal = {"vehicle_model": envision.pk, "stage": "order"}
    assert client.post(lead_url(lead, "deal"), deal, format="json").status_code == 404
    assert client.get(lead_url(lead)).status_code == 404
    appointment = Appointment.objects.get(pk=book(api(alice), lead).json()["id"])
    assert client.get(appointment_url(appointment)).status_code == 404
    for action, data in [
        ("confirm", {}),
        ("reschedule", {"scheduled_at": when}),
        ("cancel", {}),
        ("arrive", {}),
        ("no-show", {}),
    ]:
        response = client.post(appointment_url(appointment, action), data, format="json")
        assert response.status_code == 404, action
    assert not FollowUp.objects.exists()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


def test_unknown_lead_and_appointment_are_404(api, mike):
    client = api(mike)
    assert client.post(f"{LEADS}987654/followups/", {}, format="json").status_code == 404
    assert client.post(f"{LEADS}987654/appointments/", {}, format="json").status_code == 404
    assert client.get(f"{APPOINTMENTS}987654/").status_code == 404
    assert client.post(f"{APPOINTMENTS}987654/arrive/", {}, format="json").status_code == 404


def test_unauthenticated_is_401(api, alice, make_lead, booked):
    client = api()
    lead = make_lead(alice)
    assert log(client, lead).status_code == 401
    assert book(client, lead).status_code == 401
    assert client.post(appointment_url(booked, "arrive")).status_code == 401
    for path in (QUEUE, FOLLOWUPS, APPOINTMENTS, appointment_url(booked)):
        assert client.get(path).status_code == 401, path


# ---------------------------------------------------------------- appointments


def test_book_a_visit(api, alice, connie, make_lead):
    connie.mobile = "+8613911112222"
    connie.save()
    lead = make_lead(alice)
    when = timezone.now() + timedelta(days=3)
    response = book(
        api(alice), lead, scheduled_at=when.isoformat(), receiver=connie.pk, note="带家人"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    appointment = Appointment.objects.get()
    assert data["id"] == appointment.pk
    assert (data["lead"], data["agent"], data["receiver"]) == (lead.pk, alice.pk, connie.pk)
    assert data["receiver_name"] == connie.display_name
    assert data["customer_name"] == "王小明"
    assert at(data["scheduled_at"]) == when
    assert (data["purpose"], data["status"], data["note"]) == ("test_drive", "booked", "带家人")
    assert (data["lead_status"], data["version"]) == ("invited", 1)
    assert data["arrived_at"] is None
    lead.refresh_from_db()
    assert lead.status == Status.INVITED
    assert lead.is_dcc_invited
    messages = {m.kind: m for m in SmsMessage.objects.filter(appointment=appointment)}
    assert set(messages) == {"booking_customer", "booking_receiver", "reminder_customer"}
    assert messages["booking_customer"].phone == lead.phone
    assert messages["booking_receiver"].phone == connie.mobile
    reminder = timezone.localtime(messages["reminder_customer"].send_after)
    assert reminder.date() == timezone.localtime(when).date() - timedelta(days=1)
    assert reminder.hour == 10
    assert all(m.status == SmsStatus.PENDING for m in messages.values())
    assert {row["kind"] for row in data["sms"]} == set(messages)


def test_no_receiver_sms_without_a_mobile(api, alice, connie, make_lead):
    response = book(api(alice), make_lead(alice), receiver=connie.pk, purpose="event")
    assert response.status_code == 201, response.content
    assert response.json()["purpose"] == "event"
    kinds = set(SmsMessage.objects.values_list("kind", flat=True))
    assert kinds == {"booking_customer", "reminder_customer"}


def test_booking_errors(api, alice, mike, bob, dave, make_lead):
    lead = make_lead(alice)
    client = api(alice)
    foreign = book(client, lead, receiver=dave.pk)
    assert foreign.status_code == 400
    assert "receiver" in foreign.json()
    bob.is_active = False
    bob.save()
    inactive = book(client, lead, receiver=bob.pk)
    assert inactive.status_code == 400
    assert "receiver" in inactive.json()
    for data in ({"purpose": "fun"}, {"scheduled_at": "soon"}, {"scheduled_at": None}):
        field = next(iter(data))
        bad = book(client, lead, **data)
        assert bad.status_code == 400, data
        assert field in bad.json()
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()
    past = book(client, lead, scheduled_at=yesterday)
    assert past.status_code == 400
    assert "scheduled_at" in past.json()
    assert not Appointment.objects.exists()
    assert book(api(mike), lead, scheduled_at=yesterday).status_code == 201  # history


def test_no_booking_on_a_closed_lead(api, alice, make_lead):
    lead = make_lead(alice)
    client = api(alice)
    log(client, lead, result="invalid")
    response = book(client, lead)
    assert response.status_code == 409
    assert response.json()["detail"]


def test_arrive(api, alice, booked):
    response = api(alice).post(
        appointment_url(booked, "arrive"), {"test_drive": True, "group_size": 3}, format="json"
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["lead_status"]) == ("arrived", "visited")
    assert (data["test_drive"], data["group_size"], data["visit_number"]) == (True, 3, 1)
    assert at(data["arrived_at"]) <= timezone.now()
    assert not SmsMessage.objects.filter(appointment=booked, status=SmsStatus.PENDING).exists()
    again = api(alice).post(appointment_url(booked, "arrive"))
    assert again.status_code == 409
    assert again.json()["detail"]
    assert api(alice).post(appointment_url(booked, "no-show")).status_code == 409


def test_arrival_time_follows_the_back_entry_rule(api, alice, mike, make_lead):
    client = api(alice)
    first = Appointment.objects.get(pk=book(client, make_lead(alice)).json()["id"])
    yesterday = (timezone.now() - timedelta(days=1, hours=1)).isoformat()
    old = client.post(appointment_url(first, "arrive"), {"arrived_at": yesterday}, format="json")
    assert old.status_code == 400
    assert "arrived_at" in old.json()
    small = client.post(appointment_url(first, "arrive"), {"group_size": 0}, format="json")
    assert small.status_code == 400
    assert "group_size" in small.json()
    today = earlier_today()
    response = client.post(
        appointment_url(first, "arrive"), {"arrived_at": today.isoformat()}, format="json"
    )
    assert response.status_code == 200, response.content
    assert at(response.json()["arrived_at"]) == today
    second = Appointment.objects.get(pk=book(client, make_lead(alice)).json()["id"])
    response = api(mike).post(
        appointment_url(second, "arrive"), {"arrived_at": yesterday}, format="json"
    )
    assert response.status_code == 200, response.content


def test_no_show(api, alice, booked):
    response = api(alice).post(appointment_url(booked, "no-show"))
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["lead_status"]) == ("no_show", "active")
    assert not SmsMessage.objects.filter(appointment=booked, status=SmsStatus.PENDING).exists()
    assert api(alice).post(appointment_url(booked, "no-show")).status_code == 409
    assert api(alice).post(appointment_url(booked, "arrive")).status_code == 409


def test_confirm(api, alice, booked):
    response = api(alice).post(appointment_url(booked, "confirm"))
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "confirmed"
    assert at(data["confirmed_at"]) <= timezone.now()
    assert api(alice).post(appointment_url(booked, "confirm")).status_code == 409


def test_reschedule(api, alice, booked):
    client = api(alice)
    new_time = booked.scheduled_at + timedelta(days=1)
    response = client.post(
        appointment_url(booked, "reschedule"),
        {"scheduled_at": new_time.isoformat(), "reason": "客户出差"},
        format="json",
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["version"]) == ("booked", 2)
    assert at(data["scheduled_at"]) == new_time
    pending = SmsMessage.objects.filter(appointment=booked, status=SmsStatus.PENDING)
    assert pending.exists()
    assert all(":v2:" in key for key in pending.values_list("idempotency_key", flat=True))
    assert {row["status"] for row in data["sms"]} == {"pending", "cancelled"}
    same = client.post(
        appointment_url(booked, "reschedule"), {"scheduled_at": new_time.isoformat()}, format="json"
    )
    assert same.status_code == 409
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    bad = client.post(appointment_url(booked, "reschedule"), {"scheduled_at": past}, format="json")
    assert bad.status_code == 400
    assert "scheduled_at" in bad.json()
    missing = client.post(appointment_url(booked, "reschedule"), {}, format="json")
    assert missing.status_code == 400
    assert "scheduled_at" in missing.json()


def test_cancel(api, alice, booked):
    client = api(alice)
    response = client.post(appointment_url(booked, "cancel"), {"reason": "改主意"}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["lead_status"]) == ("cancelled", "active")
    assert data["cancelled_at"]
    assert not SmsMessage.objects.filter(appointment=booked, status=SmsStatus.PENDING).exists()
    assert client.post(appointment_url(booked, "cancel")).status_code == 409
    later = (booked.scheduled_at + timedelta(days=1)).isoformat()
    moved = client.post(appointment_url(booked, "reschedule"), {"scheduled_at": later})
    assert moved.status_code == 409
    assert client.post(appointment_url(booked, "confirm")).status_code == 409


def test_the_receiving_consultant_sees_and_records_the_visit(api, alice, connie, make_lead):
    lead = make_lead(alice)
    appointment_id = book(api(alice), lead, receiver=connie.pk).json()["id"]
    client = api(connie)
    assert client.get(f"{APPOINTMENTS}{appointment_id}/").status_code == 200
    assert [row["id"] for row in client.get(APPOINTMENTS).json()["results"]] == [appointment_id]
    response = client.post(f"{APPOINTMENTS}{appointment_id}/arrive/", {"test_drive": True})
    assert response.status_code == 200, response.content
    assert response.json()["lead_status"] == "visited"
    # The receiver reads the lead (the visit arrived today), never works it.
    assert client.get(lead_url(lead)).status_code == 200
    lead.refresh_from_db()
    assert lead.owner == alice


def test_supervisor_and_manager_act_on_the_teams_appointments(api, sue, mike, booked):
    assert api(sue).post(appointment_url(booked, "confirm")).status_code == 200
    assert api(mike).post(appointment_url(booked, "no-show")).status_code == 200


# ---------------------------------------------------------------- lists


def _ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def history(api, alice, bob, mike, make_lead):
    """Follow-ups and visits of alice's and bob's."""
    now = timezone.now()
    alice_lead, bob_lead = make_lead(alice), make_lead(bob)
    old = log(api(mike), alice_lead, agent=alice.pk, occurred_at=(now - timedelta(days=10)))
    recent = log(api(alice), alice_lead, result="no_answer")
    bobs = log(api(bob), bob_lead)
    alice_visit = book(api(alice), alice_lead, days=2)
    bob_visit = book(api(bob), bob_lead, days=5)
    api(bob).post(f"{APPOINTMENTS}{bob_visit.json()['id']}/confirm/")
    return {
        "alice_lead": alice_lead,
        "bob_lead": bob_lead,
        "old": old.json()["id"],
        "recent": recent.json()["id"],
        "bob": bobs.json()["id"],
        "alice_visit": alice_visit.json()["id"],
        "bob_visit": bob_visit.json()["id"],
    }


def test_followup_list_is_scoped_and_filtered(api, alice, mike, dave, history):
    assert _ids(api(alice).get(FOLLOWUPS)) == [history["recent"], history["old"]]
    assert _ids(api(dave).get(FOLLOWUPS)) == []
    client = api(mike)
    assert set(_ids(client.get(FOLLOWUPS))) == {history["old"], history["recent"], history["bob"]}
    assert _ids(client.get(FOLLOWUPS, {"lead": history["bob_lead"].pk})) == [history["bob"]]
    assert _ids(client.get(FOLLOWUPS, {"agent": alice.pk})) == [history["recent"], history["old"]]
    assert _ids(client.get(FOLLOWUPS, {"result": "no_answer"})) == [history["recent"]]
    cut = (timezone.now() - timedelta(days=1)).isoformat()
    assert _ids(client.get(FOLLOWUPS, {"occurred_before": cut})) == [history["old"]]
    assert set(_ids(client.get(FOLLOWUPS, {"occurred_after": cut}))) == {
        history["recent"],
        history["bob"],
    }
    row = client.get(f"{FOLLOWUPS}{history['old']}/").json()
    assert (row["agent"], row["created_by"], row["lead_status"]) == (alice.pk, mike.pk, "invited")
    assert api(alice).get(f"{FOLLOWUPS}{history['bob']}/").status_code == 404


def test_followup_filters_outside_scope_are_400(api, alice, mike, dave, history):
    assert api(alice).get(FOLLOWUPS, {"lead": history["bob_lead"].pk}).status_code == 400
    assert api(mike).get(FOLLOWUPS, {"agent": dave.pk}).status_code == 400
    assert api(mike).get(FOLLOWUPS, {"result": "won"}).status_code == 400


def test_appointment_list_is_scoped_and_filtered(api, alice, bob, mike, dave, history):
    assert _ids(api(alice).get(APPOINTMENTS)) == [history["alice_visit"]]
    assert _ids(api(dave).get(APPOINTMENTS)) == []
    client = api(mike)
    assert _ids(client.get(APPOINTMENTS)) == [history["alice_visit"], history["bob_visit"]]
    lead = history["alice_lead"].pk
    assert _ids(client.get(APPOINTMENTS, {"lead": lead})) == [history["alice_visit"]]
    assert _ids(client.get(APPOINTMENTS, {"agent": bob.pk})) == [history["bob_visit"]]
    assert _ids(client.get(APPOINTMENTS, {"status": "confirmed"})) == [history["bob_visit"]]
    both = client.get(APPOINTMENTS, {"status": ["booked", "confirmed"]})
    assert len(_ids(both)) == 2
    cut = (timezone.now() + timedelta(days=3)).isoformat()
    assert _ids(client.get(APPOINTMENTS, {"scheduled_before": cut})) == [history["alice_visit"]]
    assert _ids(client.get(APPOINTMENTS, {"scheduled_after": cut})) == [history["bob_visit"]]
    assert api(alice).get(APPOINTMENTS, {"lead": history["bob_lead"].pk}).status_code == 400
    assert client.get(APPOINTMENTS, {"status": "lost"}).status_code == 400


def test_list_query_counts_do_not_grow_with_rows(
    api, mike, alice, bob, connie, make_lead, django_assert_max_num_queries
):
    client = api(mike)

    def add_rows():
        for agent in (alice, bob):
            lead = make_lead(agent)
            log(api(agent), lead)
            book(api(agent), lead, receiver=connie.pk)

    add_rows()
    for path in (FOLLOWUPS, APPOINTMENTS):
        with django_assert_max_num_queries(4):  # token, count, page, (visits: their SMS)
            assert client.get(path).status_code == 200
    for _ in range(5):
        add_rows()
    for path in (FOLLOWUPS, APPOINTMENTS):
        with django_assert_max_num_queries(4):
            response = client.get(path)
        assert response.json()["count"] == 12


# ---------------------------------------------------------------- deals


def test_deal(api, alice, bob, make_lead, envision):
    lead = make_lead(alice)
    response = api(alice).post(
        lead_url(lead, "deal"), {"vehicle_model": envision.pk, "stage": "order"}, format="json"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["lead"], data["vehicle_model"], data["card"]) == (lead.pk, envision.pk, "B")
    assert Lead.objects.get(pk=lead.pk).status == Status.ORDERED
    today = earlier_today()
    delivered = api(alice).post(
        lead_url(lead, "deal"),
        {"vehicle_model": envision.pk, "stage": "delivered", "deal_at": today.isoformat()},
        format="json",
    )
    assert delivered.status_code == 201, delivered.content
    assert (delivered.json()["card"], at(delivered.json()["delivered_at"])) == ("C", today)
    assert log(api(alice), lead).status_code == 409  # a delivered lead is closed


# ---------------------------------------------------------------- lead detail


def test_lead_detail_has_its_followups_and_appointments(api, alice, bob, mike, connie, make_lead):
    lead = make_lead(alice)
    log(api(alice), lead, result="no_answer")
    log(api(alice), lead, result="invited", scheduled_at=timezone.now() + timedelta(days=1))
    # One pending visit per lead: a second booking is refused, not added.
    assert book(api(alice), lead, receiver=connie.pk).status_code == 409
    api(mike).post(lead_url(lead, "assign"), {"owner": bob.pk, "reason": "调岗"}, format="json")
    response = api(bob).get(lead_url(lead))  # the new owner reads alice's history
    assert response.status_code == 200, response.content
    data = response.json()
    assert [row["result"] for row in data["followups"]] == ["invited", "no_answer"]
    assert all(row["agent"] == alice.pk for row in data["followups"])
    assert {"occurred_at", "next_followup_at", "channel", "purpose", "note"} <= set(
        data["followups"][0]
    )
    assert len(data["appointments"]) == 1
    assert all(row["status"] == "booked" for row in data["appointments"])
    assert all(row["scheduled_at"].endswith("+08:00") for row in data["appointments"])
    assert data["calls"] == []  # no call log imported


# ---------------------------------------------------------------- queue


@pytest.fixture
def queue_leads(api, alice, bob, mike, make_lead):
    """One lead of alice's in each queue section, and bob's like them."""
    now = timezone.now()
    tomorrow = timezone.localtime(now).replace(hour=15, minute=0) + timedelta(days=1)
    later_today = timezone.localtime(now).replace(hour=23, minute=30)
    leads = {}
    for agent in (bob, alice):  # bob's first: ids give his leads no head start
        client = api(agent)
        overdue = make_lead(agent)
        log(client, overdue, next_followup_at=(now - timedelta(days=2)).isoformat())
        urgent = make_lead(
            mike, source=Source.MANUFACTURER, received_at=now - timedelta(hours=40), owner=agent
        )
        web = make_lead(agent)
        confirm = make_lead(agent)
        appointment = book(client, confirm, scheduled_at=tomorrow.isoformat()).json()["id"]
        today = make_lead(agent)
        log(client, today, next_followup_at=later_today.isoformat())
        later = make_lead(agent)
        log(client, later, next_followup_at=(now + timedelta(days=3)).isoformat())
        leads[agent.username] = {
            "overdue": overdue,
            "urgent": urgent,
            "web": web,
            "confirm": confirm,
            "appointment": appointment,
            "today": today,
            "later": later,
        }
    return leads


def test_queue_order_reasons_and_deadlines(api, alice, queue_leads):
    mine = queue_leads["alice"]
    response = api(alice).get(QUEUE)
    assert response.status_code == 200, response.content
    items = response.json()["results"]
    assert [(item["kind"], item["lead"]["id"]) for item in items] == [
        ("overdue", mine["overdue"].pk),
        ("new", mine["urgent"].pk),
        ("new", mine["web"].pk),
        ("confirm", mine["confirm"].pk),
        ("today", mine["today"].pk),
        # Every open lead is in the queue once (issue 13): planned later, last.
        ("later", mine["later"].pk),
    ]
    for item in items:
        assert item["reason"]
    overdue, urgent, web, confirm, today, _later = items
    assert overdue["is_late"] is True
    assert at(overdue["deadline"]) < timezone.now()
    assert at(urgent["deadline"]) == Lead.objects.get(pk=mine["urgent"].pk).first_contact_due
    assert urgent["is_late"] is False
    assert (web["deadline"], web["is_late"]) == (None, False)
    assert confirm["appointment"]["id"] == mine["appointment"]
    assert at(confirm["deadline"]) == at(confirm["appointment"]["scheduled_at"])
    assert at(today["deadline"]).date() == timezone.localdate()
    assert today["appointment"] is None
    assert urgent["lead"]["name"] == "王小明"
    assert {"phone", "phone_display", "level", "status", "next_followup_at"} <= set(urgent["lead"])


def test_queue_pages_through_the_same_order(api, alice, queue_leads):
    """Pages of the queue are slices of the one order (API.md: ``results``,
    ``next``; default 50, ``page_size`` up to 200)."""
    client = api(alice)
    whole = [item["lead"]["id"] for item in client.get(QUEUE).json()["results"]]
    assert len(whole) == 6
    first = client.get(QUEUE, {"page_size": 4}).json()
    assert first["previous"] is None
    assert [item["lead"]["id"] for item in first["results"]] == whole[:4]
    assert "page=2" in first["next"]
    assert "page_size=4" in first["next"]
    second = client.get(first["next"]).json()
    assert [item["lead"]["id"] for item in second["results"]] == whole[4:]
    assert second["next"] is None
    assert "page=" not in second["previous"]
    assert "page_size=4" in second["previous"]
    assert client.get(QUEUE, {"page_size": 4, "page": 3}).status_code == 404
    assert client.get(QUEUE, {"page": "x"}).status_code == 404


def test_queue_page_size_defaults_to_50_and_stops_at_200(api, alice, make_lead):
    leads = [make_lead(alice) for _ in range(201)]
    # Two sections (each holds at most 200 rows): 101 overdue, 100 new.
    Lead.objects.filter(pk__in=[lead.pk for lead in leads[:101]]).update(
        next_followup_at=timezone.now() - timedelta(days=2)
    )
    client = api(alice)
    page = client.get(QUEUE).json()
    assert len(page["results"]) == 50
    assert page["next"] is not None
    assert len(client.get(QUEUE, {"page_size": 500}).json()["results"]) == 200
    assert len(client.get(QUEUE, {"page_size": 500, "page": 2}).json()["results"]) == 1


def test_queue_never_shows_another_agents_leads(api, alice, bob, queue_leads):
    bobs = {lead.pk for key, lead in queue_leads["bob"].items() if key != "appointment"}
    alices = {lead.pk for key, lead in queue_leads["alice"].items() if key != "appointment"}
    assert not bobs & {item["lead"]["id"] for item in api(alice).get(QUEUE).json()["results"]}
    assert {item["lead"]["id"] for item in api(bob).get(QUEUE).json()["results"]} == bobs
    assert not alices & bobs


def test_queue_of_someone_without_leads_is_empty(api, mike, root, queue_leads):
    assert api(mike).get(QUEUE).json() == {"next": None, "previous": None, "results": []}
    assert api(root).get(QUEUE).json()["results"] == []


def test_queue_query_count_does_not_grow_with_rows(
    api, alice, mike, make_lead, django_assert_max_num_queries
):
    client = api(alice)
    # token, the store's retry interval, tomorrow's visits, the page's ids and
    # sections (then, when there are some, the rows: see below)
    with django_assert_max_num_queries(4):
        assert client.get(QUEUE).json()["results"] == []
    now = timezone.now()
    tomorrow = timezone.localtime(now).replace(hour=11, minute=0) + timedelta(days=1)
    for _ in range(4):
        log(client, make_lead(alice), next_followup_at=(now - timedelta(days=1)).isoformat())
        make_lead(mike, source=Source.MANUFACTURER, owner=alice)
        book(client, make_lead(alice), scheduled_at=tomorrow.isoformat())
    # ... and the rows themselves: choosing them and reading them are two
    # queries (issue 20: as one, PostgreSQL spent 5 ms planning it).
    with django_assert_max_num_queries(5):
        response = client.get(QUEUE)
    assert len(response.json()["results"]) == 12


def test_queue_drops_a_visit_whose_lead_went_to_someone_else(api, alice, bob, mike, make_lead):
    lead = make_lead(alice)
    tomorrow = timezone.localtime().replace(hour=15, minute=0) + timedelta(days=1)
    assert book(api(alice), lead, scheduled_at=tomorrow.isoformat()).status_code == 201
    assert [item["kind"] for item in api(alice).get(QUEUE).json()["results"]] == ["confirm"]
    api(mike).post(lead_url(lead, "assign"), {"owner": bob.pk, "reason": "调岗"}, format="json")
    assert api(alice).get(QUEUE).json()["results"] == []
