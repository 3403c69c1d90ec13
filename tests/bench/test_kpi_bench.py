"""Benchmark: the KPI set at volume (`make bench`, issue 6 item 6).

Targets (issue 6): with 1,000,000 leads and 5,000,000 follow-ups and calls
in PostgreSQL, ``kpi.metrics.compute`` of a store and one month under 1 s,
of the group and twelve months under 10 s, and the 500-agent twelve-month
export under 10 s.

The volume, over the 30 months up to today: 20 stores of 5 teams × 5 agents
(500 agents) with supervisors, managers and consultants; 1,000,000 leads
(and as many customers and phones) with the sources, levels, channels,
models and statuses of a dealership group; about 2.4M follow-ups (a lead's
earliest one is its first call, ``is_first_call`` as ``followups.services``
sets it, at ``first_contacted_at``); about 2.5M calls (one per follow-up by
phone, the first calls of inbound-call leads, some flagged ``new_caller``,
repeat calls, unknown first-time callers, internal calls); invited and
walk-in visits with first and second visits and test drives; deals (orders,
deliveries without order); SLA breaches; monthly targets per agent and
category; morning and evening meetings with their attendees.

Made fast: everything past the organisation is ``INSERT … SELECT`` over
``generate_series`` in the database, each row's random choices a
deterministic hash of its id (``hashint8extended``), so that the tables agree
(a follow-up's lead, a deal's visit) without Python touching a row. As in any
bulk load, secondary indexes are dropped during the inserts and built once
after (the time is shown), foreign-key triggers are off (the rows are
consistent by construction) and the tables are VACUUM ANALYZEd. History
tables are not filled: no KPI reads them. The test runs in its own test
database (pytest-django's ``test_`` + the configured name), which is dropped
afterwards.

The measurement: ``compute`` of one store and the last complete month, and
of the group and the twelve months before it, each several runs after a
warm-up, with median and p95 (nearest rank); and the monthly workbooks of
all 20 stores (500 agents) over those twelve months (``build_workbooks``,
as the job on the 1st makes them). A measurement, not a timed test:
it asserts facts (row counts, every KPI with a non-zero numerator), never a
time. ``BENCH_EXPLAIN=1`` prints EXPLAIN (ANALYZE, BUFFERS) of the slowest
queries of each target; ``BENCH_LEADS=…`` scales the volume down for a quick
look.

Quicker looks: ``BENCH_KPI_PAGES_ONLY=1`` skips the computes and the export
(pages and workbook only); ``BENCH_KPI_WORKBOOK_ONLY=1`` measures the
workbook writing alone. Writing the workbooks needs their figures only, not
the volume: the twenty stores, their 500 agents and their 46,545 cells are
the same at ``BENCH_LEADS=20000`` (about two minutes in all) as at 1M
when this was written.
``BENCH_KPI_SAVE_SHEETS=path`` pickles the twenty workbooks' sheets
(``kpi.export.workbook_sheets``) there, to profile their writing apart.
"""

# The generation SQL is built from model table names and constants only, never input.
# ruff: noqa: S608

import json
import os
import statistics
import time
from datetime import date, timedelta

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dcc.bulk import bulk_insert
from dcc.models import Store, Team, User
from dcc.roles import Role
from followups.models import Appointment, FollowUp, SlaBreach
from kpi.export import build_workbooks
from kpi.metrics import KPIS, Period, Scope, compute
from kpi.models import Meeting, Target
from leads.models import Channel, Customer, CustomerPhone, Deal, Lead, VehicleModel
from telephony.models import Call
from tests.bench.common import nearest_rank, reference_data

pytestmark = [pytest.mark.bench, pytest.mark.django_db(transaction=True)]

LEADS = int(os.environ.get("BENCH_LEADS", "1000000"))
STORES, TEAMS_PER_STORE, AGENTS_PER_TEAM, CONSULTANTS_PER_STORE = 20, 5, 5, 3
AGENTS_PER_STORE = TEAMS_PER_STORE * AGENTS_PER_TEAM
MONTHS = 30  # the data's span, up to now
# The export of every agent over a year took about 18 minutes when this was
# written (20 stores x 53 s): one run, no warm-up, queries captured only for
# BENCH_EXPLAIN.
STORE_RUNS, GROUP_RUNS, EXPORT_RUNS = 15, 5, 5
EXPLAIN_TOP = 6
PREFIXES = ("138", "139", "137", "150", "158", "186", "187", "189", "199", "135")


def u(expr: str, salt: int) -> str:
    """SQL: a uniform number in [0, 1) fixed by ``expr`` and ``salt``."""
    return f"((hashint8extended(({expr})::bigint, {salt}) & 16777215)::float8 / 16777216)"


def pick(expr: str, salt: int, weights: dict[str, float]) -> str:
    """SQL: one of ``weights``' keys, by weight, fixed by ``expr`` and ``salt``."""
    total, bound, whens = sum(weights.values()), 0.0, []
    items = list(weights.items())
    for value, weight in items[:-1]:
        bound += weight / total
        whens.append(f"WHEN {u(expr, salt)} < {bound:.6f} THEN '{value}'")
    return f"(CASE {' '.join(whens)} ELSE '{items[-1][0]}' END)"


def ints(values) -> str:
    return "(ARRAY[" + ",".join(str(int(v)) for v in values) + "]::int[])"


