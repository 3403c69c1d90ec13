"""Benchmark: importing a 1,000,000-row Asterisk Master.csv (`make bench`).

The target (issue): one million CDR rows in under 60 s on the CI machine,
PostgreSQL. The data set:

- one store (area code 021) with 50 agents on extensions 8000–8049, five of
  which changed hands half-way through the period (so matching has to pick
  the holder at the time), and extensions 8090–8099 that nobody has;
- 100,000 leads (customers, phones, leads: plain COPY, no history) whose
  numbers about a third of the calls hit, and 20,000 follow-ups logged as
  calls near some of those calls (verification has work to do);
- a Master.csv in the 21-column layout (uniqueid, userfield, peeraccount,
  linkedid, sequence) over 90 days: inbound, outbound (dialled with the
  outside-line prefix 9, sometimes without) and internal calls; ANSWERED,
  NO ANSWER, BUSY, FAILED; ring groups and transfers as several legs sharing
  a linkedid; mobiles spread evenly over every mobile prefix, other cities'
  landlines with their area code, local landlines without one; anonymous and
  short service numbers; some lines written twice (duplicates) and a few
  bad lines.

The measurement: RUNS imports of the file, each into an emptied call table
(follow-ups re-created, unverified), then one re-import of the same file,
which must import nothing. Printed: generation time; per run the wall time
of ``import_cdr``, rows/s and the breakdown (parse: reading, parsing,
grouping and formatting the rows, in the importer's reader thread while the
rest goes on; wait: the import waiting for it; match: reading the leads of
the numbers; lookup: the stored calls with the batches' keys; store: COPY
with its index updates and foreign-key checks, merges;
statistics: ANALYZE; verify: follow-ups; other: digest, report, commit),
the CPU seconds of Python and of the PostgreSQL backend (the machine is
shared: they say what the wall time would be on idle CPUs) and the load
average; then median and p95 (nearest rank: with three runs p95 is the
slowest run). A measurement: it asserts counts, never a time.

``BENCH_PROFILE=1`` profiles one more import under cProfile (both threads);
``BENCH_ROWS=…`` changes the file's size (for a quick look).
"""

import cProfile
import io
import os
import pstats
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.db import connection, transaction
from django.utils import timezone

from dcc.bulk import bulk_insert, copy_rows
from dcc.models import Store, Team, User
from dcc.roles import Role
from followups.models import FollowUp
from leads.models import Customer, CustomerPhone, Lead, Source, Status
from telephony import cdr, services
from telephony.models import Call, CallImport, ExtensionAssignment, ImportStatus
from tests.bench.common import cpu_reference, nearest_rank

pytestmark = [pytest.mark.bench, pytest.mark.django_db(transaction=True)]

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
AGENTS = 50
REASSIGNED = 5  # extensions that changed hands half-way
LEADS = 100_000
OTHER_CUSTOMERS = 300_000  # numbers that call or are called but are no lead
FOLLOWUPS = 20_000
DAYS = 90
PERIOD_START = datetime(2025, 1, 1, tzinfo=UTC)
LOCAL_OFFSET = 8 * 3600  # the file is written in Asia/Shanghai time (settings.TIME_ZONE)

# Every three-digit mobile prefix libphonenumber accepts, evenly (the worst
# case for phone normalisation: no prefix dominates).
MOBILE_PREFIXES = [
    *(f"13{d}" for d in range(10)),
    "145",
    "147",
    *(f"15{d}" for d in "012356789"),
    *(f"16{d}" for d in "2567"),
    *(f"17{d}" for d in "01235678"),
    *(f"18{d}" for d in range(10)),
    *(f"19{d}" for d in "012356789"),
]
# Other cities' landlines: (area code, digits after it).
AREAS = (("10", 8), ("20", 8), ("512", 8), ("571", 8), ("25", 8), ("755", 8), ("28", 8))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"


# ---------------------------------------------------------------- the file


