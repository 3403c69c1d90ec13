"""Telephony rules, one function each, called by pages, the API, the
management command and the Celery tasks alike (DESIGN §5).

Importing a call log (``import_cdr``):

1. A :class:`CallImport` report is written and committed first, so an import
   that dies still says so (``mark_interrupted``); the rows themselves are
   written in one transaction: all of them or none.
2. The parser streams records; bad lines are kept in the report with their
   numbers and the good lines go on.
3. Legs are grouped into calls; each batch of calls is checked against the
   calls already stored (by ``key``: linkedid, uniqueid or a content key), new
   calls are written with COPY, and a stored call that gets new legs is
   merged. Re-importing a file therefore imports nothing.
4. Calls are matched in SQL: extension → staff over the assignment's time
   range, number → lead, then follow-ups are verified against them.

Imports of one store run one at a time (a lock on the store row).
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cached_property
from itertools import islice

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, OuterRef, Q, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from dcc.bulk import copy_escape, copy_rows, copy_text
from dcc.models import Store
from dcc.policy import require
from leads.models import Lead
from telephony import parsers, verification
from telephony.models import (
    CDR_FORMATS,
    Call,
    CallImport,
    CallSource,
    Direction,
    ExtensionAssignment,
    ImportKind,
    ImportStatus,
)

log = logging.getLogger(__name__)

KEY_LENGTH = Call._meta.get_field("key").max_length


class ImportRejected(ValueError):
    """The file cannot be imported at all (unknown format, empty upload)."""


def source_config(store: Store, source: CallSource | None, format: str | None):
    """The parser settings: the source's, else the format's reference layout
    in the server's zone with the store's area code."""
    if source is not None:
        if source.store_id != store.pk:
            raise ImportRejected(_("This call-log source belongs to another store."))
        return source.config()
    format = format or "asterisk_csv"
    if format not in parsers.FORMATS:
        raise ImportRejected(_("Unknown format: %(format)s.") % {"format": format})
    return parsers.SourceConfig(format=format, tz=settings.TIME_ZONE, area_code=store.area_code)


def file_digest(fileobj) -> tuple[str, int]:
    """SHA-256 and size of a seekable binary file, which is left at its start."""
    digest, size = hashlib.sha256(), 0
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(1 << 20), b""):
        digest.update(chunk)
        size += len(chunk)
    fileobj.seek(0)
    return digest.hexdigest(), size


def _require_store(actor, store: Store) -> None:
    if actor is None:  # the management command and the beat job
        return
    require(actor, "telephony.import")
    if not Store.objects.visible_to(actor).filter(pk=store.pk).exists():
        raise PermissionDenied("store outside the actor's scope")


def start_report(*, actor, store, source, kind, format, file_name, digest, size, via):
    """The report row, committed before any call row is written."""
    return CallImport.objects.create(
        store=store,
        source=source,
        kind=kind,
        format=format,
        file_name=file_name[:300],
        file_sha256=digest,
        file_size=size,
        via=via,
        started_by=actor,
    )


def _finish(report: CallImport, status: str, failure: str = "") -> CallImport:
    report.status = status
    report.failure = failure
    report.finished_at = timezone.now()
    report.save()
    return report


def import_cdr(
    *,
    actor,
    store: Store,
    fileobj,
    file_name: str,
    source: CallSource | None = None,
    format: str | None = None,
    via: str = "upload",
) -> CallImport:
    """Import one call-log file (binary, seekable) into ``store``."""
    _require_store(actor, store)
    config = source_config(store, source, format)
    if config.format not in CDR_FORMATS:
        raise ImportRejected(_("%(format)s is not a call-log format.") % {"format": config.format})
    digest, size = file_digest(fileobj)
    if size == 0:
        raise ImportRejected(_("The file is empty."))
    report = start_report(
        actor=actor,
        store=store,
        source=source,
        kind=ImportKind.CDR,
        format=config.format,
        file_name=file_name,
        digest=digest,
        size=size,
        via=via,
    )
    try:
        with transaction.atomic():
            Store.objects.select_for_update().get(pk=store.pk)
            _CdrImport(report, config).run(fileobj)
    except BaseException as error:
        # The transaction is rolled back: nothing of the file was kept.
        _finish(report, ImportStatus.FAILED, f"{type(error).__name__}: {error}")
        raise
    return _finish(report, ImportStatus.DONE)


def mark_interrupted(*, older_than=timedelta(hours=2)) -> int:
    """Imports still "running" long after they started died with their
    process (their rows were rolled back): say so in their reports."""
    return CallImport.objects.filter(
        status=ImportStatus.RUNNING, started_at__lt=timezone.now() - older_than
    ).update(
        status=ImportStatus.INTERRUPTED,
        finished_at=timezone.now(),
        failure="The import stopped before it finished; none of its rows were kept.",
    )


# ---------------------------------------------------------------- legs as JSON

# A leg as kept on its call: every field of the CDR the call does not
# already say, under the parser's names.
LEG_FIELDS = (
    "line",
    "key",
    "uniqueid",
    "linkedid",
    "sequence",
    "disposition",
    "direction",
    "extension",
    "external_number",
    "external_raw",
    "src",
    "dst",
    "clid",
    "channel",
    "dstchannel",
    "duration",
    "billsec",
)
LEG_TIMES = ("started_at", "answered_at", "ended_at")

# Legs as JSON text: compact (no spaces after separators: PostgreSQL parses
# every byte of a million calls' legs into jsonb), one encoder for all.
legs_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_string = json.encoder.encode_basestring  # the encoder's own, for leg_text


def leg_json(leg: parsers.CallLeg) -> dict:
    """LEG_FIELDS and LEG_TIMES (ISO 8601) of one leg, written out: a million
    legs per import."""
    answered = leg.answered_at
    return {
        "line": leg.line,
        "key": leg.key,
        "uniqueid": leg.uniqueid,
        "linkedid": leg.linkedid,
        "sequence": leg.sequence,
        "disposition": leg.disposition,
        "direction": leg.direction,
        "extension": leg.extension,
        "external_number": leg.external_number,
        "external_raw": leg.external_raw,
        "src": leg.src,
        "dst": leg.dst,
        "clid": leg.clid,
        "channel": leg.channel,
        "dstchannel": leg.dstchannel,
        "duration": leg.duration,
        "billsec": leg.billsec,
        "started_at": leg.started_at.isoformat(),
        "answered_at": answered.isoformat() if answered else None,
        "ended_at": leg.ended_at.isoformat(),
    }


def leg_text(leg: parsers.CallLeg, started: str, answered: str | None, ended: str) -> str:
    """``legs_text(leg_json(leg))`` of one leg, written out (twice as fast;
    a test holds them equal), with its times already in ISO 8601."""
    string = _string
    extension, number = leg.extension, leg.external_number
    return (
        f'{{"line":{leg.line},"key":{string(leg.key)},"uniqueid":{string(leg.uniqueid)},'
        f'"linkedid":{string(leg.linkedid)},"sequence":{string(leg.sequence)},'
        f'"disposition":{string(leg.disposition)},"direction":{string(leg.direction)},'
        f'"extension":{"null" if extension is None else string(extension)},'
        f'"external_number":{"null" if number is None else string(number)},'
        f'"external_raw":{string(leg.external_raw)},"src":{string(leg.src)},'
        f'"dst":{string(leg.dst)},"clid":{string(leg.clid)},"channel":{string(leg.channel)},'
        f'"dstchannel":{string(leg.dstchannel)},"duration":{leg.duration},'
        f'"billsec":{leg.billsec},"started_at":"{started}",'
        f'"answered_at":{"null" if answered is None else string(answered)},'
        f'"ended_at":"{ended}"}}'
    )


def leg_from_json(data: dict) -> parsers.CallLeg:
    values = {name: data.get(name) for name in LEG_FIELDS}
    for name in LEG_TIMES:
        text = data.get(name)
        values[name] = datetime.fromisoformat(text) if text else None
    return parsers.CallLeg(raw=(), **values)


def _call_key(key: str) -> str:
    if len(key) <= KEY_LENGTH:
        return key
    return "h:" + hashlib.blake2b(key.encode(), digest_size=24).hexdigest()


# ---------------------------------------------------------------- the import

# The columns an import writes; the matching ones last (see _copy_head).
CALL_COLUMNS = [
    "store_id",
    "key",
    "uniqueid",
    "source_id",
    "call_import_id",
    "started_at",
    "answered_at",
    "ended_at",
    "duration",
    "billsec",
    "ring_seconds",
    "disposition",
    "direction",
    "extension",
    "external_number",
    "external_raw",
    "legs",
    "new_caller",
    "agent_id",
    "lead_id",
]


def _ring_seconds(call) -> int | None:
    if call.answered_at is None:
        return None
    return max(0, round((call.answered_at - call.started_at).total_seconds()))


def _call_fields(call: parsers.Call) -> dict:
    main = parsers._main_leg(call.legs)
    return {
        "uniqueid": (main.uniqueid or "")[:80],
        "started_at": call.started_at,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "duration": call.duration,
        "billsec": call.billsec,
        "ring_seconds": _ring_seconds(call),
        "disposition": call.disposition,
        "direction": call.direction,
        "extension": (call.extension or "")[:20],
        "external_number": call.external_number or "",
        "external_raw": (call.external_raw or "")[:40],
        "legs": [leg_json(leg) for leg in call.legs],
    }


class _Matcher:
    """match_calls() for calls about to be written, so that each row is
    written once, matched (an UPDATE of a million fresh rows would write them
    all again). Same rules: the staff member who had the extension when the
    call started (staff_at), the lead of the number received by the end of
    the call, by the lead's own number, else by its customer's other numbers
    (lead_for_number, lead_for_other_number).

    The store's extension assignments are read once. Leads are read for the
    numbers of each batch not read before, until the numbers looked up come
    to a tenth of the store's leads: then all of them at once (cheaper than
    looking up that many numbers one by one), unless there are more than
    WHOLE_STORE (memory)."""

    WHOLE_STORE = 1_000_000

    def __init__(self, store_id: int, chunk: int):
        self.store_id = store_id
        self.chunk = chunk
        self.extensions: dict[str, list[tuple]] = {}
        assignments = (
            ExtensionAssignment.objects.filter(store_id=store_id)
            .order_by(F("valid_from").desc(nulls_last=True), "pk")
            .values_list("extension", "valid_from", "valid_to", "staff_id")
        )
        for extension, valid_from, valid_to, staff_id in assignments:
            self.extensions.setdefault(extension, []).append((valid_from, valid_to, staff_id))
        # number → [(received_at, lead id)], latest first
        self.by_phone: dict[str, list[tuple]] = {}
        self.by_other: dict[str, list[tuple]] = {}
        self.known: set[str] = set()
        self.complete = False  # every lead of the store read
        self.store_leads = None

    def _leads(self, numbers: list[str] | None):
        """(number, received_at, lead id) by the leads' own numbers, then by
        their customers' numbers: of these numbers, or all of the store's."""
        own = Lead.objects.filter(store_id=self.store_id)
        other = Lead.objects.filter(customer__phones__store_id=self.store_id)
        if numbers is not None:
            own = own.filter(phone__in=numbers)
            other = other.filter(customer__phones__number__in=numbers)
        yield self.by_phone, own.values_list("phone", "received_at", "pk").order_by()
        yield (
            self.by_other,
            other.values_list("customer__phones__number", "received_at", "pk").order_by(),
        )

    def prepare(self, numbers, *, everything=False) -> None:
        """Read the leads of the numbers not read yet."""
        if self.complete:
            return
        wanted = {number for number in numbers if number and number not in self.known}
        if not wanted and not everything:
            return
        if self.store_leads is None:
            self.store_leads = Lead.objects.filter(store_id=self.store_id).count()
        looked_up = len(self.known) + len(wanted)
        if everything or (
            looked_up > self.store_leads / 10 and self.store_leads <= self.WHOLE_STORE
        ):
            chunks = [None]
            self.by_phone.clear()
            self.by_other.clear()
            self.complete = True
        else:
            if looked_up > self.WHOLE_STORE:  # a huge store: forget, read again
                self.by_phone.clear()
                self.by_other.clear()
                self.known.clear()
            wanted = sorted(wanted)
            chunks = [wanted[i : i + self.chunk] for i in range(0, len(wanted), self.chunk)]
        for chunk in chunks:
            for table, rows in self._leads(chunk):
                for number, received_at, pk in rows:
                    leads = table.get(number)
                    if leads is None:
                        table[number] = [(received_at, pk)]
                    else:
                        leads.append((received_at, pk))
                        leads.sort(reverse=True)
        if not self.complete:
            self.known.update(wanted)

    def read_all_if(self, numbers: int) -> None:
        """Read all the store's leads now if about ``numbers`` numbers are
        to come: then the matcher is complete (read only) from the start."""
        if self.store_leads is None:
            self.store_leads = Lead.objects.filter(store_id=self.store_id).count()
        if numbers > self.store_leads / 10 and self.store_leads <= self.WHOLE_STORE:
            self.prepare([""], everything=True)

    def match(self, call) -> tuple[str, str, int | None, int | None, bool]:
        """(extension, number, agent id, lead id, new caller) of a call as
        it is written (extension and number at their columns' lengths)."""
        extension = (call.extension or "")[:20]
        number = call.external_number or ""
        agent = self.agent(extension, call.started_at) if extension else None
        lead = self.lead(number, call.ended_at) if number else None
        new_caller = bool(number and lead is None and call.direction == Direction.INBOUND)
        return extension, number, agent, lead, new_caller

    def agent(self, extension: str, moment) -> int | None:
        for valid_from, valid_to, staff_id in self.extensions.get(extension, ()):
            if (valid_from is None or valid_from <= moment) and (
                valid_to is None or valid_to > moment
            ):
                return staff_id
        return None

    def lead(self, number: str, moment) -> int | None:
        for table in (self.by_phone, self.by_other):
            for received_at, pk in table.get(number, ()):
                if received_at <= moment:
                    return pk
        return None


class _Reader:
    """The batches of calls of a file, read, parsed and grouped in a thread
    of their own while the import stores the previous batch: Python parses
    while the database writes (psycopg2 lets go of the GIL while it waits
    for the server). One batch is kept ready. The thread speaks the import's
    language (the parser's messages go into the report)."""

    def __init__(self, batches: Callable[[], Iterator[list]]):
        self.batches = batches
        self.queue: queue.Queue = queue.Queue(maxsize=1)
        self.stop = threading.Event()
        self.language = translation.get_language()
        self.busy = 0.0  # the thread's seconds reading (not waiting to hand over)
        self.waited = 0.0  # the import's seconds waiting for a batch

    def _read(self) -> None:
        clock = time.perf_counter()
        try:
            with translation.override(self.language):
                for batch in self.batches():
                    self.busy += time.perf_counter() - clock
                    if not self._put(batch):
                        return
                    clock = time.perf_counter()
            self.busy += time.perf_counter() - clock
            self._put(_DONE)
        except BaseException as error:  # handed to the import, which raises it
            self._put(error)

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def __iter__(self) -> Iterator[list]:
        thread = threading.Thread(target=self._read, name="cdr-reader", daemon=True)
        thread.start()
        try:
            while True:
                clock = time.perf_counter()
                item = self.queue.get()
                self.waited += time.perf_counter() - clock
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.stop.set()
            thread.join()


_collector = threading.Lock()
_collector_holds = [0, True]  # imports running, whether the collector was on


@contextmanager
def _no_collections():
    """No cyclic garbage collection while imports run (the collector as it
    was once the last one ends): a million calls are tens of millions of
    objects, none in a reference cycle, which it would traverse again and
    again (a fifth of the import's Python time)."""
    with _collector:
        if _collector_holds[0] == 0:
            _collector_holds[1] = gc.isenabled()
            gc.disable()
        _collector_holds[0] += 1
    try:
        yield
    finally:
        with _collector:
            _collector_holds[0] -= 1
            if _collector_holds[0] == 0 and _collector_holds[1]:
                gc.enable()


_DONE = object()
NULL = "\\N"  # COPY's null


def _copy_tail(matched: tuple) -> str:
    """The matching columns (new_caller, agent_id, lead_id) as COPY text,
    ending the line: after _CdrImport._copy_head."""
    _extension, _number, agent, lead, new_caller = matched
    return (
        f"{'t' if new_caller else 'f'}\t{NULL if agent is None else agent}\t"
        f"{NULL if lead is None else lead}\n"
    )


def _iso(moment, texts: dict) -> str | None:
    """ISO 8601 of a time, formatted once per call (``texts``: by id)."""
    if moment is None:
        return None
    text = texts.get(id(moment))
    if text is None:
        text = texts[id(moment)] = moment.isoformat()
    return text


def _legs_text(call: parsers.Call, texts: dict) -> str:
    """The call's legs as JSON text (leg_text)."""
    legs = [
        leg_text(
            leg,
            _iso(leg.started_at, texts),
            _iso(leg.answered_at, texts),
            _iso(leg.ended_at, texts),
        )
        for leg in call.legs
    ]
    return f"[{legs[0]}]" if len(legs) == 1 else f"[{','.join(legs)}]"


class _CdrImport:
    """One file into one store, in one transaction (import_cdr).

    A reader thread (_Reader) reads, parses and groups the file into batches
    of calls, each call with its row as COPY text but for the matching
    columns; meanwhile the import stores the previous batch: the calls are
    looked up by key (a re-import finds them all and writes nothing), the new
    ones matched (_Matcher) and written with one COPY on PostgreSQL
    (executemany elsewhere); a stored call that gets new legs is merged and
    matched again. So Python parses while the database writes. Then
    follow-ups are verified.
    """

    def __init__(self, report: CallImport, config: parsers.SourceConfig):
        self.report = report
        self.config = config
        self.store_id = report.store_id
        self.postgres = connection.vendor == "postgresql"
        self.batch_size = 20_000 if self.postgres else 2_000
        self.matcher = _Matcher(self.store_id, chunk=5_000 if self.postgres else 500)
        self.records = 0
        # The report's match counts, kept as calls are written or merged.
        self.matched = self.unmatched = self.unknown = 0
        # Seconds per step. parse: reading, parsing, grouping and formatting
        # (in the reader's thread, while the rest goes on); wait: for the
        # reader; match: reading the batches' leads; lookup: calls already
        # stored with the batches' keys; store: writing and merging calls;
        # statistics: ANALYZE after a big import; verify: follow-ups.
        self.timings = dict.fromkeys(
            ("parse", "wait", "match", "lookup", "store", "statistics", "verify"), 0.0
        )
        self.first_start = None
        self.last_start = None

    # ------------------------------------------------ in the reader's thread

    def _records(self, items):
        report = self.report
        for item in items:
            if item.__class__ is parsers.ParseError:
                report.error_count += 1
                if len(report.errors) < CallImport.MAX_ERRORS_KEPT:
                    report.errors.append({"line": item.line, "message": item.message})
                report.lines = max(report.lines, item.line)
                continue
            self.records += 1
            report.lines = item.line
            yield item

    def _batches(self, fileobj) -> Iterator[dict[str, tuple]]:
        calls = parsers.group_calls(self._records(parsers.parse(fileobj, self.config)))
        size = min(2_000, self.batch_size)  # a small first batch: the database starts sooner
        while batch := list(islice(calls, size)):
            yield self._prepared(batch)
            size = self.batch_size

    def _prepared(self, batch: list[parsers.Call]) -> dict[str, tuple]:
        """key → (call, its COPY text up to the matching columns, or None
        where there is no COPY)."""
        by_key: dict[str, parsers.Call] = {}
        first, last = self.first_start, self.last_start
        for call in batch:
            key = _call_key(call.key)
            earlier = by_key.get(key)
            if earlier is not None:  # a leg that came late: one call again
                known = {leg.key for leg in earlier.legs}
                legs = earlier.legs + [leg for leg in call.legs if leg.key not in known]
                call = parsers.merge_legs(key, legs)
            by_key[key] = call
            if first is None or call.started_at < first:
                first = call.started_at
            if last is None or call.ended_at > last:
                last = call.ended_at
        self.first_start, self.last_start = first, last
        if not self.postgres:
            return {key: (call, None, None) for key, call in by_key.items()}
        if not self.matcher.complete:  # the import's thread reads leads, matches
            return {key: (call, self._copy_head(key, call), None) for key, call in by_key.items()}
        match = self.matcher.match
        prepared = {}
        for key, call in by_key.items():
            matched = match(call)
            prepared[key] = (call, self._copy_head(key, call) + _copy_tail(matched), matched)
        return prepared

    def _copy_head(self, key: str, call: parsers.Call) -> str:
        """CALL_COLUMNS up to legs, as COPY text, with a tab after (the
        matching columns follow: _copy_tail)."""
        escape = copy_escape
        legs = call.legs
        if len(legs) == 1:  # most calls: the call's times are its leg's
            (main,) = legs
            started = call.started_at.isoformat()
            ended = call.ended_at.isoformat()
            answered = call.answered_at.isoformat() if call.answered_at else None
            leg_answered = main.answered_at  # not the call's when not answered
            if leg_answered is not None:
                leg_answered = (
                    answered if leg_answered is call.answered_at else leg_answered.isoformat()
                )
            legs_json = f"[{leg_text(main, started, leg_answered, ended)}]"
        else:
            main = parsers._main_leg(legs)
            texts = {}
            started = _iso(call.started_at, texts)
            ended = _iso(call.ended_at, texts)
            answered = _iso(call.answered_at, texts)
            legs_json = _legs_text(call, texts)
        if answered is None:
            answered = ring = NULL
        else:
            ring = max(0, round((call.answered_at - call.started_at).total_seconds()))
        # JSON escapes control characters; its backslashes are COPY's to escape.
        legs_json = legs_json.replace("\\", "\\\\")
        return (
            f"{self.store_id}\t{escape(key)}\t{escape((main.uniqueid or '')[:80])}\t"
            f"{self.source}\t{self.report.pk}\t{started}\t{answered}\t{ended}\t"
            f"{call.duration}\t{call.billsec}\t{ring}\t{call.disposition}\t"
            f"{call.direction}\t{escape((call.extension or '')[:20])}\t"
            f"{call.external_number or ''}\t{escape((call.external_raw or '')[:40])}\t"
            f"{legs_json}\t"
        )

    @cached_property
    def source(self) -> str:
        return NULL if self.report.source_id is None else str(self.report.source_id)

    # ------------------------------------------------ in the import's thread

    def run(self, fileobj) -> None:
        report = self.report
        timings = self.timings
        if self.postgres:
            # A big file: the leads read first, then the reader matches too
            # and this thread only writes (rows of some 300 bytes a line).
            clock = time.perf_counter()
            self.matcher.read_all_if(self.report.file_size // 300)
            timings["match"] += time.perf_counter() - clock
        reader = _Reader(lambda: self._batches(fileobj))
        with self._checked_as_written(), _no_collections():
            for batch in reader:
                clock = time.perf_counter()
                self._store(batch)
                timings["store"] += time.perf_counter() - clock
        timings["parse"] = reader.busy
        timings["wait"] = reader.waited
        timings["store"] -= timings["match"] + timings["lookup"]
        report.duplicates = self.records - report.imported
        if report.calls or report.imported:
            self._match()
            from telephony import verification

            clock = time.perf_counter()
            verification.verify_store_period(
                store_id=self.store_id,
                since=self.first_start,
                until=self.last_start,
            )
            timings["verify"] = time.perf_counter() - clock
        log.info(
            "call-log import %s: %s lines, %s new calls; %s",
            report.pk,
            report.lines,
            report.calls,
            ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items()),
        )

    @contextmanager
    def _checked_as_written(self):
        """On PostgreSQL, the calls' foreign keys (deferred to the commit, as
        Django declares them) checked at the end of each COPY instead: while
        the reader parses the next batch, not all at once in the commit
        after it has finished (a million rows: some four million checks)."""
        if not self.postgres:
            yield
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT string_agg(quote_ident(conname), ', ') FROM pg_constraint"
                " WHERE conrelid = 'telephony_call'::regclass AND contype = 'f'"
                " AND condeferrable"
            )
            (names,) = cursor.fetchone()
        if not names:
            yield
            return
        with connection.cursor() as cursor:
            cursor.execute(f"SET CONSTRAINTS {names} IMMEDIATE")
        yield
        with connection.cursor() as cursor:
            cursor.execute(f"SET CONSTRAINTS {names} DEFERRED")

    def _store(self, batch: dict[str, tuple]) -> None:
        report = self.report
        clock = time.perf_counter()
        stored = self._stored(list(batch))
        self.timings["lookup"] += time.perf_counter() - clock
        new = []
        for key, (call, text, matched) in batch.items():
            if key in stored:
                self._merge(key, call, stored[key])
                continue
            new.append((key, call, text, matched))
            report.imported += len(call.legs)
            report.calls += 1
        if not new:
            return
        if not self.postgres:
            self.matcher.prepare(call.external_number for _key, call, _text, _m in new)
            copy_rows(Call, CALL_COLUMNS, self._rows(new))
            return
        if new[0][3] is None:  # heads only: match here
            clock = time.perf_counter()
            self.matcher.prepare(call.external_number for _key, call, _text, _m in new)
            self.timings["match"] += time.perf_counter() - clock
            match = self.matcher.match
            new = [(key, call, text, match(call)) for key, call, text, _m in new]
            lines = [text + _copy_tail(matched) for _key, _call, text, matched in new]
        else:
            lines = [text for _key, _call, text, _matched in new]
        for _key, _call, _text, matched in new:
            self._count(*matched)
        copy_text(Call, CALL_COLUMNS, lines)

    def _stored(self, keys: list[str]) -> dict[str, tuple]:
        """key → (pk, its legs' keys, call_import_id, agent_id, lead_id,
        extension, external_number) of the store's calls with these keys."""
        if self.postgres:
            # The legs' keys only: a re-import finds every call, and reading
            # a million calls' legs into Python costs more than the import.
            with connection.cursor() as cursor:
                # The keys as one string, split by the server: cheaper than
                # an array of 20,000 parameters (keys are one line of a file
                # each, so they hold no line break).
                cursor.execute(
                    "SELECT key, id, ARRAY(SELECT leg->>'key' FROM jsonb_array_elements(legs) leg),"
                    " call_import_id, agent_id, lead_id, extension, external_number"
                    " FROM telephony_call"
                    " WHERE store_id = %s AND key = ANY(string_to_array(%s, E'\\n'))",
                    [self.store_id, "\n".join(keys)],
                )
                return {row[0]: row[1:] for row in cursor.fetchall()}
        rows = Call.objects.filter(store_id=self.store_id, key__in=keys).values_list(
            "key", "pk", "legs", "call_import_id", "agent", "lead", "extension", "external_number"
        )
        return {key: (pk, [leg["key"] for leg in legs], *rest) for key, pk, legs, *rest in rows}

    def _count(self, extension, number, agent, lead, _new_caller=None, sign: int = 1) -> None:
        """One call in the report's match counts (sign -1: out again)."""
        if lead is not None:
            self.matched += sign
        elif number:
            self.unmatched += sign
        if agent is None and extension:
            self.unknown += sign

    def _rows(self, new):
        """CALL_COLUMNS values of new calls (where there is no COPY)."""
        report = self.report
        for key, call, _text, _matched in new:
            fields = _call_fields(call)
            matched = self.matcher.match(call)
            self._count(*matched)
            _extension, _number, agent, lead, new_caller = matched
            fields.update(
                store_id=self.store_id,
                key=key,
                source_id=report.source_id,
                call_import_id=report.pk,
                new_caller=new_caller,
                legs=_legs_text(call, {}),
                agent_id=agent,
                lead_id=lead,
            )
            yield [fields[name] for name in CALL_COLUMNS]

    def _merge(self, key: str, call: parsers.Call, stored: tuple) -> None:
        pk, leg_keys, call_import_id, agent, lead, extension, number = stored
        known = set(leg_keys)
        new = [leg for leg in call.legs if leg.key not in known]
        if not new:
            return
        stored_legs = Call.objects.filter(pk=pk).values_list("legs", flat=True).get()
        merged = parsers.merge_legs(key, [leg_from_json(data) for data in stored_legs] + new)
        if call_import_id == self.report.pk:  # written (and counted) by this import
            self._count(extension, number, agent, lead, sign=-1)
        self.matcher.prepare([merged.external_number])
        fields = _call_fields(merged)
        matched = self.matcher.match(merged)
        self._count(*matched)
        _extension, _number, agent, lead, new_caller = matched
        fields.update(call_import_id=self.report.pk, agent_id=agent, lead_id=lead)
        if new_caller:  # never unset: a first-time caller stays one
            fields["new_caller"] = True
        Call.objects.filter(pk=pk).update(**fields)
        self.report.imported += len(new)

    def _match(self) -> None:
        """Once every call is written: the report's match counts (the calls
        were matched as they were written) and, after a big import on
        PostgreSQL, fresh planner statistics for the calls table, which the
        verification that follows (and every page) plans its queries by.
        ANALYZE's lock is held to the commit: a big import of another store
        waits for it there."""
        report = self.report
        report.matched_leads = self.matched
        report.unmatched = self.unmatched
        report.unknown_extensions = self.unknown
        if self.postgres and report.calls >= 10_000:
            clock = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples FROM pg_class WHERE oid = 'telephony_call'::regclass"
                )
                (known,) = cursor.fetchone()
                # As autovacuum would, once a tenth of the table is new; it
                # cannot yet, the rows being this transaction's.
                if report.calls > 0.1 * max(known, 0):
                    # The columns queries filter and join on (not the legs:
                    # statistics of a million JSON documents cost seconds).
                    cursor.execute(
                        "ANALYZE telephony_call (store_id, started_at, ended_at, agent_id,"
                        " lead_id, disposition, direction, extension, external_number,"
                        " new_caller, call_import_id)"
                    )
            self.timings["statistics"] = time.perf_counter() - clock