def insert_select(model, values: dict[str, str], source: str) -> int:
    """``INSERT INTO model's table (every concrete column) SELECT …``: the
    columns in ``values`` take those SQL expressions, the others their
    field's default (``now()`` for auto_now). No parameters, so ``%`` is
    written ``mod()``. Answers the number of rows."""
    columns, exprs = [], []
    for field in model._meta.concrete_fields:
        if field.column in values:
            expr = values[field.column]
        elif field.primary_key:
            continue
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            expr = "now()"
        else:
            default = field.get_default()
            if isinstance(default, dict | list):
                default = json.dumps(default)
            if default is None:
                expr = f"NULL::{field.db_type(connection)}"
            elif isinstance(default, bool):
                expr = "true" if default else "false"
            elif isinstance(default, int):
                expr = str(default)
            else:
                expr = "'" + str(default).replace("'", "''") + f"'::{field.db_type(connection)}"
        columns.append(connection.ops.quote_name(field.column))
        exprs.append(f"{expr} AS {connection.ops.quote_name(field.column)}")
    unknown = set(values) - {field.column for field in model._meta.concrete_fields}
    assert not unknown, f"{model.__name__} has no {unknown}"
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(exprs)} {source}"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.rowcount


def execute(sql: str):
    with connection.cursor() as cursor:
        cursor.execute(sql)