class CdrWriter:
    """Writes a Master.csv of ``rows`` lines and counts what it wrote."""

    def __init__(self, rng: random.Random, leads: list[str], others: list[str]):
        self.rng = rng
        self.lead_numbers = leads  # national forms, as a PBX writes them
        self.other_numbers = others
        self.lines = 0
        self.duplicates = 0
        self.bad = 0
        self.calls_to_leads: list[tuple[int, str, int, bool]] = []  # (ts, number, ext, answered)
        self.serial = 0
        self._stamps: dict[int, str] = {}

    def _stamp(self, ts: int) -> str:
        day, second = divmod(ts + LOCAL_OFFSET, 86_400)
        prefix = self._stamps.get(day)
        if prefix is None:
            prefix = self._stamps[day] = time.strftime("%Y-%m-%d ", time.gmtime(day * 86_400))
        hour, rest = divmod(second, 3600)
        return f"{prefix}{hour:02d}:{rest // 60:02d}:{rest % 60:02d}"

    def _customer(self) -> tuple[str, bool]:
        """A customer's number as the PBX writes it; True when a lead's."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.33:
            return rng.choice(self.lead_numbers), True
        if roll < 0.985:
            return rng.choice(self.other_numbers), False
        if roll < 0.993:
            return rng.choice(("anonymous", "")), False
        return rng.choice(("10086", "95588", "4008123123", "14912345678")), False

    def _line(self, out, fields: list[str]) -> None:
        line = ",".join(fields) + "\n"
        out.write(line)
        self.lines += 1
        rng = self.rng
        if rng.random() < 0.002 and self.lines < self.limit:  # written twice
            out.write(line)
            self.lines += 1
            self.duplicates += 1
        elif rng.random() < 0.0001 and self.lines < self.limit:  # a bad line
            broken = list(fields)
            broken[9] = '"2025-13-45 25:61:00"'
            out.write(",".join(broken) + "\n")
            self.lines += 1
            self.bad += 1

    def _leg(self, out, *, src, dst, context, clid, channel, dstchannel, app, data, start,
             answer, end, disposition, uniqueid, linkedid):  # fmt: skip
        self.serial += 1
        billsec = end - answer if answer is not None else 0
        self._line(
            out,
            [
                '""',
                f'"{src}"',
                f'"{dst}"',
                f'"{context}"',
                f'"""{clid}"" <{src}>"' if src else '""',
                f'"{channel}"',
                f'"{dstchannel}"',
                f'"{app}"',
                f'"{data}"',
                f'"{self._stamp(start)}"',
                f'"{self._stamp(answer)}"' if answer is not None else "",
                f'"{self._stamp(end)}"',
                str(end - start),
                str(billsec),
                f'"{disposition}"',
                '"DOCUMENTATION"',
                f'"{uniqueid}"',
                '""',
                '""',
                f'"{linkedid}"',
                str(self.serial),
            ],
        )

    def _ext(self) -> int:
        rng = self.rng
        return 8090 + rng.randrange(10) if rng.random() < 0.02 else 8000 + rng.randrange(AGENTS)

    def _uid(self, ts: int) -> str:
        return f"{ts}.{self.serial + 1}"

    def _chan(self, name: str) -> str:
        return f"PJSIP/{name}-{self.serial:08x}"

    def call(self, out, ts: int) -> None:
        rng = self.rng
        # Near the end, single-leg calls only: the file has exactly ``rows`` lines.
        kind = rng.random() if self.limit - self.lines > 3 else 0.9
        ext = self._ext()
        if kind < 0.05:  # internal
            other = self._ext()
            answered = rng.random() < 0.8
            uid = self._uid(ts)
            ring = rng.randint(2, 15)
            end = ts + ring + (rng.randint(10, 300) if answered else 0)
            self._leg(out, src=str(ext), dst=str(other), context="from-internal",
                      clid=f"{ext}", channel=self._chan(str(ext)),
                      dstchannel=self._chan(str(other)), app="Dial", data=f"PJSIP/{other},30",
                      start=ts, answer=ts + ring if answered else None, end=end,
                      disposition="ANSWERED" if answered else "NO ANSWER",
                      uniqueid=uid, linkedid=uid)  # fmt: skip
            return
        number, is_lead = self._customer()
        if kind < 0.45:  # inbound
            self._inbound(out, ts, ext, number, is_lead)
        else:
            self._outbound(out, ts, ext, number, is_lead)

    def _inbound(self, out, ts, ext, number, is_lead):
        rng = self.rng
        roll = rng.random()
        disposition = (
            "ANSWERED" if roll < 0.75 else "NO ANSWER" if roll < 0.95 else
            "BUSY" if roll < 0.98 else "FAILED"
        )  # fmt: skip
        linked = self._uid(ts)
        trunk = self._chan("ct-trunk")
        did = "4008001234" if rng.random() < 0.5 else "62345600"
        ring = rng.randint(2, 20)
        talk = rng.randint(15, 600)
        legs = rng.random()
        answered_ext = ext
        if disposition == "ANSWERED" and legs < 0.06:
            # A ring group: two extensions ring, one answers.
            other = self._ext()
            end = ts + ring + talk
            self._leg(out, src=number, dst=did, context="from-trunk", clid="客户",
                      channel=trunk, dstchannel=self._chan(str(other)), app="Dial",
                      data="PJSIP/8000&PJSIP/8001", start=ts, answer=None, end=ts + ring,
                      disposition="NO ANSWER", uniqueid=self._uid(ts), linkedid=linked)  # fmt: skip
            self._leg(out, src=number, dst=did, context="from-trunk", clid="客户",
                      channel=trunk, dstchannel=self._chan(str(ext)), app="Dial",
                      data="PJSIP/8000&PJSIP/8001", start=ts, answer=ts + ring, end=end,
                      disposition="ANSWERED", uniqueid=self._uid(ts), linkedid=linked)  # fmt: skip
        elif disposition == "ANSWERED" and legs < 0.12:
            # A transfer: the first agent talks, hands over to a second one.
            other = self._ext()
            first_end = ts + ring + talk // 3
            end = first_end + talk
            self._leg(out, src=number, dst=did, context="from-trunk", clid="客户",
                      channel=trunk, dstchannel=self._chan(str(ext)), app="Dial",
                      data=f"PJSIP/{ext},30", start=ts, answer=ts + ring, end=first_end,
                      disposition="ANSWERED", uniqueid=linked, linkedid=linked)  # fmt: skip
            self._leg(out, src=str(ext), dst=str(other), context="from-internal",
                      clid=str(ext), channel=self._chan(str(ext)),
                      dstchannel=self._chan(str(other)), app="Dial", data=f"PJSIP/{other}",
                      start=first_end - 20, answer=first_end - 15, end=first_end,
                      disposition="ANSWERED", uniqueid=self._uid(ts), linkedid=linked)  # fmt: skip
            self._leg(out, src=number, dst=did, context="from-trunk", clid="客户",
                      channel=trunk, dstchannel=self._chan(str(other)), app="Dial",
                      data=f"PJSIP/{other},30", start=first_end, answer=first_end, end=end,
                      disposition="ANSWERED", uniqueid=self._uid(ts), linkedid=linked)  # fmt: skip
        else:
            queue = rng.random() < 0.3
            answer = ts + ring if disposition == "ANSWERED" else None
            end = ts + ring + talk if answer else ts + (ring if disposition != "FAILED" else 0)
            self._leg(out, src=number, dst=did, context="from-trunk",
                      clid=rng.choice(SURNAMES) + rng.choice(("先生", "女士")) if number else "",
                      channel=trunk,
                      dstchannel=(f"Local/{ext}@from-queue-{self.serial:08x};2" if queue
                                  else self._chan(str(ext))) if disposition != "FAILED" else "",
                      app="Queue" if queue else "Dial", data="sales" if queue else f"PJSIP/{ext}",
                      start=ts, answer=answer, end=end, disposition=disposition,
                      uniqueid=linked, linkedid=linked)  # fmt: skip
        if is_lead:
            self.calls_to_leads.append((ts, number, answered_ext, disposition == "ANSWERED"))

    def _outbound(self, out, ts, ext, number, is_lead):
        rng = self.rng
        if not number:
            number, is_lead = rng.choice(self.other_numbers), False
        roll = rng.random()
        disposition = (
            "ANSWERED" if roll < 0.55 else "NO ANSWER" if roll < 0.85 else
            "BUSY" if roll < 0.95 else "FAILED"
        )  # fmt: skip
        # Most agents dial the outside-line prefix 9; click-to-call does not.
        dialled = "9" + number if rng.random() < 0.85 else number
        uid = self._uid(ts)
        ring = rng.randint(3, 30)
        answer = ts + ring if disposition == "ANSWERED" else None
        end = answer + rng.randint(10, 900) if answer else ts + (ring if roll < 0.95 else 1)
        self._leg(out, src=str(ext), dst=dialled, context="from-internal", clid=f"坐席{ext}",
                  channel=self._chan(str(ext)),
                  dstchannel=self._chan("ct-trunk") if disposition != "FAILED" else "",
                  app="Dial", data=f"PJSIP/{number}@ct-trunk,300", start=ts, answer=answer,
                  end=end, disposition=disposition, uniqueid=uid, linkedid=uid)  # fmt: skip
        if is_lead:
            self.calls_to_leads.append((ts, number, ext, disposition == "ANSWERED"))

    def write(self, out, rows: int) -> None:
        rng = self.rng
        self.limit = rows
        start = int(PERIOD_START.timestamp())
        # Calls per day so that the file ends up at ``rows`` lines; calls
        # between 08:00 and 20:00 local time, in order of time.
        per_day = rows / DAYS
        day = 0
        while self.lines < rows:
            base = start + day * 86_400 + 8 * 3600 - LOCAL_OFFSET
            times = sorted(rng.randrange(12 * 3600) for _ in range(int(per_day)))
            for offset in times:
                if self.lines >= rows:
                    break
                self.call(out, base + offset)
            day += 1
        assert self.lines == rows