# ---------------------------------------------------------------- matching


def staff_at(*, store_ref="store", extension_ref="extension", moment_ref="started_at"):
    """Subquery: who had the extension at the moment (OuterRef names)."""
    return Subquery(
        ExtensionAssignment.objects.filter(
            store=OuterRef(store_ref), extension=OuterRef(extension_ref)
        )
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=OuterRef(moment_ref)))
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=OuterRef(moment_ref)))
        .order_by(F("valid_from").desc(nulls_last=True))
        .values("staff_id")[:1]
    )


def lead_for_number(*, store_ref="store", number_ref="external_number", moment_ref="ended_at"):
    """Subquery: the lead a call with this number belongs to, by the lead's
    own number first: the latest lead received by the end of the call (a
    lead created during the call counts; calls from before any lead are
    first-time callers)."""
    return Subquery(
        Lead.objects.filter(
            store=OuterRef(store_ref),
            phone=OuterRef(number_ref),
            received_at__lte=OuterRef(moment_ref),
        )
        .order_by("-received_at", "-pk")
        .values("pk")[:1]
    )


def lead_for_other_number(
    *, store_ref="store", number_ref="external_number", moment_ref="ended_at"
):
    """Subquery: as lead_for_number, by the customer's other numbers."""
    return Subquery(
        Lead.objects.filter(
            customer__phones__store=OuterRef(store_ref),
            customer__phones__number=OuterRef(number_ref),
            received_at__lte=OuterRef(moment_ref),
        )
        .order_by("-received_at", "-pk")
        .values("pk")[:1]
    )


