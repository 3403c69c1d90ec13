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

import hashlib
import logging
from datetime import datetime, timedelta
from itertools import islice

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from dcc.bulk import copy_rows
from dcc.models import Store
from dcc.policy import require
from leads.models import Lead
from telephony import parsers
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


def leg_json(leg: parsers.CallLeg) -> dict:
    data = {name: getattr(leg, name) for name in LEG_FIELDS}
    for name in LEG_TIMES:
        moment = getattr(leg, name)
        data[name] = moment.isoformat() if moment else None
    return data


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
    "new_caller",
    "legs",
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


class _CdrImport:
    def __init__(self, report: CallImport, config: parsers.SourceConfig):
        self.report = report
        self.config = config
        self.store_id = report.store_id
        self.batch_size = 20_000 if connection.vendor == "postgresql" else 2_000
        self.records = 0
        self.first_start = None
        self.last_start = None

    def _records(self, items):
        report = self.report
        for item in items:
            if isinstance(item, parsers.ParseError):
                report.error_count += 1
                if len(report.errors) < CallImport.MAX_ERRORS_KEPT:
                    report.errors.append({"line": item.line, "message": item.message})
                report.lines = max(report.lines, item.line)
                continue
            self.records += 1
            report.lines = item.line
            yield item

    def run(self, fileobj) -> None:
        report = self.report
        calls = parsers.group_calls(self._records(parsers.parse(fileobj, self.config)))
        while batch := list(islice(calls, self.batch_size)):
            self._store(batch)
        report.duplicates = self.records - report.imported
        if report.calls or report.imported:
            self._match()
            from telephony import verification

            verification.verify_store_period(
                store_id=self.store_id,
                since=self.first_start,
                until=self.last_start,
            )

    def _store(self, batch: list[parsers.Call]) -> None:
        report = self.report
        by_key: dict[str, parsers.Call] = {}
        for call in batch:
            key = _call_key(call.key)
            earlier = by_key.get(key)
            if earlier is not None:  # a leg that came late: one call again
                known = {leg.key for leg in earlier.legs}
                legs = earlier.legs + [leg for leg in call.legs if leg.key not in known]
                call = parsers.merge_legs(key, legs)
            by_key[key] = call
            if self.first_start is None or call.started_at < self.first_start:
                self.first_start = call.started_at
            if self.last_start is None or call.ended_at > self.last_start:
                self.last_start = call.ended_at
        stored = {
            key: (pk, legs)
            for key, pk, legs in Call.objects.filter(
                store_id=self.store_id, key__in=list(by_key)
            ).values_list("key", "pk", "legs")
        }
        rows = []
        for key, call in by_key.items():
            if key in stored:
                self._merge(key, call, *stored[key])
                continue
            fields = _call_fields(call)
            fields.update(
                store_id=self.store_id,
                key=key,
                source_id=report.source_id,
                call_import_id=report.pk,
                new_caller=False,
            )
            rows.append([fields[name] for name in CALL_COLUMNS])
            report.imported += len(call.legs)
            report.calls += 1
        copy_rows(Call, CALL_COLUMNS, rows)

    def _merge(self, key: str, call: parsers.Call, pk: int, stored_legs: list) -> None:
        known = {leg["key"] for leg in stored_legs}
        new = [leg for leg in call.legs if leg.key not in known]
        if not new:
            return
        merged = parsers.merge_legs(key, [leg_from_json(data) for data in stored_legs] + new)
        fields = _call_fields(merged)
        fields.update(call_import_id=self.report.pk, agent_id=None, lead_id=None)
        Call.objects.filter(pk=pk).update(**fields)
        self.report.imported += len(new)

    def _match(self) -> None:
        report = self.report
        calls = Call.objects.filter(
            store_id=self.store_id,
            started_at__gte=self.first_start,
            started_at__lte=self.last_start,
            call_import=report,
        )
        match_calls(calls)
        counts = calls.aggregate(
            matched=Count("pk", filter=Q(lead__isnull=False)),
            unmatched=Count("pk", filter=Q(lead__isnull=True) & ~Q(external_number="")),
            unknown=Count("pk", filter=Q(agent__isnull=True) & ~Q(extension="")),
        )
        report.matched_leads = counts["matched"]
        report.unmatched = counts["unmatched"]
        report.unknown_extensions = counts["unknown"]


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
    """Link calls to staff (extension at the time) and leads (number), in SQL."""
    calls.exclude(extension="").update(agent_id=staff_at())
    with_number = calls.exclude(external_number="")
    with_number.update(lead_id=lead_for_number())
    with_number.filter(lead__isnull=True).update(lead_id=lead_for_other_number())
    with_number.filter(direction=Direction.INBOUND, lead__isnull=True).update(new_caller=True)


LINK_BACK = timedelta(days=7)


def link_calls_to_lead(lead: Lead) -> int:
    """Calls from this lead's number in the week before it was entered that
    no lead claims (a first-time caller who became this lead) now belong
    to it."""
    return Call.objects.filter(
        store_id=lead.store_id,
        external_number=lead.phone,
        lead__isnull=True,
        started_at__gte=lead.received_at - LINK_BACK,
    ).update(lead=lead)


def rematch_extension(store_id: int, extension: str) -> int:
    """After an assignment changed: re-link that extension's calls."""
    calls = Call.objects.filter(store_id=store_id, extension=extension)
    return calls.update(agent_id=staff_at())


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
    Call.objects.filter(pk=call.pk, lead__isnull=True).update(lead=lead)
    link_calls_to_lead(lead)
    return lead
