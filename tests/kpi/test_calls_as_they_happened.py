"""KPIs from real call-log patterns (issue 14), through the real import:
answered-in-time counts agents' answers only, with the ring from when the
call reached the agents; the 48-hour first contact is met by a connected
call when the store imports its call log; a late call log settles a breach
already raised. Each of these gave other figures before issue 14 (noted
at each assertion)."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest

from followups import sla
from followups.models import FirstContactRule, FollowupPolicy, SlaBreach
from kpi.metrics import Scope, compute, drilldown
from leads.models import Lead
from telephony import services as telephony
from telephony.models import Call
from tests.kpi.conftest import OCTOBER, SHANGHAI, at, manager_of

pytestmark = pytest.mark.django_db

_ids = iter(range(1, 10_000))


def cdr(src, dst, channel, dstchannel, app, data, start, answer, end, billsec, disposition, linked):
    """One Master.csv line (21 columns) as cdr_csv writes it, in the PBX's
    local time (the store's source: Asia/Shanghai)."""

    def fmt(moment):
        return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")

    uid = f"1790000000.{next(_ids)}"
    fields = [
        "", src, dst, "from-did", f'"{src}" <{src}>', channel, dstchannel, app, data,
        fmt(start), fmt(answer) if answer else "", fmt(end),
        str(int((end - start).total_seconds())), str(billsec), disposition, "DOCUMENTATION",
        uid, "", "", linked, uid.rpartition(".")[2],
    ]  # fmt: skip
    out = []
    for index, value in enumerate(fields):
        if index in (12, 13) or (index == 10 and not value):
            out.append(value)
        else:
            out.append('"' + value.replace('"', '""') + '"')
    return ",".join(out) + "\n"


def s(seconds):
    return timedelta(seconds=seconds)


def import_lines(store, lines):
    return telephony.import_cdr(
        actor=manager_of(store),
        store=store,
        fileobj=io.BytesIO("".join(lines).encode()),
        file_name="Master.csv",
    )


TRUNK = "PJSIP/ct-trunk-0000{}"


def ivr_hangup(number, t, linked):
    return [cdr(number, "s", TRUNK.format(1), "", "BackGround", "welcome", t, t, t + s(12), 12,
                "ANSWERED", linked)]  # fmt: skip


def ivr_then_agent(number, t, linked, ext="8001", ring=40, talk=120):
    dial = t + s(10)
    answer = dial + s(ring)
    return [
        cdr(number, "s", TRUNK.format(2), "", "BackGround", "welcome", t, t, dial, 10,
            "ANSWERED", linked),
        cdr(number, ext, TRUNK.format(2), f"PJSIP/{ext}-00000002", "Dial", f"PJSIP/{ext},60", dial,
            answer, answer + s(talk), talk, "ANSWERED", linked),
    ]  # fmt: skip


def direct(number, t, linked, ext="8001", ring=5, talk=60):
    answer = t + s(ring)
    return [cdr(number, ext, TRUNK.format(3), f"PJSIP/{ext}-00000003", "Dial", f"PJSIP/{ext},30",
                t, answer, answer + s(talk), talk, "ANSWERED", linked)]  # fmt: skip


def voicemail(number, t, linked, ext="8001"):
    return [
        cdr(number, ext, TRUNK.format(4), f"PJSIP/{ext}-00000004", "Dial", f"PJSIP/{ext},30",
            t, None, t + s(30), 0, "NO ANSWER", linked),
        cdr(number, f"vmu{ext}", TRUNK.format(4), "", "VoiceMail", f"{ext}@default,u", t + s(30),
            t + s(30), t + s(75), 45, "ANSWERED", linked),
    ]  # fmt: skip


def outbound(ext, number, t, linked, *, answered=True, talk=120):
    answer = t + s(8) if answered else None
    end = (answer + s(talk)) if answered else t + s(30)
    return [cdr(ext, f"9{number}", f"PJSIP/{ext}-00000005", TRUNK.format(5), "Dial",
                f"PJSIP/9{number}@ct-trunk,60", t, answer, end, talk if answered else 0,
                "ANSWERED" if answered else "NO ANSWER", linked)]  # fmt: skip


def test_answered_in_time_counts_agents_from_when_the_call_reached_them(store_a, alice):
    day = at(10, 12, 10)
    lines = []
    # A: heard the greeting, hung up (before: answered within 0 s).
    lines += ivr_hangup("13811110001", day, "A")
    # B: greeting, then alice picks up 40 s after the dial (before: 0 s, in time).
    lines += ivr_then_agent("13811110002", day + s(600), "B")
    # C: alice answers after 5 s: in time, always.
    lines += direct("13811110003", day + s(1200), "C")
    # D: no answer, then voicemail (before: answered; its 45 s were talk).
    lines += voicemail("13811110004", day + s(1800), "D")
    import_lines(store_a, lines)

    calls = {call.key: call for call in Call.objects.filter(store=store_a)}
    assert {key: calls[key].answered_by for key in "ABCD"} == {
        "A": "system",
        "B": "agent",
        "C": "agent",
        "D": "system",
    }
    figures = compute(Scope("store", store_a.pk), OCTOBER)
    in_time = figures["answered_in_time_rate"]
    # Only C: 1 of 4 inbound calls (before issue 14: A, B and C, 3 of 4).
    assert (in_time.numerator, in_time.denominator, in_time.value) == (1, 4, Decimal("25.00"))
    # Talk with agents only: 120 + 60 (before: 12 + 10 + 120 + 60 + 45 = 247).
    assert figures["talk_seconds_per_agent_day"].numerator == 180
    listed = drilldown(Scope("store", store_a.pk), OCTOBER, "answered_in_time_rate", "numerator")
    assert [call.key for call in listed] == ["C"]


@pytest.fixture
def connected_store(store_a):
    """Store A imports its call log (the rule "auto" is then a connected call)."""
    return store_a


def test_48_hours_are_met_by_a_connected_call_not_by_a_logged_attempt(
    connected_store, alice, lead, call_log
):
    store = connected_store
    received = at(10, 5, 9)
    # M1: alice logs a call 1 h after receipt, but the PBX shows no answer.
    m1 = lead(alice, received, source="manufacturer", phone="+8613822220001")
    # M2: a 2-minute call from 8001 in the log, nobody logged a follow-up.
    m2 = lead(alice, received, source="manufacturer", phone="+8613822220002")
    # M3: a 5-second call (below the store's 10 s): not a contact.
    m3 = lead(alice, received, source="manufacturer", phone="+8613822220003")
    lines = []
    lines += outbound("8001", "13822220001", received + s(3600), "M1", answered=False)
    lines += outbound("8001", "13822220002", received + s(7200), "M2", talk=120)
    lines += outbound("8001", "13822220003", received + s(7300), "M3", talk=5)
    import_lines(store, lines)
    call_log(alice, m1, received + s(3610), result="no_answer")

    scope = Scope("store", store.pk)
    met = set(
        drilldown(scope, OCTOBER, "sla_48h_compliance", "numerator").values_list("pk", flat=True)
    )
    # Before issue 14: {M1} (any logged call); now the connected call only.
    assert met == {m2.pk}
    m2.refresh_from_db()
    call = Call.objects.get(store=store, key="M2")
    assert (m2.sla_met_at, m2.first_contacted_at, m2.sla_met_call_id) == (
        call.started_at,
        call.started_at,
        call.pk,
    )
    # The drill-down names the call that met the rule.
    row = drilldown(scope, OCTOBER, "sla_48h_compliance", "numerator").get()
    assert row.sla_met_call_id == call.pk
    m1.refresh_from_db()
    m3.refresh_from_db()
    assert m1.sla_met_at is None
    assert m3.sla_met_at is None
    # The sweep agrees: M1 and M3 are breached once the deadline passes.
    assert sla.sweep_breaches(now=received + timedelta(hours=48, seconds=1)) == 2


def test_a_store_may_choose_any_logged_call(connected_store, alice, lead, call_log):
    policy = FollowupPolicy.objects.for_store(connected_store)
    policy.first_contact_rule = FirstContactRule.LOGGED
    policy.save()
    m1 = lead(alice, at(10, 5, 9), source="manufacturer")
    call_log(alice, m1, at(10, 5, 10), result="no_answer")
    m1.refresh_from_db()
    assert m1.sla_met_at == at(10, 5, 10)


def test_a_store_without_a_call_log_keeps_any_logged_call(store_b, dave, mary, lead, call_log):
    m1 = lead(dave, at(10, 5, 9), source="manufacturer")
    call_log(dave, m1, at(10, 5, 10), result="no_answer")
    m1.refresh_from_db()
    assert m1.sla_met_at == at(10, 5, 10)


def test_a_late_call_log_settles_the_breach_already_raised(connected_store, alice, lead):
    store = connected_store
    received = at(10, 5, 9)
    due = received + timedelta(hours=48)
    # The store's log began before (so the rule is "connected").
    import_lines(store, direct("13833330000", received - s(3600), "OLD"))
    in_time = lead(alice, received, source="manufacturer", phone="+8613833330001")
    late = lead(alice, received, source="manufacturer", phone="+8613833330002")
    assert sla.sweep_breaches(now=due + s(60)) == 2
    # The day's log arrives the next morning: one was called in time, one late.
    lines = outbound("8001", "13833330001", due - s(3600), "IN") + outbound(
        "8001", "13833330002", due + s(600), "LATE"
    )
    import_lines(store, lines)

    proven = SlaBreach.objects.get(lead=in_time)
    assert proven.contacted_at == due - s(3600)
    assert proven.contact_call == Call.objects.get(store=store, key="IN")
    assert proven.met_in_time
    met_late = SlaBreach.objects.get(lead=late)
    assert met_late.contacted_at == due + s(600)
    assert not met_late.met_in_time
    # The breach stays recorded; only the met-late one is still open.
    assert set(SlaBreach.objects.open().values_list("lead", flat=True)) == {late.pk}
    scope = Scope("store", store.pk)
    met = set(
        drilldown(scope, OCTOBER, "sla_48h_compliance", "numerator").values_list("pk", flat=True)
    )
    assert met == {in_time.pk}
    assert Lead.objects.get(pk=late.pk).sla_met_at == due + s(600)


def test_a_lead_without_a_deadline_is_contacted_by_any_logged_call(
    connected_store, alice, lead, call_log
):
    """The rule governs the leads with a first-contact deadline; a web lead
    keeps today's meaning of its first contact (any logged call)."""
    import_lines(connected_store, direct("13844440000", at(10, 4, 9), "LOG"))
    web_lead = lead(alice, at(10, 5, 9), source="web")
    call_log(alice, web_lead, at(10, 5, 10), result="no_answer")
    web_lead.refresh_from_db()
    assert web_lead.first_contacted_at == at(10, 5, 10)