def match_calls(calls) -> None:
    """Link calls to staff (extension at the time) and leads (number), in SQL.
    (An import matches its calls as it writes them, by the same rules:
    _Matcher.)"""
    calls.exclude(extension="").update(agent_id=staff_at())
    with_number = calls.exclude(external_number="")
    with_number.update(lead_id=lead_for_number())
    with_number.filter(lead__isnull=True).update(lead_id=lead_for_other_number())
    with_number.filter(direction=Direction.INBOUND, lead__isnull=True).update(new_caller=True)


LINK_BACK = timedelta(days=7)
LINK_CHUNK = 1000


def link_calls_to_leads(leads: list[Lead]) -> int:
    """Calls from each new lead's number in the week before it was entered
    that no lead claims (a first-time caller who became this lead) now
    belong to it. One UPDATE per store and thousand leads, so an import of
    20,000 leads links like one typed in."""
    linked = 0
    by_store: dict[int, list[Lead]] = {}
    for lead in leads:
        by_store.setdefault(lead.store_id, []).append(lead)
    for store_id, store_leads in by_store.items():
        for start in range(0, len(store_leads), LINK_CHUNK):
            chunk = store_leads[start : start + LINK_CHUNK]
            earliest = min(lead.received_at for lead in chunk)
            claimant = (
                Lead.objects.filter(
                    pk__in=[lead.pk for lead in chunk],
                    phone=OuterRef("external_number"),
                    received_at__lte=ExpressionWrapper(
                        OuterRef("started_at") + LINK_BACK, output_field=DateTimeField()
                    ),
                )
                .order_by("-received_at", "-pk")
                .values("pk")[:1]
            )
            linked += Call.objects.filter(
                store_id=store_id,
                external_number__in={lead.phone for lead in chunk},
                lead__isnull=True,
                started_at__gte=earliest - LINK_BACK,
            ).update(lead_id=Subquery(claimant))
    return linked