class Volume:
    def __init__(self, now):
        self.now = now
        self.phases: list[tuple[str, float, int]] = []
        self.start = timezone.localtime(now).date().replace(day=1) - timedelta(days=31 * MONTHS)
        self.start = self.start.replace(day=1)

    def phase(self, name: str, fn) -> int:
        started = time.perf_counter()
        rows = fn()
        self.phases.append((name, time.perf_counter() - started, rows))
        return rows

    # ------------------------------------------------------------ organisation

    def load_org(self) -> int:
        reference_data()
        self.models = list(VehicleModel.objects.order_by("pk").values_list("pk", flat=True))
        self.categories = sorted(set(VehicleModel.objects.values_list("category", flat=True)))
        self.channels = list(Channel.objects.order_by("pk").values_list("pk", flat=True))
        password = make_password("bench-only")
        users, self.agent_rows = [], []
        self.stores, self.teams = [], []
        for s in range(STORES):
            store = Store.objects.create(code=f"K{s:02d}", name=f"别克{s + 1}店", area_code="021")
            self.stores.append(store)
            users.append(
                User(
                    username=f"k{s:02d}_manager",
                    name="经理",
                    role=Role.MANAGER,
                    store=store,
                    password=password,
                )
            )
            for c in range(CONSULTANTS_PER_STORE):
                users.append(
                    User(
                        username=f"k{s:02d}_consultant{c}",
                        name="顾问",
                        role=Role.CONSULTANT,
                        store=store,
                        password=password,
                    )
                )
            for t in range(TEAMS_PER_STORE):
                team = Team.objects.create(store=store, name=f"电话营销{t + 1}组")
                self.teams.append(team)
                users.append(
                    User(
                        username=f"k{s:02d}_t{t}_supervisor",
                        name="主管",
                        role=Role.SUPERVISOR,
                        store=store,
                        team=team,
                        extension=f"9{t}00",
                        password=password,
                    )
                )
                for a in range(AGENTS_PER_TEAM):
                    agent = User(
                        username=f"k{s:02d}_t{t}_a{a}",
                        name="坐席",
                        role=Role.AGENT,
                        store=store,
                        team=team,
                        extension=f"8{t}{a:02d}",
                        password=password,
                    )
                    users.append(agent)
                    self.agent_rows.append(agent)
        bulk_insert(User, users, reason="bench")
        # agents[s * 25 + i + 1] (SQL arrays count from 1): store s's i-th agent.
        self.agents_sql = ints(agent.pk for agent in self.agent_rows)
        self.stores_sql = ints(store.pk for store in self.stores)
        return len(users)

    def agent(self, store_index: str, expr: str, salt: int) -> str:
        slot = f"floor({u(expr, salt)} * {AGENTS_PER_STORE})::int"
        return f"{self.agents_sql}[({store_index}) * {AGENTS_PER_STORE} + {slot} + 1]"

    # ------------------------------------------------------------ leads

    def lead_source(self) -> str:
        """The leads' columns computed once, as a subquery ``x``."""
        now = f"'{self.now.isoformat()}'::timestamptz"
        start = f"'{self.start.isoformat()}T00:00:00+08:00'::timestamptz"
        span = f"extract(epoch FROM {now} - {start} - interval '1 hour')"
        source = pick(
            "g",
            1,
            {
                "web": 40,
                "manufacturer": 22,
                "low_intent": 8,
                "repurchase": 8,
                "inbound": 14,
                "walk_in": 8,
            },
        )
        received = (
            f"{start} + ((g - 1)::float8 / {LEADS} * {span}) * interval '1 second'"
            f" + {u('g', 2)} * interval '50 minutes'"
        )
        # Minutes to hours mostly, a tail past two days (48-hour compliance ~80 %).
        delay = f"(power({u('g', 4)}, 3) * 96) * interval '1 hour'"
        return f"""
            FROM (
                SELECT y.*,
                    CASE WHEN y.first_call IS NULL THEN
                            CASE WHEN y.received > {now} - interval '7 days' THEN 'new'
                            ELSE 'invalid' END
                        WHEN y.funnel < 0.12 THEN
                            CASE WHEN y.old THEN 'delivered' ELSE 'ordered' END
                        WHEN y.funnel < 0.30 THEN
                            CASE WHEN y.old THEN 'defeated'
                            WHEN y.funnel < 0.22 THEN 'visited' ELSE 'invited' END
                        WHEN y.old AND {u("y.g", 5)} < 0.7 THEN 'defeated'
                        WHEN y.old AND {u("y.g", 5)} < 0.8 THEN 'invalid'
                        ELSE 'active' END AS status
                FROM (
                    SELECT z.*,
                        CASE WHEN {u("z.g", 3)} < 0.96 AND z.received + z.delay < {now}
                            THEN z.received + z.delay END AS first_call,
                        z.received < {now} - interval '60 days' AS old
                    FROM (
                        SELECT g, mod(g, {STORES}) AS s, {source} AS source,
                            {received} AS received, {delay} AS delay, {u("g", 30)} AS funnel
                        FROM generate_series(1, {LEADS}) g
                    ) z
                ) y
            ) x"""

    def load_customers(self) -> int:
        phone = f"'+86' || ({ints(PREFIXES)})[mod(x.g, 10) + 1]::text || lpad(x.g::text, 8, '0')"
        self.phone_sql = phone
        rows = insert_select(
            Customer,
            {
                "id": "x.g",
                "store_id": f"{self.stores_sql}[x.s + 1]",
                "name": "'客户' || x.g",
                "has_full_name": f"{u('x.g', 8)} < 0.85",
                "created_at": "x.received",
            },
            self.lead_source(),
        )
        rows += insert_select(
            CustomerPhone,
            {
                "id": "x.g",
                "customer_id": "x.g",
                "store_id": f"{self.stores_sql}[x.s + 1]",
                "number": phone,
                "is_primary": "true",
                "created_at": "x.received",
            },
            self.lead_source(),
        )
        return rows

    def load_leads(self) -> int:
        now = f"'{self.now.isoformat()}'::timestamptz"
        owner = self.agent("x.s", "x.g", 9)
        level = pick("x.g", 7, {"H": 10, "A": 25, "B": 40, "C": 25})
        manufacturer = "x.source = 'manufacturer'"
        return insert_select(
            Lead,
            {
                "id": "x.g",
                "store_id": f"{self.stores_sql}[x.s + 1]",
                "customer_id": "x.g",
                "phone": self.phone_sql,
                "source": "x.source",
                "channel_id": (
                    f"CASE WHEN x.source = 'web' THEN "
                    f"({ints(self.channels)})[mod(x.g / 7, {len(self.channels)}) + 1] END"
                ),
                "intended_model_id": (
                    f"CASE WHEN {u('x.g', 6)} < 0.9 THEN "
                    f"({ints(self.models)})[mod(x.g / 3, {len(self.models)}) + 1] END"
                ),
                "level": level,
                "status": "x.status",
                "owner_id": owner,
                "created_by_id": owner,
                "received_at": "x.received",
                "first_contact_due": (
                    f"CASE WHEN {manufacturer} THEN x.received + interval '48 hours' END"
                ),
                "first_contacted_at": "x.first_call",
                "is_dcc_invited": "x.first_call IS NOT NULL AND x.funnel < 0.30",
                "defeated_at": (
                    "CASE WHEN x.status = 'defeated' THEN x.received + interval '45 days' END"
                ),
                "invalid_reason": "CASE WHEN x.status = 'invalid' THEN 'no_intent' ELSE '' END",
                "next_followup_at": (
                    "CASE WHEN x.status IN ('active', 'invited', 'visited', 'ordered') "
                    "THEN x.first_call + interval '7 days' END"
                ),
                "sla_met_at": (
                    f"CASE WHEN {manufacturer} AND x.first_call <= x.received + interval '48 hours'"
                    " THEN x.first_call END"
                ),
                "first_contact_minutes": (
                    "(extract(epoch FROM x.first_call - x.received) / 60)::int"
                ),
                "created_at": "x.received",
                "updated_at": (
                    f"LEAST({now}, COALESCE(x.first_call, x.received) + interval '50 days')"
                ),
            },
            self.lead_source(),
        )

    # ------------------------------------------------------------ follow-ups

    def load_followups(self) -> int:
        now = f"'{self.now.isoformat()}'::timestamptz"
        other = self.agent(f"mod(l.id, {STORES})", "l.id * 8 + k", 22)
        agent = f"CASE WHEN {u('l.id * 8 + k', 21)} < 0.92 THEN l.owner_id ELSE {other} END"
        channel = pick("l.id * 8 + k", 23, {"call": 80, "wechat": 12, "sms": 8})
        result = pick(
            "l.id * 8 + k", 24, {"reached": 55, "no_answer": 28, "refused": 7, "invited": 10}
        )
        occurred = (
            f"l.first_contacted_at + k * interval '4 days' + {u('l.id * 8 + k', 25)} * k * "
            "interval '3 days'"
        )
        return insert_select(
            FollowUp,
            {
                "store_id": "f.store_id",
                "lead_id": "f.lead_id",
                "agent_id": "f.agent_id",
                "channel": "f.channel",
                "purpose": "'other'",
                "result": "f.result",
                "occurred_at": "f.occurred_at",
                "next_followup_at": "f.occurred_at + interval '7 days'",
                "level_before": "f.level",
                "level_after": "f.level",
                "is_first_call": "f.k = 0",
                "created_by_id": "f.agent_id",
                "created_at": "f.occurred_at",
            },
            f"""FROM (
                SELECT l.store_id, l.id AS lead_id, l.level, k, {agent} AS agent_id,
                    CASE WHEN k = 0 THEN 'call' ELSE {channel} END AS channel,
                    {result} AS result, {occurred} AS occurred_at
                FROM {Lead._meta.db_table} l
                CROSS JOIN LATERAL generate_series(0, floor({u("l.id", 20)} * 4)::int) k
                WHERE l.first_contacted_at IS NOT NULL
            ) f WHERE f.occurred_at < {now}""",
        )

    # ------------------------------------------------------------ calls

    def load_calls(self) -> int:
        now = f"'{self.now.isoformat()}'::timestamptz"
        user = User._meta.db_table
        lead = Lead._meta.db_table
        answered = "(CASE WHEN {0} < {1} THEN 'ANSWERED' ELSE 'NO ANSWER' END)"
        rows = 0
        # Outbound: one per follow-up by phone, a minute before it was logged.
        ok = answered.format(u("f.id", 40), 0.65)
        rows += insert_select(
            Call,
            {
                "store_id": "f.store_id",
                "key": "'o' || f.id",
                "uniqueid": "'o' || f.id",
                "started_at": "f.occurred_at - interval '3 minutes'",
                "answered_at": (
                    f"CASE WHEN {ok} = 'ANSWERED' THEN f.occurred_at - interval '170 seconds' END"
                ),
                "ended_at": "f.occurred_at - interval '1 minute'",
                "duration": "120",
                "billsec": (
                    f"CASE WHEN {ok} = 'ANSWERED' THEN 30 + floor({u('f.id', 41)} * 200)::int "
                    "ELSE 0 END"
                ),
                "ring_seconds": f"CASE WHEN {ok} = 'ANSWERED' THEN 10 END",
                "disposition": ok,
                "answered_by": f"CASE WHEN {ok} = 'ANSWERED' THEN 'agent' ELSE 'none' END",
                "direction": "'outbound'",
                "extension": "a.extension",
                "external_number": "l.phone",
                "external_raw": "l.phone",
                "agent_id": "f.agent_id",
                "lead_id": "f.lead_id",
                "new_caller": "false",
            },
            f"""FROM {FollowUp._meta.db_table} f
                JOIN {lead} l ON l.id = f.lead_id
                JOIN {user} a ON a.id = f.agent_id
                WHERE f.channel = 'call'""",
        )
        inbound = {
            "duration": "90",
            "direction": "'inbound'",
            "disposition": "c.disposition",
            "answered_at": (
                "CASE WHEN c.disposition = 'ANSWERED' "
                "THEN c.started_at + c.ring * interval '1 second' END"
            ),
            "ring_seconds": "CASE WHEN c.disposition = 'ANSWERED' THEN c.ring END",
            "answered_by": "CASE WHEN c.disposition = 'ANSWERED' THEN 'agent' ELSE 'none' END",
            "billsec": "CASE WHEN c.disposition = 'ANSWERED' THEN 60 ELSE 0 END",
            "ended_at": "c.started_at + interval '90 seconds'",
            "started_at": "c.started_at",
            "external_number": "c.number",
            "external_raw": "c.number",
            "agent_id": "c.agent_id",
            "extension": "a.extension",
            "store_id": "a.store_id",
            "key": "c.key",
            "uniqueid": "c.key",
        }
        ring = f"(3 + floor({u('c0.id', 42)} * 25))::int"  # answered in time (15 s) ~half
        disposition = answered.format(u("c0.id", 43), 0.9)
        # First calls of inbound-call leads: the agent entered the caller
        # during the call; most flagged new_caller by telephony.
        rows += insert_select(
            Call,
            inbound | {"lead_id": "c.lead_id", "new_caller": "c.new_caller"},
            f"""FROM (
                SELECT 'n' || c0.id AS key, c0.id AS lead_id, c0.phone AS number,
                    c0.owner_id AS agent_id, c0.received_at - interval '3 minutes' AS started_at,
                    {ring} AS ring, 'ANSWERED' AS disposition, {u("c0.id", 44)} < 0.7 AS new_caller
                FROM {lead} c0 WHERE c0.source = 'inbound'
            ) c JOIN {user} a ON a.id = c.agent_id""",
        )
        # Leads calling back (known numbers, not first-time callers).
        rows += insert_select(
            Call,
            inbound | {"lead_id": "c.lead_id", "new_caller": "false"},
            f"""FROM (
                SELECT 'r' || c0.id AS key, c0.id AS lead_id, c0.phone AS number,
                    c0.owner_id AS agent_id, {ring} AS ring, {disposition} AS disposition,
                    c0.received_at + {u("c0.id", 45)} * interval '20 days' AS started_at
                FROM {lead} c0 WHERE {u("c0.id", 46)} < 0.2
            ) c JOIN {user} a ON a.id = c.agent_id WHERE c.started_at < {now}""",
        )
        # Unknown first-time callers who never became a lead.
        unknown = LEADS * 3 // 20
        span = f"extract(epoch FROM {now} - '{self.start.isoformat()}T00:00:00+08:00'::timestamptz)"
        rows += insert_select(
            Call,
            inbound | {"new_caller": "true"},
            f"""FROM (
                SELECT 'u' || c0.id AS key, '+86177' || lpad(c0.id::text, 8, '0') AS number,
                    {self.agent(f"mod(c0.id, {STORES})", "c0.id", 47)} AS agent_id,
                    {ring} AS ring, {disposition} AS disposition,
                    {now} - {u("c0.id", 48)} * {span} * interval '1 second' AS started_at
                FROM generate_series(1, {unknown}) AS c0(id)
            ) c JOIN {user} a ON a.id = c.agent_id""",
        )
        # Internal calls (never counted).
        rows += insert_select(
            Call,
            inbound | {"direction": "'internal'", "external_number": "''", "external_raw": "''"},
            f"""FROM (
                SELECT 'i' || c0.id AS key, '' AS number,
                    {self.agent(f"mod(c0.id, {STORES})", "c0.id", 49)} AS agent_id,
                    5 AS ring, 'ANSWERED' AS disposition,
                    {now} - {u("c0.id", 50)} * {span} * interval '1 second' AS started_at
                FROM generate_series(1, {LEADS // 20}) AS c0(id)
            ) c JOIN {user} a ON a.id = c.agent_id""",
        )
        return rows

    # ------------------------------------------------------------ visits, deals

    def load_referrals(self) -> int:
        """5 % of leads name an earlier customer of their store as referrer."""
        lead = Lead._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"""UPDATE {lead} l SET referred_by_id = (
                        SELECT r.customer_id FROM {lead} r
                        WHERE r.store_id = l.store_id AND r.id < l.id
                        ORDER BY r.id DESC LIMIT 1)
                    WHERE {u("l.id", 70)} < 0.05 AND l.id > (SELECT min(id) FROM {lead}) + 100"""
            )
            return cursor.rowcount

    def load_visits(self) -> int:
        now = f"'{self.now.isoformat()}'::timestamptz"
        lead = Lead._meta.db_table
        common = {
            "store_id": "v.store_id",
            "lead_id": "v.lead_id",
            "agent_id": "v.agent_id",
            "created_by_id": "v.agent_id",
            # The owner at the visit (the visit's KPI credit): the lead's owner.
            "visit_owner_id": (
                f"CASE WHEN v.arrives AND v.scheduled_at <= {now} THEN v.agent_id END"
            ),
            "purpose": "'test_drive'",
            "scheduled_at": "v.scheduled_at",
            "status": (
                f"CASE WHEN v.scheduled_at > {now} THEN 'booked' WHEN v.arrives THEN 'arrived' "
                "ELSE 'no_show' END"
            ),
            "arrived_at": (
                f"CASE WHEN v.arrives AND v.scheduled_at <= {now} "
                "THEN v.scheduled_at + interval '10 minutes' END"
            ),
            "no_show_at": (
                f"CASE WHEN NOT v.arrives AND v.scheduled_at <= {now} "
                "THEN v.scheduled_at + interval '2 hours' END"
            ),
            "test_drive": f"v.arrives AND {u('v.lead_id * 4 + v.n', 31)} < 0.6",
            "group_size": "1 + mod(v.lead_id, 3)",
            "is_walk_in": "v.walk_in",
            "visit_number": f"CASE WHEN v.arrives AND v.scheduled_at <= {now} THEN v.n END",
            "created_at": "v.scheduled_at - interval '2 days'",
        }
        rows = 0
        # Walk-in leads: their first visit is the walk-in that made the lead.
        rows += insert_select(
            Appointment,
            common,
            f"""FROM (
                SELECT l.store_id, l.id AS lead_id, l.owner_id AS agent_id,
                    l.received_at AS scheduled_at, true AS arrives, true AS walk_in, 1 AS n
                FROM {lead} l WHERE l.source = 'walk_in'
            ) v""",
        )
        # Invited visits (30 % of followed-up leads): 22 % arrive; a
        # walk-in lead's invited visit is its second.
        rows += insert_select(
            Appointment,
            common,
            f"""FROM (
                SELECT l.store_id, l.id AS lead_id, l.owner_id AS agent_id,
                    l.first_contacted_at + (1 + {u("l.id", 32)} * 5) * interval '1 day'
                        AS scheduled_at,
                    {u("l.id", 30)} < 0.22 AS arrives, false AS walk_in,
                    CASE WHEN l.source = 'walk_in' THEN 2 ELSE 1 END AS n
                FROM {lead} l
                WHERE l.first_contacted_at IS NOT NULL AND {u("l.id", 30)} < 0.30
            ) v""",
        )
        # Return visits (再回展厅): about a quarter of the invited visitors.
        rows += insert_select(
            Appointment,
            common,
            f"""FROM (
                SELECT l.store_id, l.id AS lead_id, l.owner_id AS agent_id,
                    l.first_contacted_at + (8 + {u("l.id", 33)} * 10) * interval '1 day'
                        AS scheduled_at,
                    true AS arrives, {u("l.id", 34)} < 0.5 AS walk_in, 2 AS n
                FROM {lead} l
                WHERE l.first_contacted_at IS NOT NULL AND {u("l.id", 30)} < 0.06
                  AND l.source <> 'walk_in'
                  -- One pending visit per lead (appt_one_pending_per_lead):
                  -- a return visit is one that already happened.
                  AND l.first_contacted_at + (8 + {u("l.id", 33)} * 10) * interval '1 day'
                      <= {now}
            ) v""",
        )
        return rows

    def load_deals(self) -> int:
        now = f"'{self.now.isoformat()}'::timestamptz"
        visits = Appointment._meta.db_table
        return insert_select(
            Deal,
            {
                "store_id": "d.store_id",
                "lead_id": "d.lead_id",
                "vehicle_model_id": f"COALESCE(d.model_id, {self.models[0]})",
                "agent_id": "d.owner_id",
                "ordered_at": "CASE WHEN NOT d.no_order THEN d.sold_at END",
                "delivered_at": (
                    "CASE WHEN d.no_order THEN d.sold_at "
                    f"WHEN d.sold_at + interval '20 days' < {now} "
                    "THEN d.sold_at + interval '20 days' END"
                ),
                "created_by_id": "d.owner_id",
                "created_at": "d.sold_at",
            },
            f"""FROM (
                SELECT v.store_id, v.lead_id, l.intended_model_id AS model_id, l.owner_id,
                    v.arrived_at + {u("v.lead_id", 35)} * interval '25 days' AS sold_at,
                    {u("v.lead_id", 36)} < 0.2 AS no_order
                FROM {visits} v JOIN {Lead._meta.db_table} l ON l.id = v.lead_id
                WHERE v.status = 'arrived' AND v.visit_number = 1 AND {u("v.lead_id", 30)} < 0.12
            ) d WHERE d.sold_at < {now}""",
        )

    def load_breaches(self) -> int:
        now = f"'{self.now.isoformat()}'::timestamptz"
        return insert_select(
            SlaBreach,
            {
                "store_id": "l.store_id",
                "lead_id": "l.id",
                "kind": "'manufacturer_48h'",
                "due_at": "l.first_contact_due",
                "breached_at": "l.first_contact_due + interval '5 minutes'",
                "owner_id": "l.owner_id",
            },
            f"""FROM {Lead._meta.db_table} l
                WHERE l.first_contact_due < {now} AND l.sla_met_at IS NULL""",
        )

    # ------------------------------------------------------------ targets, meetings

    def load_targets(self) -> int:
        user = User._meta.db_table
        categories = "ARRAY[" + ",".join(f"'{c}'" for c in self.categories) + "]"
        return insert_select(
            Target,
            {
                "store_id": "a.store_id",
                "member_id": "a.id",
                "month": "m::date",
                "category": "c",
                "units": f"1 + floor({u('a.id * 100 + extract(month FROM m)', 60)} * 3)::int",
                "set_by_id": "NULL",
            },
            f"""FROM {user} a
                CROSS JOIN generate_series('{self.start.isoformat()}'::date,
                    '{timezone.localdate(self.now).isoformat()}'::date, interval '1 month') m
                CROSS JOIN unnest({categories}) c
                WHERE a.id = ANY({self.agents_sql})""",
        )

    def load_meetings(self) -> int:
        teams = Team._meta.db_table
        first = timezone.localdate(self.now) - timedelta(days=400)
        local_day = (
            f"generate_series('{first.isoformat()}'::date, "
            f"'{timezone.localdate(self.now).isoformat()}'::date, interval '1 day')"
        )
        late = u("t.id * 100000 + extract(doy FROM d) * 2 + k.n", 61)
        rows = insert_select(
            Meeting,
            {
                "store_id": "t.store_id",
                "team_id": "t.id",
                "kind": "k.kind",
                # Local times: 08:10–08:40 and 17:40–18:10 (about 1 in 3 late).
                "held_at": (
                    f"(d::date + k.at + floor({late} * 30) * interval '1 minute') "
                    "AT TIME ZONE 'Asia/Shanghai'"
                ),
            },
            f"""FROM {teams} t CROSS JOIN {local_day} d
                CROSS JOIN (VALUES ('morning', interval '8 hours 10 minutes', 0),
                                   ('evening', interval '17 hours 40 minutes', 1)) k(kind, at, n)
                WHERE extract(isodow FROM d) <= 6
                  AND {u("t.id * 100000 + extract(doy FROM d) * 2 + k.n", 62)} < 0.95""",
        )
        through = Meeting.attendees.through._meta.db_table
        execute(
            f"""INSERT INTO {through} (meeting_id, user_id)
                SELECT m.id, a.id FROM {Meeting._meta.db_table} m
                JOIN {User._meta.db_table} a ON a.team_id = m.team_id AND a.role = 'agent'"""
        )
        return rows

    # ------------------------------------------------------------ the whole load

    TABLES = (
        Customer,
        CustomerPhone,
        Lead,
        FollowUp,
        Call,
        Appointment,
        Deal,
        SlaBreach,
        Target,
        Meeting,
    )

    def load(self):
        self.phase("stores, teams, staff (ORM)", self.load_org)
        tables = [model._meta.db_table for model in self.TABLES]
        tables.append(Meeting.attendees.through._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
                FROM pg_index i
                WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
                """,
                [tables],
            )
            indexes = cursor.fetchall()
            for name, _definition in indexes:
                cursor.execute(f"DROP INDEX {name}")
            cursor.execute("SET session_replication_role = replica")  # no FK triggers
        try:
            self.phase("customers + phones", self.load_customers)
            self.phase("leads", self.load_leads)
            self.phase("referrals (转介绍)", self.load_referrals)
            self.phase("follow-ups", self.load_followups)
            self.phase("calls", self.load_calls)
            self.phase("appointments / visits", self.load_visits)
            self.phase("deals", self.load_deals)
            self.phase("SLA breaches", self.load_breaches)
            self.phase("targets", self.load_targets)
            self.phase("meetings (+ attendees)", self.load_meetings)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = DEFAULT")

        def rebuild():
            with connection.cursor() as cursor:
                cursor.execute("SET maintenance_work_mem = '256MB'")
                for _name, definition in indexes:
                    cursor.execute(definition)
                cursor.execute("RESET maintenance_work_mem")
                for model in (
                    Customer,
                    CustomerPhone,
                    Lead,
                    FollowUp,
                    Call,
                    Appointment,
                    Deal,
                    SlaBreach,
                    Target,
                    Meeting,
                ):
                    table = model._meta.db_table
                    cursor.execute(
                        "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                        f"(SELECT COALESCE(max(id), 1) FROM {connection.ops.quote_name(table)}))",
                        [table],
                    )
            return len(indexes)

        self.phase("secondary indexes built", rebuild)

        def vacuum():
            assert connection.get_autocommit()
            with connection.cursor() as cursor:
                for table in [*tables, User._meta.db_table]:
                    cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(table)}")
            return len(tables) + 1

        self.phase("VACUUM ANALYZE", vacuum)


# ---------------------------------------------------------------- measuring


def _stats(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = nearest_rank(ordered, 0.95)
    return (
        f"runs={len(ordered)}  median {statistics.median(ordered):8.1f} ms  "
        f"p95 {p95:8.1f} ms  min {ordered[0]:8.1f} ms  max {ordered[-1]:8.1f} ms"
    )


def _measure(fn, runs: int, warmup: int = 1, capture: bool = True):
    """Time ``fn`` ``runs`` times after ``warmup`` calls; then (``capture``)
    one more call with its queries captured (capturing costs time, so never
    while timing)."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    if not capture:
        return samples, []
    with CaptureQueriesContext(connection) as captured:
        fn()
    return samples, captured.captured_queries


def _explain(write, label: str, queries: list[dict]) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the slowest SELECTs of one call."""
    selects = [q for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    for query in sorted(selects, key=lambda q: -float(q["time"]))[:EXPLAIN_TOP]:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query['sql']}")
            plan = [row[0] for row in cursor.fetchall()]
        write("")
        write(f"-- {label}: {float(query['time']) * 1000:.0f} ms: {query['sql'][:600]}")
        for line in plan:
            write(f"   {line}")


def _counts() -> dict[str, int]:
    models = (Lead, FollowUp, Call, Appointment, Deal, SlaBreach, Target, Meeting)
    with connection.cursor() as cursor:
        result = {}
        for model in models:
            cursor.execute(f"SELECT count(*) FROM {model._meta.db_table}")
            result[model.__name__] = cursor.fetchone()[0]
    return result


def test_kpis_at_volume(request):
    if connection.vendor != "postgresql":
        pytest.skip("the KPI benchmark needs PostgreSQL (set DATABASE_URL)")
    write = request.config.pluginmanager.get_plugin("terminalreporter").write_line
    now = timezone.now()
    volume = Volume(now)
    started = time.perf_counter()
    volume.load()
    generation = time.perf_counter() - started

    counts = _counts()
    write("")
    write(f"KPIs at volume (PostgreSQL): generated in {generation:.1f} s")
    for name, seconds, rows in volume.phases:
        write(f"  {name:<32} {rows:>10,} rows  {seconds:7.1f} s")
    write("  " + ", ".join(f"{name} {n:,}" for name, n in counts.items()))
    assert counts["Lead"] == LEADS

    today = timezone.localdate(now)
    last_month_end = today.replace(day=1) - timedelta(days=1)
    month = Period.month(last_month_end.year, last_month_end.month)
    year = Period(date(month.start.year - 1, month.start.month, 1) + timedelta(days=32), month.end)
    year = Period(year.start.replace(day=1), month.end)
    store = Scope("store", volume.stores[0].pk)
    group = Scope("group")

    figures = compute(store, month, today=today)
    write(f"store {volume.stores[0].code}, {month.month_label}:")
    for name, metric in figures.items():
        write(
            f"    {name:<30} {metric.numerator!s:>9} / {metric.denominator!s:<9} = {metric.value}"
        )
    empty = [name for name, metric in figures.items() if not metric.numerator]
    assert not empty, f"KPIs with an empty numerator: {empty}"
    assert set(figures) == set(KPIS)

    targets = [
        (
            f"compute(store, {month.month_label})",
            lambda: compute(store, month, today=today),
            STORE_RUNS,
            1000,
        ),
        (
            f"compute(group, {year.start:%Y-%m}..{year.end:%Y-%m})",
            lambda: compute(group, year, today=today),
            GROUP_RUNS,
            10_000,
        ),
    ]
    targets.append(
        (
            "export 500 agents × 12 months",
            _export_call(volume.stores, year, today),
            EXPORT_RUNS,
            10_000,
        )
    )

    explain = os.environ.get("BENCH_EXPLAIN") == "1"
    workbook_only = os.environ.get("BENCH_KPI_WORKBOOK_ONLY") == "1"
    if os.environ.get("BENCH_KPI_PAGES_ONLY") == "1" or workbook_only:  # a quicker look
        targets = []
    for label, fn, runs, goal in targets:
        # Each after a warm-up; the computes' queries are counted too (the
        # export's are many: captured only with BENCH_EXPLAIN).
        compute_target = label.startswith("compute")
        samples, queries = _measure(fn, runs, 1, capture=compute_target or explain)
        sql_ms = sum(float(query["time"]) for query in queries) * 1000
        median = statistics.median(samples)
        verdict = "meets" if median < goal else "MISSES"
        write(
            f"{label:<34} {_stats(samples)}  "
            + (f"{len(queries)} queries ({sql_ms:.0f} ms SQL); " if queries else "")
            + f"target {goal / 1000:g} s: {verdict}"
        )
        if explain:
            _explain(write, label, queries)

    if not workbook_only:
        _report_pages(write, volume, month, year, today)
    _workbook_writing(write, volume, year, today)


# ---------------------------------------------------------------- issue 20: pages and workbook

PAGE_RUNS, GROUP_PAGE_RUNS, WORKBOOK_RUNS = 20, 5, 20


def _report_pages(write, volume, month: Period, year: Period, today: date) -> None:
    """The supervisor's and the manager's dashboards (their default: the
    current month; and the last closed month) and the administrator's KPI
    page of the group over twelve months, each beside the floor page
    (``/accounts/me/``, the account page in the same layout) timed in the same run by the same
    client. Goals (issue 20): dashboards p95 < 500 ms, the group's twelve
    months < 3 s. The first call of each page is its warm-up: it stores
    the closed months it reads (``kpi.monthly``); the stored rows and the
    time of that first call are printed too."""
    from django.template.base import Template
    from django.test import Client

    from kpi.models import MonthlyResult
    from tests.bench.common import ratio_line, uninstrumented_render

    store = volume.stores[0]
    supervisor = User.objects.get(username=f"{store.code.lower()}_t0_supervisor")
    manager = User.objects.get(username=f"{store.code.lower()}_manager")
    admin = User.objects.create(
        username="bench_admin", name="管理员", role=Role.ADMIN, password=make_password("x")
    )
    closed = {"month": month.month_label}
    group = {"s": "group", "since": year.start.isoformat(), "until": year.end.isoformat()}
    pages = [
        ("supervisor dashboard (this month)", supervisor, "/kpi/dashboard/", {}, PAGE_RUNS),
        ("supervisor dashboard (last month)", supervisor, "/kpi/dashboard/", closed, PAGE_RUNS),
        ("manager dashboard (this month)", manager, "/kpi/dashboard/", {}, PAGE_RUNS),
        ("manager dashboard (last month)", manager, "/kpi/dashboard/", closed, PAGE_RUNS),
        ("group KPI page, 12 months", admin, "/kpi/", group, GROUP_PAGE_RUNS),
    ]
    original = Template._render
    Template._render = uninstrumented_render
    try:
        for label, user, url, params, runs in pages:
            client = Client()
            client.force_login(user)

            def page(url=url, params=params, client=client):
                response = client.get(url, params)
                assert response.status_code == 200, (url, response.status_code)

            def floor(client=client):
                assert client.get("/accounts/me/").status_code == 200

            started = time.perf_counter()
            page()
            first = (time.perf_counter() - started) * 1000
            floor()
            product, floors = [], []
            for _ in range(runs):  # interleaved: the same load for both
                for fn, into in ((page, product), (floor, floors)):
                    started = time.perf_counter()
                    fn()
                    into.append((time.perf_counter() - started) * 1000)
            with CaptureQueriesContext(connection) as captured:
                page()
            write(ratio_line(label, product, floors))
            write(
                f"{'':<34} first call {first:8.1f} ms; {len(captured)} queries "
                f"({sum(float(q['time']) for q in captured) * 1000:.0f} ms SQL); "
                f"stored monthly results {MonthlyResult.objects.count()}"
            )
    finally:
        Template._render = original


def _raw_rows(sheets) -> list[tuple[str, list[list]]]:
    """The cells of the workbook's sheets as Excel stores them (values only),
    computed before the floor is timed."""
    from kpi import export

    result = []
    for sheet, _frozen in sheets:
        rows = [[sheet.caption]]
        for number, (columns, block) in enumerate(sheet.blocks):
            if number:
                rows.append([])
            rows.append([column.header for column in columns])
            for row in block:
                rows.append(
                    [
                        export._excel(*export._split(value, column.style))
                        for value, column in zip(row, columns, strict=True)
                    ]
                )
        result.append((sheet.title, rows))
    return result


def _workbook_writing(write, volume, year: Period, today: date) -> None:
    """Writing the twenty stores' workbooks (500 agents, twelve months) from
    their sheets (``kpi.export.write_workbook``: styles, widths, frozen
    panes, text cells) against raw openpyxl write-only writing the same
    cells (same sheets, rows and values; no styles) with no queries. Goal
    (issue 20): at most 1.5×.

    The floor is the strict one: plain values appended to openpyxl's
    write-only sheets, which leave out a blank (``None``) value, so it
    writes neither the product's blank styled cells (a figure without a
    base keeps its column's number format) nor any style, width or frozen
    pane; the line says how many cells are such blanks."""
    import io

    from openpyxl import Workbook

    from kpi import export, grouped
    from tests.bench.common import ratio_line

    ids = [store.pk for store in volume.stores]
    figures = grouped.by_store(ids, year, today=today)
    scope = Scope("group")
    channels = export._channel_counts(ids, year, scope)
    models = export._model_counts(ids, year, scope)
    sheets = [
        export.workbook_sheets(
            store,
            year,
            figures[store.pk],
            channels.get(store.pk, {}),
            models.get(store.pk, {}),
            "2026-01-01 00:00",
        )
        for store in volume.stores
    ]
    if os.environ.get("BENCH_KPI_SAVE_SHEETS"):  # for profiling the writing alone
        import pickle

        with open(os.environ["BENCH_KPI_SAVE_SHEETS"], "wb") as saved:
            pickle.dump(sheets, saved)
    raw = [_raw_rows(book) for book in sheets]
    cells = sum(len(row) for book in raw for _title, rows in book for row in rows)
    blanks = sum(v is None for book in raw for _title, rows in book for row in rows for v in row)

    def product():
        for book in sheets:
            export.write_workbook(book)

    def floor():
        for book in raw:
            workbook = Workbook(write_only=True)
            for title, rows in book:
                sheet = workbook.create_sheet(title)
                for row in rows:
                    sheet.append(row)
            workbook.save(io.BytesIO())

    product(), floor()
    products, floors = [], []
    for _ in range(WORKBOOK_RUNS):
        for fn, into in ((product, products), (floor, floors)):
            started = time.perf_counter()
            fn()
            into.append((time.perf_counter() - started) * 1000)
    write(ratio_line(f"20 workbooks ({cells:,} cells)", products, floors))
    write(f"{'':<34} of which {blanks:,} blank: styled cells in the product, left out by the floor")


def _export_call(stores, period: Period, today: date):
    """The export of every agent: every store's workbook over the period
    (``build_workbooks``: 20 stores × 25 agents = 500 agents), as the
    monthly job makes them."""

    def export():
        books = build_workbooks(stores, period, today=today)
        assert len(books) == len(stores)
        return books

    return export
