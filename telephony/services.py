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
4. Calls are matched as they are written: extension → staff over the
   assignment's time range, number → lead (the rule of ``match_calls``);
   then follow-ups are verified against them.

Steps 2 to 4 are the bulk-load engine, ``telephony.cdr``.

Imports of one store run one at a time (a lock on the store row).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import DateTimeField, ExpressionWrapper, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from dcc.models import Store
from dcc.pgsettings import pg_settings
from dcc.policy import require
from leads.models import Lead
from telephony import cdr, parsers, verification
from telephony.models import (
    CALL_FORMATS,
    Call,
    CallImport,
    CallSource,
    Direction,
    ExtensionAssignment,
    ImportKind,
    ImportStatus,
    Recording,
)

log = logging.getLogger(__name__)


class ImportRejected(ValueError):
    """The file cannot be imported at all (unknown format, empty upload)."""


class StoreNeeded(ImportRejected):
    """No store named, none of the importer's, and the file's extensions
    name none: the importer must choose (a 400 on ``store``)."""


def source_config(store: Store, source: CallSource | None, format: str | None, fileobj=None):
    """The parser settings: the source's, else the format's reference layout
    in the server's zone with the store's area code. No format: the one the
    file's first lines show (``parsers.detect``), else ImportRejected with
    what the file looks like and what to export instead."""
    if source is not None:
        if source.store_id != store.pk:
            raise ImportRejected(_("This call-log source belongs to another store."))
        try:
            return source.config()
        except (ValueError, LookupError) as error:
            # Settings saved before they were checked: a message, not a 500.
            raise ImportRejected(str(error)) from error
    if not format and fileobj is not None:
        from telephony.parsers.detect import detect_file

        try:
            format = detect_file(fileobj)
        except parsers.FileRejected as error:
            raise ImportRejected(str(error)) from error
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


def require_store(actor, store: Store) -> None:
    """The actor may import into the store (None: the system may)."""
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


def finish_report(report: CallImport, status: str, failure: str = "") -> CallImport:
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
    """Import one call-log file (binary, seekable) into ``store``.

    One PBX may serve a group's stores: each call goes to the store of the
    staff member who had its extension at the time, among the stores the
    importer may import into (``telephony.cdr.stores``); ``store`` (the
    source's) keeps the calls of extensions nobody had. ``store`` None: the
    store the file's extensions name (a group administrator's upload);
    StoreNeeded when they name none."""
    if store is None and source is not None:
        store = source.store
    if store is None:
        config = source_config(Store(area_code=""), None, format, fileobj)
        store = cdr.home_store(actor, fileobj, config)
        if store is None:
            raise StoreNeeded(
                _(
                    "None of the file's extensions belonged to anyone in your stores at the "
                    "time of its calls: choose the store to import into."
                )
            )
    require_store(actor, store)
    config = source_config(store, source, format, fileobj)
    if config.format not in CALL_FORMATS:
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
        # JIT off: the import's statements are many and short (COPY, index
        # probes); compiling them costs more than it saves. The commit does
        # not wait for its WAL to reach the disk (a crash in the next split
        # second loses the import, and its report with it: never half of it).
        with transaction.atomic(), pg_settings(jit="off", synchronous_commit="off"):
            Store.objects.select_for_update().get(pk=store.pk)
            cdr.CdrImport(report, config, group=True, actor=actor).run(fileobj)
    except parsers.FileRejected as error:
        # Nothing of the file was kept; the uploader is told why (a 400).
        finish_report(report, ImportStatus.FAILED, str(error))
        raise ImportRejected(str(error)) from error
    except BaseException as error:
        # The transaction is rolled back: nothing of the file was kept.
        finish_report(report, ImportStatus.FAILED, f"{type(error).__name__}: {error}")
        raise
    return finish_report(report, ImportStatus.DONE)


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
    return calls.update(agent_id=cdr.staff_at())


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


ROTATED_PATTERN = "*.csv*"


def rotation_order(paths) -> list:
    """Call logs oldest first: logrotate's ``Master.csv.2``, ``Master.csv.1``
    (a higher number is older), then dated ``Master.csv-20261102``,
    ``Master.csv-20261103``, then the live ``Master.csv``; other names by
    name."""
    import re

    def key(path):
        name = path.name
        numbered = re.match(r"^(.*\.csv)\.(\d+)(\.gz)?$", name)
        if numbered:
            return (numbered.group(1), 0, -int(numbered.group(2)), "")
        dated = re.match(r"^(.*\.csv)-(\d{8,10})(\.gz)?$", name)
        if dated:
            return (dated.group(1), 1, 0, dated.group(2))
        return (name, 2, 0, "")

    return sorted(paths, key=key)


def import_cdr_folder(
    *, store: Store, folder, pattern: str = ROTATED_PATTERN, source=None, format=None, via="folder"
):
    """Import every call-log file in ``folder`` not imported before (same
    content), rotated logs oldest first (``rotation_order``); yields (path,
    report or None when skipped). A file that fails is reported and the next
    one goes on. The default pattern matches ``Master.csv``, ``*.csv`` and
    the rotated ``Master.csv-20261103`` and ``Master.csv.1``."""
    from pathlib import Path

    for path in rotation_order(Path(folder).glob(pattern)):
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


def move_calls_of_merged_lead(*, keep: Lead, merge: Lead) -> dict[str, int]:
    """The calls and recordings of a lead closed as merged belong to the lead
    kept (``leads.events.leads_merged``; bulk, in the merge's transaction)."""
    return {
        "calls": Call.objects.filter(lead=merge).update(lead=keep),
        "recordings": Recording.objects.filter(lead=merge).update(lead=keep),
    }