def rematch_extension(store_id: int, extension: str) -> int:
    """After an assignment changed: re-link that extension's calls."""
    calls = Call.objects.filter(store_id=store_id, extension=extension)
    return calls.update(agent_id=staff_at())


def extension_holders_changed(*, store_id: int, extension: str) -> None:
    """Who had the extension when was corrected (or a holder came or went):
    its calls go to whoever had it at each call, and the follow-ups those
    calls proved are checked again. Every writer of ExtensionAssignment
    calls this (the staff sync below, the admin's corrections)."""
    rematch_extension(store_id, extension)
    verification.reverify_extension(store_id=store_id, extension=extension)


# ---------------------------------------------------------------- extensions


def sync_extension(user) -> None:
    """Keep ExtensionAssignment in step with ``user.extension``: close the
    user's assignments that no longer hold, open one for the current
    extension (since always if nobody had it before, else from now)."""
    now = timezone.now()
    wanted = (user.store_id, user.extension) if user.is_active and user.extension else None
    open_rows = ExtensionAssignment.objects.filter(staff=user, valid_to__isnull=True)
    stale = [row for row in open_rows if (row.store_id, row.extension) != wanted]
    for row in stale:
        row.valid_to = now
        row.save(update_fields=["valid_to"])
        extension_holders_changed(store_id=row.store_id, extension=row.extension)
    if wanted is None or user.store_id is None:
        return
    if any((row.store_id, row.extension) == wanted for row in open_rows):
        return
    current = ExtensionAssignment.objects.filter(
        store_id=user.store_id, extension=user.extension, valid_to__isnull=True
    )
    had_holder = ExtensionAssignment.objects.filter(
        store_id=user.store_id, extension=user.extension
    ).exists()
    current.update(valid_to=now)
    ExtensionAssignment.objects.create(
        store_id=user.store_id,
        extension=user.extension,
        staff=user,
        valid_from=now if had_holder else None,
    )
    extension_holders_changed(store_id=user.store_id, extension=user.extension)