# ---------------------------------------------------------------- numbers


def _numbers(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """Distinct customer numbers in national form: 88 % mobiles, 7 % other
    cities' landlines with the trunk 0 and area code, 5 % local Shanghai
    landlines without area code."""
    numbers = []
    while len(numbers) < count:
        roll = rng.random()
        if roll < 0.88:
            number = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
        elif roll < 0.95:
            area, digits = rng.choice(AREAS)
            number = f"0{area}{rng.randint(2, 8)}{rng.randrange(10 ** (digits - 1)):0{digits - 1}d}"
        else:
            number = f"{rng.randint(2, 6)}{rng.randrange(10**7):07d}"
        if number not in taken:
            taken.add(number)
            numbers.append(number)
    return numbers


def _e164(national: str) -> str:
    if national.startswith("1"):
        return "+86" + national
    if national.startswith("0"):
        return "+86" + national[1:]
    return "+8621" + national


# ---------------------------------------------------------------- the database


def _copy(model, rows: list[dict]) -> None:
    """COPY plain dicts over the model's field defaults (no history); the
    primary key too when the rows carry one."""
    fields = [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key or (rows and field.attname in rows[0])
    ]
    defaults = {field.attname: field.get_default() for field in fields}
    names = [field.attname for field in fields]
    copy_rows(
        model,
        [field.column for field in fields],
        ([(defaults | row)[name] for name in names] for row in rows),
    )


def _ids(model, count: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return [row[0] for row in cursor.fetchall()]


class Data:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.phases: list[tuple[str, float]] = []

    def _phase(self, name, started):
        self.phases.append((name, time.perf_counter() - started))

    def load_org(self):
        started = time.perf_counter()
        self.store = Store.objects.create(code="TB1", name="上海浦东别克4S店", area_code="021")
        team = Team.objects.create(store=self.store, name="电话营销组")
        users = [
            User(
                username=f"tb_agent{i}",
                name=f"坐席{i}",
                role=Role.AGENT,
                store=self.store,
                team=team,
                extension=str(8000 + i),
                password="!",
            )
            for i in range(AGENTS + REASSIGNED)
        ]
        self.manager = User(username="tb_manager", role=Role.MANAGER, store=self.store)
        bulk_insert(User, [*users, self.manager], reason="bench")
        self.agents = users
        middle = PERIOD_START + timedelta(days=DAYS // 2)
        assignments = []
        for i in range(AGENTS):
            user = users[i]
            if i < REASSIGNED:  # handed to a newcomer half-way
                newcomer = users[AGENTS + i]
                assignments.append(
                    ExtensionAssignment(
                        store=self.store, extension=user.extension, staff=user, valid_to=middle
                    )
                )
                assignments.append(
                    ExtensionAssignment(
                        store=self.store,
                        extension=user.extension,
                        staff=newcomer,
                        valid_from=middle,
                    )
                )
            else:
                assignments.append(
                    ExtensionAssignment(store=self.store, extension=user.extension, staff=user)
                )
        bulk_insert(ExtensionAssignment, assignments, reason="bench")
        self.holder = {}
        for row in assignments:
            self.holder.setdefault(int(row.extension), []).append(row)
        self._phase("store, 55 staff, extension assignments", started)

    def load_leads(self):
        started = time.perf_counter()
        rng = self.rng
        taken: set[str] = set()
        self.lead_numbers = _numbers(rng, LEADS, taken)
        self.other_numbers = _numbers(rng, OTHER_CUSTOMERS, taken)
        store_id = self.store.pk
        now = timezone.now()
        customer_ids = _ids(Customer, LEADS)
        lead_ids = _ids(Lead, LEADS)
        before = int(PERIOD_START.timestamp())
        customers, phones, leads = [], [], []
        self.lead_by_number = {}
        for i, number in enumerate(self.lead_numbers):
            e164 = _e164(number)
            customers.append(
                {
                    "id": customer_ids[i],
                    "store_id": store_id,
                    "name": rng.choice(SURNAMES) + "先生",
                    "created_at": now,
                }
            )
            phones.append(
                {
                    "customer_id": customer_ids[i],
                    "store_id": store_id,
                    "number": e164,
                    "is_primary": True,
                    "created_at": now,
                }
            )
            # Most leads came in before the period, some during it.
            if rng.random() < 0.85:
                received = before - rng.randrange(180 * 86_400)
            else:
                received = before + rng.randrange(DAYS * 86_400)
            leads.append(
                {
                    "id": lead_ids[i],
                    "store_id": store_id,
                    "customer_id": customer_ids[i],
                    "phone": e164,
                    "source": Source.WEB,
                    "status": Status.ACTIVE,
                    "owner_id": self.agents[i % AGENTS].pk,
                    "created_by_id": self.manager.pk,
                    "received_at": datetime.fromtimestamp(received, UTC),
                    "created_at": now,
                    "updated_at": now,
                }
            )
            self.lead_by_number[number] = lead_ids[i]
        for model, rows in ((Customer, customers), (CustomerPhone, phones), (Lead, leads)):
            _copy(model, rows)
        with connection.cursor() as cursor:
            # As autovacuum soon would after a load (hint bits, visibility
            # map, statistics): not left to happen during the first run.
            for model in (Customer, CustomerPhone, Lead):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
        self._phase(f"{LEADS:,} leads with customers and phones (COPY)", started)

    def write_file(self, path: Path) -> CdrWriter:
        started = time.perf_counter()
        writer = CdrWriter(self.rng, self.lead_numbers, self.other_numbers)
        with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
            writer.write(out, ROWS)
        self._phase(f"Master.csv, {writer.lines:,} lines, {path.stat().st_size >> 20} MiB", started)
        return writer

    def plan_followups(self, writer: CdrWriter):
        """Follow-ups logged by the agent who had the extension, two minutes
        after calls to leads; a tenth of them logged by someone else (never
        verified)."""
        rng = self.rng
        started = time.perf_counter()
        picked = rng.sample(writer.calls_to_leads, min(FOLLOWUPS, len(writer.calls_to_leads)))
        rows = []
        for ts, number, ext, answered in picked:
            holders = self.holder.get(ext)
            if not holders:
                continue
            moment = datetime.fromtimestamp(ts + 120, UTC)
            holder = holders[0]
            if holder.valid_to is not None and moment >= holder.valid_to:
                holder = holders[1]
            agent_id = holder.staff_id if rng.random() < 0.9 else self.agents[-1].pk
            rows.append(
                {
                    "store_id": self.store.pk,
                    "lead_id": self.lead_by_number[number],
                    "agent_id": agent_id,
                    "channel": "call",
                    "purpose": "other",
                    "result": "reached" if answered else "no_answer",
                    "occurred_at": moment,
                    "created_by_id": agent_id,
                    "created_at": moment,
                }
            )
        self.followups = rows
        self._phase(f"{len(rows):,} follow-ups planned", started)

    def reset(self):
        """An empty call table and unverified follow-ups, as before the first import."""
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {Call._meta.db_table}, {FollowUp._meta.db_table} CASCADE")
        _copy(FollowUp, self.followups)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {FollowUp._meta.db_table}")


# ---------------------------------------------------------------- measuring


class _Timed(cdr.CdrImport):
    """The importer, remembering itself so that its timings can be read (and,
    with ``profile``, profiling its reader thread too)."""

    last = None
    profile = None  # a cProfile.Profile for the reader thread

    def run(self, fileobj):
        _Timed.last = self
        return super().run(fileobj)

    def _batches(self, fileobj):
        if self.profile is None:
            yield from super()._batches(fileobj)
            return
        self.profile.enable()  # in the reader's thread, where this runs
        try:
            yield from super()._batches(fileobj)
        finally:
            self.profile.disable()


class _Cpu:
    """CPU seconds of this process (every thread) and of the database
    session's backend (read from /proc when the server is on this machine)."""

    def __init__(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (self.backend,) = cursor.fetchone()

    def _backend(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.backend}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __enter__(self):
        self.python, self.database = time.process_time(), self._backend()
        return self

    def __exit__(self, *exc):
        self.python = time.process_time() - self.python
        database = self._backend()
        self.database = None if database is None else database - self.database

    def __str__(self):
        database = "?" if self.database is None else f"{self.database:.1f}"
        return f"CPU: Python {self.python:.1f} s, PostgreSQL {database} s"


def _import(store, path: Path):
    cpu = _Cpu()
    with (
        path.open("rb") as fileobj,
        mock.patch.object(cdr, "CdrImport", _Timed),
        cpu,
    ):
        started = time.perf_counter()
        report = services.import_cdr(
            actor=None, store=store, fileobj=fileobj, file_name=path.name, format="asterisk_csv"
        )
        seconds = time.perf_counter() - started
    timings = dict(getattr(_Timed.last, "timings", {}))
    # The rest of the wall time: the file's digest, the report, the commit.
    timings["other"] = seconds - sum(v for k, v in timings.items() if k != "parse")
    return report, seconds, timings, cpu


def _breakdown(timings: dict) -> str:
    parse = timings.get("parse", 0)
    rest = ", ".join(
        f"{name} {seconds:.1f}" for name, seconds in timings.items() if name != "parse"
    )
    return f"parse {parse:.1f} s in the reader thread, meanwhile: {rest} s"


FLOOR_TABLE = "bench_cdr_floor"


def _floor_table(columns: int) -> None:
    """A bare table of ``columns`` text columns: no key, no index, no
    constraint, what a raw COPY of the file writes into."""
    names = ", ".join(f"c{i} text" for i in range(columns))
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        cursor.execute(f"CREATE TABLE {FLOOR_TABLE} ({names})")


def _copy_floor(path: Path) -> float:
    """The floor: seconds to COPY the same file, as it is, into the bare
    table (CSV, every field text), committed, on the same database; the
    table emptied first."""
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {FLOOR_TABLE}")
    started = time.perf_counter()
    with path.open("rb") as fileobj, connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {FLOOR_TABLE} FROM STDIN WITH (FORMAT csv)", fileobj, 1 << 20)
    return time.perf_counter() - started


def _copy_calls_floor(store, folder: str, runs: int) -> list[float]:
    """The write floor: seconds to COPY the import's own call rows, already
    made (dumped from the calls table), back into the calls table with its
    indexes and keys, ``runs`` times, each rolled back (commit not counted):
    what writing the calls costs the database whatever builds them (foreign
    keys checked row by row, as in the import)."""
    from telephony.cdr.loading import CALL_COLUMNS

    names = ", ".join(CALL_COLUMNS)
    dump = Path(folder) / "calls.copy"
    query = f"SELECT {names} FROM telephony_call WHERE store_id = {int(store.pk)}"  # noqa: S608
    with dump.open("wb") as out, connection.cursor() as cursor:
        cursor.copy_expert(f"COPY ({query}) TO STDOUT", out)
    if os.environ.get("BENCH_KEEP_CALLS"):  # for experiments on the write
        import shutil

        shutil.copy(dump, os.environ["BENCH_KEEP_CALLS"])
    floors = []
    for _run in range(runs):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("TRUNCATE telephony_call CASCADE")
            # Foreign keys checked as the rows are written, as the import
            # does (deferred, a rolled-back COPY would never check them).
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            started = time.perf_counter()
            with dump.open("rb") as fileobj:
                cursor.copy_expert(f"COPY telephony_call ({names}) FROM STDIN", fileobj, 1 << 20)
            floors.append(time.perf_counter() - started)
            transaction.set_rollback(True)
    return floors


def _load() -> str:
    return "load average " + ", ".join(f"{value:.1f}" for value in os.getloadavg())


def test_import_a_million_cdr_rows(request):
    if connection.vendor != "postgresql":
        pytest.skip("the import benchmark measures PostgreSQL (COPY); set DATABASE_URL")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    write = reporter.write_line
    data = Data(random.Random(20250303))
    generation = time.perf_counter()
    data.load_org()
    data.load_leads()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "Master.csv"
        writer = data.write_file(path)
        data.plan_followups(writer)
        generation = time.perf_counter() - generation
        expected = writer.lines - writer.duplicates - writer.bad

        write("")
        write(
            f"CDR import ({connection.vendor}, {os.cpu_count()} CPUs): {writer.lines:,} rows, "
            f"{writer.duplicates:,} of them written twice, {writer.bad} bad; "
            f"data generated in {generation:.1f} s"
        )
        for name, seconds in data.phases:
            write(f"  {name:<55} {seconds:6.1f} s")

        seconds, breakdowns, floors = [], [], []
        _floor_table(21)
        for run in range(RUNS):
            floor = _copy_floor(path)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*) FROM {FLOOR_TABLE}")  # noqa: S608
                assert cursor.fetchone()[0] == writer.lines
            floors.append(floor)
            write(
                f"floor {run + 1}: raw COPY of the file into a bare table of 21 text columns "
                f"{floor:5.1f} s, {writer.lines / floor:9,.0f} rows/s; {_load()}"
            )
            data.reset()
            report, took, timings, cpu = _import(data.store, path)
            assert report.status == ImportStatus.DONE, report.failure
            # Every line but the repeated and the bad ones is a leg imported.
            assert report.imported == expected
            assert report.duplicates == writer.duplicates
            assert report.error_count == writer.bad
            assert report.lines == writer.lines
            assert Call.objects.filter(store=data.store).count() == report.calls
            seconds.append(took)
            breakdowns.append(timings)
            write(
                f"run {run + 1}: {took:5.1f} s, {writer.lines / took:7,.0f} rows/s "
                f"({_breakdown(timings)}); {cpu}; {_load()}"
            )
        write(
            f"  {report.calls:,} calls: {report.matched_leads:,} matched to leads, "
            f"{report.unmatched:,} with unknown numbers, {report.unknown_extensions:,} on "
            "unknown extensions"
        )
        verified = FollowUp.objects.filter(verified_call__isnull=False).count()
        assert verified > 0
        assert Call.objects.filter(store=data.store, agent__isnull=False).exists()

        again, took_again, timings, cpu = _import(data.store, path)
        assert again.status == ImportStatus.DONE
        assert (again.imported, again.calls) == (0, 0)
        assert again.duplicates == writer.lines - writer.bad
        assert Call.objects.filter(store=data.store).count() == report.calls

        median = statistics.median(seconds)
        p95 = nearest_rank(seconds, 0.95)
        write(
            f"import of {writer.lines:,} rows, {RUNS} runs: median {median:.1f} s "
            f"({writer.lines / median:,.0f} rows/s), p95 {p95:.1f} s (nearest rank: with "
            f"{RUNS} runs, the slowest); runs " + ", ".join(f"{s:.1f}" for s in seconds)
        )
        floor_median = statistics.median(floors)
        floor_p95 = nearest_rank(floors, 0.95)
        write(
            f"floor, raw COPY of the same file, {RUNS} runs: median {floor_median:.2f} s "
            f"({writer.lines / floor_median:,.0f} rows/s), p95 {floor_p95:.2f} s "
            f"({writer.lines / floor_p95:,.0f} rows/s); runs "
            + ", ".join(f"{s:.2f}" for s in floors)
        )
        # rows/s of the import over rows/s of the raw COPY (target: >= 0.5).
        write(
            f"ratio import/floor (rows/s): median {floor_median / median:.3f}, "
            f"p95 {floor_p95 / p95:.3f} (target >= 0.5); {_load()}"
        )
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {FLOOR_TABLE}")
        writes = _copy_calls_floor(data.store, folder, RUNS)
        write_median = statistics.median(writes)
        write(
            f"write floor, COPY of the import's {report.calls:,} finished call rows into the "
            f"calls table (its 6 indexes, keys, foreign keys, jsonb legs), {RUNS} runs: median "
            f"{write_median:.2f} s ({writer.lines / write_median:,.0f} file rows/s), p95 "
            f"{nearest_rank(writes, 0.95):.2f} s; raw-COPY floor / write floor: "
            f"{floor_median / write_median:.3f}; import / write floor: "
            f"{write_median / median:.3f}; {_load()}"
        )
        write(
            "median breakdown: "
            + _breakdown(
                {name: statistics.median(b[name] for b in breakdowns) for name in breakdowns[0]}
            )
        )
        write(
            f"re-import of the same file: {took_again:.1f} s "
            f"({writer.lines / took_again:,.0f} rows/s), 0 imported "
            f"({_breakdown(timings)}); {cpu}"
        )
        write(f"follow-ups verified: {verified:,} of {len(data.followups):,}")
        if os.environ.get("BENCH_PROFILE") == "1":
            data.reset()
            _profile(write, lambda: _import(data.store, path))
    write(f"machine reference: a 10M-iteration Python loop takes {cpu_reference():.2f} s here")
    assert CallImport.objects.filter(store=data.store).count() >= RUNS + 1


def _profile(write, fn) -> None:
    """One import under cProfile: the import's thread, then the reader's."""
    main, reader = cProfile.Profile(), cProfile.Profile()
    with mock.patch.object(_Timed, "profile", reader):
        main.runcall(fn)
    for label, profiler in (("the import's thread", main), ("the reader thread", reader)):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(30)
        write("")
        write(f"-- one import under cProfile: {label}, by own time")
        for line in out.getvalue().splitlines():
            if line.strip():
                write(f"   {line}")
