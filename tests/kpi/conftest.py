"""Helpers for KPI scenarios: history written through the real services.

October 2026 is the month under test (``OCTOBER``); times are local
(Asia/Shanghai). The store's manager (mike in store A, mary in store B)
back-dates what agents did: leads received, calls logged in an agent's name,
visits arrived, deals.
An appointment is booked by its agent (for a future time, as an agent may)
and then marked arrived at its past time by the manager, so the visit stays
the agent's. Calls come from the PBX, so they are rows, as an import writes them.
"""

import io
from datetime import datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from dcc.models import User
from dcc.roles import Role
from followups import services as followups
from kpi.metrics import Period
from leads import services as leads
from telephony.models import AnsweredBy, Call, Direction, Disposition

SHANGHAI = ZoneInfo("Asia/Shanghai")
OCTOBER = Period.month(2026, 10)


def at(month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0):
    """A local (Asia/Shanghai) moment in 2026."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _outbox_only(settings):
    settings.SMS_BACKEND = "followups.backends.console.OutboxOnlyBackend"


_phones = count(13_800_000_000)


def manager_of(store):
    return User.objects.filter(store=store, role=Role.MANAGER).order_by("pk").first()


@pytest.fixture
def lead(mike, envision):
    """``lead(owner, received, **fields)``: entered by the store's manager for ``owner``."""

    def make(owner, received, *, phone=None, **fields):
        fields.setdefault("name", "王小明")
        fields.setdefault("source", "web")
        fields.setdefault("intended_model", envision)
        store = owner.store if owner else mike.store
        return leads.lead_create(
            actor=manager_of(store),
            store=store,
            phone=phone or f"+86{next(_phones)}",
            owner=owner,
            received_at=received,
            **fields,
        )

    return make


@pytest.fixture
def call_log(mike):
    """``call_log(agent, lead, when, **fields)``: a phone follow-up the agent
    made, recorded by the store's manager."""

    def log(agent, lead, when, *, result="reached", channel="call", **fields):
        return followups.followup_log(
            actor=manager_of(lead.store),
            lead=lead,
            agent=agent,
            channel=channel,
            result=result,
            occurred_at=when,
            **fields,
        )

    return log


@pytest.fixture
def visit(mike):
    """``visit(agent, lead, arrived, test_drive=False)``: booked by ``agent``,
    arrived (recorded by the store's manager) at ``arrived``. ``agent=None``:
    a walk-in the manager recorded (the visit is theirs)."""

    def make(agent, lead, arrived, *, test_drive=False):
        manager = manager_of(lead.store)
        if agent is None:
            return followups.visit_record(
                actor=manager, lead=lead, arrived_at=arrived, test_drive=test_drive
            )
        appointment = followups.appointment_book(
            actor=agent, lead=lead, scheduled_at=timezone.now() + timedelta(days=2)
        )
        return followups.appointment_arrive(
            actor=manager, appointment=appointment, arrived_at=arrived, test_drive=test_drive
        )

    return make


@pytest.fixture
def deal(mike):
    def make(lead, model, when, stage="order"):
        return leads.deal_record(
            actor=manager_of(lead.store), lead=lead, vehicle_model=model, stage=stage, deal_at=when
        )

    return make


_keys = count(1)


@pytest.fixture
def pbx_call(store_a):
    """``pbx_call(agent, number, started, **fields)``: one call as the
    import stores it (inbound and answered after 5 s unless told)."""

    def make(agent, number, started, *, direction=Direction.INBOUND, **fields):
        fields.setdefault("disposition", Disposition.ANSWERED)
        fields.setdefault(
            "answered_by",
            AnsweredBy.AGENT if fields["disposition"] == Disposition.ANSWERED else AnsweredBy.NONE,
        )
        fields.setdefault("ring_seconds", 5)
        fields.setdefault("billsec", 60)
        return Call.objects.create(
            store=agent.store if agent else store_a,
            key=f"kpi-{next(_keys)}",
            started_at=started,
            ended_at=started + timedelta(seconds=fields["billsec"] + 10),
            direction=direction,
            external_number=number,
            agent=agent,
            extension=agent.extension if agent else "",
            **fields,
        )

    return make


@pytest.fixture
def october_activity(
    alice, bob, carol, dave, mike, mary, lead, call_log, visit, deal, pbx_call, envision, gl8
):
    """October 2026 in stores A (alice, bob, carol) and B (dave), the same
    for each agent ``n`` = 0…3: a September lead carried over, first called,
    visited twice (a test drive for odd ``n``) and ordered; an October
    manufacturer lead called in time (even ``n``) or late, visited with a
    test drive and ordered; a lead without a model (referred by the
    September lead's buyer) and one received on the month's last second,
    never called; a first-time caller who is carded,
    one who is not (rung 30 s), an outbound call; and a walk-in mike
    recorded for bob's lead (mike and mary, the stores' managers, enter
    what is not the agents' own). Every row belongs to exactly one agent, team
    and store (modules add what does not)."""
    for agent, n in [(alice, 0), (bob, 1), (carol, 2), (dave, 3)]:
        old = lead(agent, at(9, 20 + n), source="manufacturer" if n % 2 else "web")
        call_log(agent, old, at(10, 2 + n))
        visit(agent, old, at(10, 5 + n), test_drive=bool(n % 2))
        visit(agent, old, at(10, 12 + n))
        deal(old, envision, at(10, 20 + n))
        new = lead(agent, at(10, 10 + n, 9), source="manufacturer")
        call_log(agent, new, at(10, 11 + n + 2 * (n % 2), 10))
        visit(agent, new, at(10, 25, 10), test_drive=True)
        deal(new, gl8, at(10, 26), stage="order")
        referred = lead(agent, at(10, 16 + n), intended_model=None)
        # 转介绍: the buyer of the September lead recommended this one.
        type(referred).objects.filter(pk=referred.pk).update(referred_by=old.customer_id)
        lead(agent, at(10, 31, 23, 59, 59))
        number = f"+86137{n:04d}0000"
        pbx_call(agent, number, at(10, 3 + n, 10), new_caller=True)
        lead(agent, at(10, 3 + n, 10, 3), phone=number)
        pbx_call(agent, f"+86137{n:04d}0001", at(10, 4 + n), new_caller=True, ring_seconds=30)
        pbx_call(agent, number, at(10, 6 + n), direction="outbound")
    walk_in = lead(bob, at(10, 1, 10))
    visit(None, walk_in, at(10, 1, 11), test_drive=True)


@pytest.fixture
def media(settings, tmp_path):
    """Kept workbooks in a folder of the test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def workbook_of(response):
    """A downloaded workbook (kept file or built), read back with openpyxl."""
    from openpyxl import load_workbook

    assert response.status_code == 200, response.content[:300]
    content = (
        b"".join(response.streaming_content)
        if getattr(response, "streaming", False)
        else response.content
    )
    return load_workbook(io.BytesIO(content))