# ---------------------------------------------------------------- folders


def already_imported(store: Store, digest: str) -> bool:
    """A file with this content was imported in full before."""
    return CallImport.objects.filter(
        store=store, file_sha256=digest, status=ImportStatus.DONE
    ).exists()


def import_cdr_folder(
    *, store: Store, folder, pattern: str = "*.csv", source=None, format=None, via="folder"
):
    """Import every call-log file in ``folder`` not imported before (same
    content); yields (path, report or None when skipped). A file that fails
    is reported and the next one goes on."""
    from pathlib import Path

    for path in sorted(Path(folder).glob(pattern)):
        if not path.is_file():
            continue
        with path.open("rb") as fileobj:
            digest, _size = file_digest(fileobj)
            if already_imported(store, digest):
                yield path, None
                continue
            try:
                report = import_cdr(
                    actor=None,
                    store=store,
                    fileobj=fileobj,
                    file_name=str(path),
                    source=source,
                    format=format,
                    via=via,
                )
            except Exception:
                log.exception("call-log import of %s failed", path)
                report = CallImport.objects.filter(store=store, file_sha256=digest).first()
            yield path, report


# ---------------------------------------------------------------- callers


def lead_from_call(*, actor, call: Call) -> Lead:
    """One click on a first-time caller's call: a lead for the number
    (source "inbound", received when the call came in, or now for an agent
    when the call was before today), the call and the number's other
    unclaimed calls linked to it. The name is a placeholder the agent
    completes on the lead page. ``DuplicateLead`` when the number has an
    open lead already."""
    from dcc.timeutils import validate_event_time
    from leads.models import Source
    from leads.services import lead_create

    if not Call.objects.visible_to(actor).filter(pk=call.pk).exists():
        raise PermissionDenied("call outside the actor's scope")
    if not call.external_number or call.direction == Direction.INTERNAL:
        raise ValidationError(_("This call has no customer number."))
    received_at = call.started_at
    try:
        validate_event_time(actor=actor, when=received_at, field="received_at")
    except ValidationError:
        received_at = None  # an agent may not date a lead before today
    lead = lead_create(
        actor=actor,
        store=call.store,
        name=_("Caller %(tail)s") % {"tail": call.external_number[-4:]},
        phone=call.external_number,
        source=Source.INBOUND,
        received_at=received_at,
    )
    # Its other unclaimed calls were linked when the lead was announced;
    # this one may be older than that week.
    Call.objects.filter(pk=call.pk, lead__isnull=True).update(lead=lead)
    return lead
