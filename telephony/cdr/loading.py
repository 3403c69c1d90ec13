"""Loading a call-log file into one store (``import_cdr``'s engine).

:class:`CdrImport` writes each new call once, already matched (Matcher), with
COPY on PostgreSQL (executemany elsewhere), while a reader thread (Reader)
parses the next batch; calls already stored (by key) are found and merged;
then the report's counts, fresh planner statistics after a big import, and
the follow-ups verified.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from django.db import connection

from dcc.bulk import copy_escape, copy_rows, copy_text
from telephony import events, parsers
from telephony.cdr import stores
from telephony.cdr.legs import (
    KEY_AT,
    call_legs_text,
    iso,
    leg_from_json,
    leg_json,
    leg_text,
    legs_text,
)
from telephony.cdr.matching import Matcher
from telephony.cdr.reading import Reader, batches, no_collections
from telephony.models import Call, CallImport
from telephony.parsers import card_index

log = logging.getLogger(__name__)

KEY_LENGTH = Call._meta.get_field("key").max_length


def _call_key(key: str) -> str:
    if len(key) <= KEY_LENGTH:
        return key
    return "h:" + hashlib.blake2b(key.encode(), digest_size=24).hexdigest()


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
    "wait_seconds",
    "answered_by",
    "rang_extensions",
    "queue",
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


def _call_fields(call: parsers.Call) -> dict:
    main = parsers.main_leg(call.legs)
    return {
        "uniqueid": (main.uniqueid or "")[:80],
        "started_at": call.started_at,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "duration": call.duration,
        "billsec": call.billsec,
        "ring_seconds": call.ring_seconds,
        "wait_seconds": call.wait_seconds,
        "answered_by": call.answered_by,
        "rang_extensions": list(call.rang_extensions),
        "queue": call.queue,
        "disposition": call.disposition,
        "direction": call.direction,
        "extension": (call.extension or "")[:20],
        "external_number": call.external_number or "",
        "external_raw": (call.external_raw or "")[:40],
        "legs": [leg_json(leg) for leg in call.legs],
    }


NULL = "\\N"  # COPY's null


def _copy_tail(matched: tuple) -> str:
    """The matching columns (new_caller, agent_id, lead_id) as COPY text,
    ending the line: after CdrImport._copy_head."""
    _extension, _number, agent, lead, new_caller = matched
    return (
        f"{'t' if new_caller else 'f'}\t{NULL if agent is None else agent}\t"
        f"{NULL if lead is None else lead}\n"
    )


class CdrImport:
    """One file into one store, in one transaction (import_cdr).

    A reader thread (Reader) reads, parses and groups the file into batches
    of calls, each call with its row as COPY text but for the matching
    columns; meanwhile the import stores the previous batch: the calls are
    looked up by key (a re-import finds them all and writes nothing), the new
    ones matched (Matcher) and written with one COPY on PostgreSQL
    (executemany elsewhere); a stored call that gets new legs is merged and
    matched again. So Python parses while the database writes. Then
    follow-ups are verified.
    """

    def __init__(
        self, report: CallImport, config: parsers.SourceConfig, *, group=False, actor=None
    ):
        self.report = report
        # One PBX for a group's stores: calls move to the store of whoever
        # had their extension, among the stores ``actor`` may import into.
        self.group = group
        self.actor = actor
        self.config = config
        self.store_id = report.store_id
        self.postgres = connection.vendor == "postgresql"
        self.batch_size = 20_000 if self.postgres else 2_000
        self.matcher = Matcher(self.store_id, chunk=5_000 if self.postgres else 500)
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
        # PostgreSQL: the keys this import has written, and whether the store
        # had calls before it. Only a key in one or the other can be stored
        # already: a first import into a store looks up only the keys it
        # wrote itself (a late leg), never the calls table batch after batch.
        self.written: set[str] = set()
        self.had_calls = True

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
        items = parsers.parse(fileobj, self.config)
        if self.config.format == "card_index":  # a recording card's index: its calls
            items = card_index.call_legs(items)
        calls = parsers.group_calls(self._records(items))
        for batch in batches(calls, self.batch_size):
            yield self._prepared(batch)

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
            main = parsers.main_leg(legs)
            texts = {}
            started = iso(call.started_at, texts)
            ended = iso(call.ended_at, texts)
            answered = iso(call.answered_at, texts)
            legs_json = call_legs_text(call, texts)
        if answered is None:
            answered = NULL
        ring = call.ring_seconds
        if ring is None:
            ring = NULL
        wait = call.wait_seconds
        if wait is None:
            wait = NULL
        rang = call.rang_extensions
        rang = f'["{rang[0]}"]' if len(rang) == 1 and rang[0].isdigit() else legs_text(list(rang))
        # JSON escapes control characters; its backslashes are COPY's to escape.
        legs_json = legs_json.replace("\\", "\\\\")
        return (
            f"{self.store_id}\t{escape(key)}\t{escape((main.uniqueid or '')[:80])}\t"
            f"{self.source}\t{self.report.pk}\t{started}\t{answered}\t{ended}\t"
            f"{call.duration}\t{call.billsec}\t{ring}\t{wait}\t{call.answered_by}\t"
            f"{escape(rang)}\t{escape(call.queue)}\t{call.disposition}\t"
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
            self.had_calls = self._store_has_calls()
        reader = Reader(lambda: self._batches(fileobj))
        with self._checked_as_written(), no_collections():
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
            moved = stores.rehome(self.actor, report) if self.group and report.calls else {}
            clock = time.perf_counter()
            events.calls_imported.send(
                sender=Call,
                store_id=self.store_id,
                since=self.first_start,
                until=self.last_start,
                call_import=report,
            )
            for store_id, (since, until) in moved.items():
                events.calls_imported.send(
                    sender=Call, store_id=store_id, since=since, until=until, call_import=report
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

    def _store_has_calls(self) -> bool:
        """Whether the store had any call before this import (its row lock,
        taken by import_cdr, keeps other imports of the store out)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM telephony_call WHERE store_id = %s)",
                [self.store_id],
            )
            return cursor.fetchone()[0]

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
        self.written.update(key for key, _call, _text, _matched in new)
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
            if not self.had_calls:  # only this import's calls can be stored
                written = self.written
                keys = [key for key in keys if key in written]
                if not keys:
                    return {}
            # The legs' keys only: a re-import finds every call, and reading
            # a million calls' legs into Python costs more than the import.
            # One probe of the (store, key) index per key (the subquery,
            # kept apart by OFFSET 0, is run per key): never a scan of the
            # calls table, which a planner may otherwise choose for 20,000
            # keys while the table is small (and the import is growing it).
            with connection.cursor() as cursor:
                # The keys as one string, split by the server: cheaper than
                # an array of 20,000 parameters (keys are one line of a file
                # each, so they hold no line break).
                cursor.execute(
                    "SELECT c.key, c.id,"
                    # A leg's key: its place in a stored leg (legs.LEG_KEYS), or
                    # its name in a leg stored as an object before.
                    " ARRAY(SELECT coalesce(leg->>%s, leg->>'key')"
                    " FROM jsonb_array_elements(c.legs) leg),"
                    " c.call_import_id, c.agent_id, c.lead_id, c.extension, c.external_number"
                    " FROM unnest(string_to_array(%s, E'\\n')) AS wanted (key)"
                    " CROSS JOIN LATERAL (SELECT * FROM telephony_call"
                    " WHERE store_id = %s AND key = wanted.key OFFSET 0) c",
                    [KEY_AT, "\n".join(keys), self.store_id],
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
                legs=call_legs_text(call, {}),
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
