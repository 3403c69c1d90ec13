"""Import of leads from the files dealerships receive (DESIGN §2 "Sources":
网络投放潜客 arrive as a spreadsheet): the product's own template, and the
exports of OEM DMS/CRM systems, car portals and ad platforms (.xlsx, .xls,
.csv in UTF-8 or GBK; ``leads.import_files``). The one place import rules
live: the pages, the API and the Celery task only hand over the file.

A row obeys the rules of ``leads.services.lead_create`` (first entry wins,
the back-entry rule, who may name an owner), but the file is handled as a
whole, because an import of 100,000 rows must take a minute, not an hour:

1. read the file once (``import_files.read_table``);
2. map its header: an explicit mapping (the mapping step), else the store's
   import profile with the same header signature, else the header aliases
   (``leads.aliases``); a column set aside (kept in the note, ignored) never
   stops a file, an unknown one does (the page asks first);
3. resolve every lookup in one query each: channels and vehicle models with
   their aliases, named owners, open leads of the file's phones, customers
   known by those phones;
4. validate each row, collecting every error as (row, field, message);
5. set duplicates aside: a phone with an open lead in the store, or a phone
   repeated in the file (its first valid row wins);
6. unless some row failed and a partial import was not asked for, create
   customers, their phones and the leads with ``dcc.bulk.bulk_insert``
   (history rows carry the importer), in ONE transaction, and record each
   duplicate attempt and a summary as ``AuditEvent`` rows. A rejected or
   cancelled file writes nothing but its summary and its history row
   (``LeadImport``).

Large files run in a Celery task (``start_import`` → ``leads.tasks``) that
reports its progress on the ``LeadImport`` row and can be cancelled until
its transaction commits. A manager may undo an import for ``UNDO_DAYS``
days (``undo_import``).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from openpyxl.worksheet.datavalidation import DataValidation
from simple_history.utils import bulk_update_with_history

from dcc import audit, xlsx
from dcc.bulk import build, bulk_insert
from dcc.models import Store, User
from dcc.policy import SELF_OWNING_ROLES, can, require
from dcc.timeutils import in_range, range_message, validate_event_time
from dcc.validators import check_text
from leads import distribution, events, phones
from leads.aliases import Resolver, Unknown, header_aliases, normalize_header, unknown_message
from leads.import_files import SHEET_TITLE as SHEET_TITLE
from leads.import_files import ImportFileError, read_bytes, read_table
from leads.models import (
    Channel,
    Customer,
    CustomerPhone,
    ImportProfile,
    ImportStatus,
    Lead,
    LeadField,
    LeadImport,
    Level,
    Source,
    Status,
    VehicleModel,
)
from leads.phones_fast import mainland_digits
from leads.services import check_owner, first_contact_due, is_full_name

__all__ = ["ImportFileError", "lead_import", "start_import", "undo_import"]

logger = logging.getLogger(__name__)

HELP_SHEET_TITLE = "填写说明"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEMPLATE_FILENAME = "lead-import-template.xlsx"
CHANGE_REASON = "Excel import"
MAX_ROWS = 100_000
# The template's drop-down lists reach this far down.
TEMPLATE_ROWS = 20_000
# Files larger than this run in the background (a Celery task); smaller
# ones within the request.
BACKGROUND_BYTES = 512 * 1024
# Rows per INSERT; SQLite lowers it further to its parameter limit.
BATCH_SIZE = 1000
# Phones per ``IN (…)`` lookup: well under SQLite's (32,766) and
# PostgreSQL's (65,535) parameter limits.
LOOKUP_CHUNK = 10_000
# Rows created per step of the one transaction (progress and cancellation
# are checked between steps).
CREATE_CHUNK = 10_000
# Rows validated between two progress reports.
PROGRESS_EVERY = 5_000
# A manager may undo an import this many days after it ran.
UNDO_DAYS = 7
# Rows the mapping step shows of each column.
SAMPLE_ROWS = 5
# What a person did to a lead, seen from leads: these reverse relations
# (follow-ups, visits, deals) and any change in the lead's own history.
TOUCHING_RELATIONS = ("followups", "appointments", "deals")


@dataclass(frozen=True)
class Column:
    field: str  # the API field name, also the English header alias
    header: str  # the template's Chinese header
    required: bool = False
    width: int = 14


COLUMNS = (
    Column("name", "姓名", required=True, width=12),
    Column("phone", "手机号", required=True, width=16),
    Column("source", "来源", width=12),
    Column("channel", "渠道", width=16),
    Column("intended_model", "意向车型", width=16),
    Column("level", "意向级别", width=10),
    Column("received_at", "留资时间", width=19),
    Column("expected_purchase_date", "预计购车日期", width=14),
    Column("owner", "负责人", width=12),
    Column("note", "备注", width=40),
)
_BY_FIELD = {c.field: c for c in COLUMNS}
SET_ASIDE = (LeadField.KEEP_IN_NOTE.value, LeadField.IGNORE.value)
MAPPABLE = {c.field for c in COLUMNS} | set(SET_ASIDE)
_CUSTOMER_NAME_MAX = Customer._meta.get_field("name").max_length
_LEVELS = frozenset(Level.values)
# What a duplicate report needs of the lead that kept the phone.
_OPEN_LEAD_FIELDS = (
    "pk",
    "phone",
    "owner__name",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
)


class ImportCancelled(Exception):
    """The person who started an import cancelled it."""


@dataclass(frozen=True)
class RowError:
    row: int  # the file's row number; the header is row 1
    field: str  # the API field name
    message: str

    @property
    def column(self) -> str:
        """The template's header of the field, for people: 手机号 (phone)."""
        column = _BY_FIELD.get(self.field)
        return f"{column.header} ({column.field})" if column else self.field


@dataclass
class DuplicateRow:
    """A row not created because its phone already has a lead: an open lead
    of the store, or (``first_row`` set) a lead from an earlier row of the file."""

    row: int
    phone: str  # E.164
    name: str
    existing_lead_id: int | None
    owner_id: int | None
    owner_name: str
    first_row: int | None = None

    @property
    def phone_masked(self) -> str:
        return phones.masked(self.phone)


@dataclass
class ImportResult:
    store: Store
    rows: int = 0  # data rows read (blank rows are not counted)
    created: int = 0
    duplicates: list[DuplicateRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # True when errors stopped an all-or-nothing import: nothing was created.
    rejected: bool = False
    profile: ImportProfile | None = None
    record: LeadImport | None = None

    @property
    def duplicate_count(self) -> int:
        return len(self.duplicates)

    @property
    def profile_id(self) -> int | None:
        return self.profile.pk if self.profile else None


@dataclass
class _Row:
    row: int
    name: str
    phone: str
    source: str
    channel: Channel | None
    intended_model: VehicleModel | None
    level: str
    received_at: datetime
    expected_purchase_date: date | None
    owner: User | None
    note: str
    customer: Customer | None = None
    lead: Lead | None = None


# ---------------------------------------------------------------- columns


@dataclass
class PlannedColumn:
    index: int
    header: str  # as written in the file
    key: str  # normalised
    field: str | None  # a LeadField value; None: unknown
    samples: list[str] = field(default_factory=list)


def header_signature(header: Sequence) -> str:
    """What identifies a layout: its normalised, non-empty headers in order."""
    keys = [normalize_header(value) for value in header]
    return hashlib.sha256("\x1f".join(k for k in keys if k).encode()).hexdigest()


def find_profile(store: Store, header: Sequence) -> ImportProfile | None:
    return (
        ImportProfile.objects.filter(store=store, signature=header_signature(header))
        .order_by("-updated_at")
        .first()
    )


def plan_columns(
    header: Sequence, *, mapping: dict | None = None, mappable=MAPPABLE
) -> list[PlannedColumn]:
    """Each non-empty header cell and the field it holds: ``mapping``
    (normalised header -> field) first, then the aliases; a field outside
    ``mappable`` (the owner import's own, say) reads as unknown."""
    aliases = header_aliases()
    mapping = mapping or {}
    planned = []
    for index, value in enumerate(header):
        key = normalize_header(value)
        if not key:
            continue
        chosen = mapping.get(key) or aliases.get(key)
        planned.append(
            PlannedColumn(
                index=index,
                header=_text(value),
                key=key,
                field=chosen if chosen in mappable else None,
            )
        )
    return planned


@dataclass
class Inspection:
    """What the mapping step shows of a file."""

    header: tuple
    columns: list[PlannedColumn]
    profile: ImportProfile | None

    @property
    def unknown(self) -> list[PlannedColumn]:
        return [c for c in self.columns if c.field is None]

    @property
    def missing(self) -> list[Column]:
        mapped = {c.field for c in self.columns}
        return [c for c in COLUMNS if c.required and c.field not in mapped]


def inspect_file(
    data: bytes, *, store: Store, profile: ImportProfile | None = None, mappable=MAPPABLE
) -> Inspection:
    """The header, a few sample values per column and the mapping proposed
    (the profile named or found by the header, else the aliases); an owner
    file (``leads.owners``) passes its own fields."""
    header, table = read_table(data, max_rows=MAX_ROWS, limit=SAMPLE_ROWS)
    profile = profile or find_profile(store, header)
    columns = plan_columns(header, mapping=profile.mapping if profile else None, mappable=mappable)
    for column in columns:
        column.samples = [
            _text(values[column.index])
            for _number, values in table
            if column.index < len(values) and _text(values[column.index])
        ]
    return Inspection(header=header, columns=columns, profile=profile)


def save_profile(
    *,
    actor,
    store: Store,
    name: str,
    header: Sequence,
    mapping: dict,
    day_first: bool,
    mappable=MAPPABLE,
    capability: str = "leads.import",
) -> ImportProfile:
    """Create or update the store's profile ``name`` for this header. The
    owner import (``leads.owners``) passes its own fields and capability."""
    require(actor, capability)
    name = name.strip()
    check_text(name=name)
    keys = {normalize_header(v) for v in header} - {""}
    clean = {k: v for k, v in mapping.items() if k in keys and v in mappable}
    profile, _created = ImportProfile.objects.update_or_create(
        store=store,
        name=name,
        defaults={
            "signature": header_signature(header),
            "headers": [_text(v) for v in header],
            "mapping": clean,
            "day_first": day_first,
            "created_by": actor,
        },
    )
    audit.record(
        "leads.import.profile_saved", actor=actor, target=profile, store=store, profile_name=name
    )
    return profile


# ---------------------------------------------------------------- the service


def lead_import(
    *,
    actor,
    file,
    store: Store | None = None,
    partial: bool = False,
    filename: str = "",
    profile: ImportProfile | None = None,
    mapping: dict | None = None,
    day_first: bool | None = None,
    record: LeadImport | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import the leads of an uploaded file into ``store`` (default: the
    actor's own). Row problems are reported, not raised; an unreadable file
    raises ``ImportFileError``, a wrong role ``PermissionDenied``, a store
    the actor cannot reach a ``ValidationError`` on ``store``; a cancelled
    import ``ImportCancelled`` (nothing written)."""
    require(actor, "leads.import")
    store = _resolve_store(actor, store)
    clock = time.perf_counter()
    data = read_bytes(file)
    header, table = read_table(data, max_rows=MAX_ROWS)
    timings = {"read": time.perf_counter() - clock}
    if profile is not None and profile.store_id != store.pk:
        raise ValidationError({"profile": _("This profile belongs to another store.")})
    if profile is None and mapping is None:
        profile = find_profile(store, header)
    if mapping is None and profile is not None:
        mapping = profile.mapping
    if day_first is None:
        day_first = bool(profile and profile.day_first)
    importer = _Importer(actor=actor, store=store, day_first=day_first, progress=progress)
    clock = time.perf_counter()
    rows = importer.parse(header, table, mapping=mapping)
    timings["checked"] = time.perf_counter() - clock
    del table
    clock = time.perf_counter()
    # The unique constraints (one open lead per phone, one customer per
    # phone) are the final arbiter: if someone enters one of the file's phones
    # between our duplicate check and our insert, the whole transaction rolls
    # back; the second attempt sees their lead and reports the row as a
    # duplicate. A second collision in a row is raised, not looped on.
    options = {
        "partial": partial,
        "filename": filename,
        "profile": profile,
        "record": record,
        "mapping": importer.mapping,
        "day_first": day_first,
    }
    try:
        with transaction.atomic():
            result = importer.apply(rows, **options)
    except IntegrityError:
        logger.info("lead import into store %s: a phone was entered meanwhile, retrying", store.pk)
        for row in rows:
            row.customer = row.lead = None
        with transaction.atomic():
            result = importer.apply(rows, **options)
    timings["written"] = time.perf_counter() - clock
    logger.info(
        "lead import %s: %s rows, %s",
        result.record.pk if result.record else None,
        result.rows,
        ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in timings.items()),
    )
    return result


def _resolve_store(actor, store: Store | None) -> Store:
    store = store or actor.store
    if store is None:
        raise ValidationError({"store": _("Choose the store to import into.")})
    if not Store.objects.visible_to(actor).filter(pk=store.pk).exists():
        raise ValidationError({"store": _("You cannot import into this store.")})
    return store


def _text(value) -> str:
    """A cell as text: numbers typed into text columns lose Excel's ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def parse_record(
    *, actor, store: Store, record: dict, mapping: dict | None = None, day_first: bool = False
) -> tuple[_Row | None, list[dict]]:
    """One lead pushed by a sender (``leads.connectors``), its field names
    read as a file's header and its values as one row: the same mapping
    (a profile's, then the aliases), lookups and checks as an import.
    Returns the row (None if refused) and the errors ``[{"field", "message"}]``."""
    importer = _Importer(actor=actor, store=store, day_first=day_first)
    rows = importer.parse(tuple(record), [(1, tuple(record.values()))], mapping=mapping)
    errors = [{"field": error.field, "message": error.message} for error in importer.errors]
    if not rows and not errors:
        errors.append({"field": "phone", "message": _("Nothing to read in the push.")})
    return (rows[0] if rows and not errors else None), errors


# ---------------------------------------------------------------- in the background


def start_import(
    *,
    actor,
    file,
    store: Store | None = None,
    partial: bool = False,
    filename: str = "",
    profile: ImportProfile | None = None,
    mapping: dict | None = None,
    day_first: bool | None = None,
) -> LeadImport:
    """Queue the import of a (large) file: its header is checked now, so an
    unreadable file is refused at once; its rows are read by a worker
    (``leads.tasks.run_lead_import``)."""
    from dcc.celery import enqueue_on_commit
    from leads.tasks import run_lead_import

    require(actor, "leads.import")
    store = _resolve_store(actor, store)
    data = read_bytes(file)
    header, _table = read_table(data, max_rows=MAX_ROWS, limit=1)
    if profile is None and mapping is None:
        profile = find_profile(store, header)
    record = LeadImport(
        store=store,
        actor=actor,
        filename=filename[:255],
        profile=profile,
        mapping=mapping if mapping is not None else (profile.mapping if profile else {}),
        day_first=day_first if day_first is not None else bool(profile and profile.day_first),
        partial=partial,
        status=ImportStatus.QUEUED,
    )
    record.file.save(f"import-{timezone.now():%Y%m%d%H%M%S}.bin", ContentFile(data), save=False)
    record.save()
    audit.record("leads.import.queued", actor=actor, target=record, store=store, filename=filename)
    enqueue_on_commit(run_lead_import, record.pk)
    return record


def run_queued_import(import_id: int) -> LeadImport | None:
    """The worker's side: claim the queued import (once, whoever else got
    the message), run it, record the outcome. Returns the row."""
    claimed = LeadImport.objects.filter(pk=import_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING
    )
    record = LeadImport.objects.select_related("actor", "store", "profile").get(pk=import_id)
    if not claimed:
        return record
    state = {"last": -1}

    def report(percent: int) -> None:
        if percent != state["last"]:
            state["last"] = percent
            _report_progress(record.pk, percent)
        if _cancel_requested(record.pk):
            raise ImportCancelled

    try:
        with record.file.open("rb") as handle:
            data = handle.read()
        if _cancel_requested(record.pk):
            raise ImportCancelled
        lead_import(
            actor=record.actor,
            file=io.BytesIO(data),
            store=record.store,
            partial=record.partial,
            filename=record.filename,
            profile=record.profile,
            mapping=record.mapping or None,
            day_first=record.day_first,
            record=record,
            progress=report,
        )
    except ImportCancelled:
        LeadImport.objects.filter(pk=record.pk).update(
            status=ImportStatus.CANCELLED, finished_at=timezone.now()
        )
        audit.record("leads.import.cancelled", actor=record.actor, target=record)
    except ImportFileError as exc:
        LeadImport.objects.filter(pk=record.pk).update(
            status=ImportStatus.FAILED, message=str(exc), finished_at=timezone.now()
        )
    except Exception as exc:
        logger.exception("lead import %s failed", record.pk)
        LeadImport.objects.filter(pk=record.pk).update(
            status=ImportStatus.FAILED,
            message=_("The import stopped on an unexpected error; nothing was imported."),
            finished_at=timezone.now(),
        )
        if not isinstance(exc, ValidationError | PermissionDenied):
            raise
    finally:
        _forget_file(record.pk)
    record.refresh_from_db()
    return record


def _forget_file(import_id: int) -> None:
    """The uploaded file holds customers' numbers: deleted once read."""
    record = LeadImport.objects.get(pk=import_id)
    if record.file:
        record.file.delete(save=False)
        LeadImport.objects.filter(pk=import_id).update(file="")


def _report_progress(import_id: int, percent: int) -> None:
    """Write the percent where a poller sees it now. Inside the import's
    transaction (PostgreSQL) a second connection commits it at once; on
    SQLite, whose one writer holds the file, progress waits for the end."""
    if not connection.in_atomic_block:
        LeadImport.objects.filter(pk=import_id).update(percent=percent)
        return
    if connection.vendor != "postgresql":
        return
    from django.db import connections

    side = connections.create_connection("default")
    try:
        side.set_autocommit(True)
        with side.cursor() as cursor:
            # Never wait on the import's own locks: a report skipped is harmless.
            cursor.execute("SET lock_timeout = 1000")
            cursor.execute(
                f"UPDATE {LeadImport._meta.db_table} SET percent = %s WHERE id = %s",  # noqa: S608
                [percent, import_id],
            )
    except DatabaseError:
        logger.info("lead import %s: progress %s%% not reported", import_id, percent)
    finally:
        side.close()


def _cancel_requested(import_id: int) -> bool:
    # READ COMMITTED (PostgreSQL): this sees a cancel committed meanwhile,
    # even inside the import's transaction.
    return LeadImport.objects.filter(pk=import_id, cancel_requested=True).exists()


def request_cancel(*, actor, record: LeadImport) -> LeadImport:
    """Ask a queued or running import to stop; a queued one stops at once."""
    if record.actor_id != actor.pk and not can(actor, "leads.assign"):
        raise PermissionDenied
    LeadImport.objects.filter(pk=record.pk, status=ImportStatus.QUEUED).update(
        status=ImportStatus.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    )
    LeadImport.objects.filter(pk=record.pk, status=ImportStatus.RUNNING).update(
        cancel_requested=True
    )
    audit.record("leads.import.cancel_requested", actor=actor, target=record)
    record.refresh_from_db()
    return record


# ---------------------------------------------------------------- undo


@dataclass
class UndoResult:
    removed: int
    kept: list[int]  # ids of the leads someone worked on since


def can_undo(actor, record: LeadImport, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return (
        can(actor, "leads.assign")
        and record.status == ImportStatus.DONE
        and record.created > 0
        and record.undone_at is None
        and now - record.created_at <= timedelta(days=UNDO_DAYS)
    )


def undo_import(*, actor, record: LeadImport) -> UndoResult:
    """Remove the leads ``record`` created that nobody touched since: no
    follow-up, visit or deal, no change in the lead's history (an owner
    change, a status move); the others stay and are reported. Customers
    left without a lead go with them. A manager's, within ``UNDO_DAYS``."""
    require(actor, "leads.assign")
    with transaction.atomic():
        record = LeadImport.objects.select_for_update().get(pk=record.pk)
        if not LeadImport.objects.visible_to(actor).filter(pk=record.pk).exists():
            raise PermissionDenied
        if not can_undo(actor, record):
            raise ValidationError(
                _("This import can no longer be undone (only within %(days)d days, once).")
                % {"days": UNDO_DAYS}
            )
        leads = Lead.objects.filter(lead_import=record)
        touched_q = Q(status__in=[s for s in Status.values if s != Status.NEW])
        for name in TOUCHING_RELATIONS:
            if _has_relation(name):
                touched_q |= Q(**{f"{name}__isnull": False})
        touched = set(leads.filter(touched_q).values_list("pk", flat=True).distinct())
        # Any history row after the import's own "+" row: a person changed it.
        history = Lead.history.model.objects.filter(lead_import_id=record.pk)
        touched |= set(
            history.values("id")
            .annotate(n=Count("history_id"))
            .filter(n__gt=1)
            .values_list("id", flat=True)
        )
        touched |= set(_changed_owner_ids(record))
        removable = list(leads.exclude(pk__in=touched).values_list("pk", "customer_id"))
        ids = [pk for pk, _customer in removable]
        customer_ids = {customer for _pk, customer in removable}
        for chunk in _chunks(ids):
            Lead.objects.filter(pk__in=chunk).delete()
        orphans = [
            pk
            for chunk in _chunks(list(customer_ids))
            for pk in Customer.objects.filter(pk__in=chunk, leads__isnull=True)
            .filter(merged_into__isnull=True)
            .values_list("pk", flat=True)
        ]
        for chunk in _chunks(orphans):
            CustomerPhone.objects.filter(customer_id__in=chunk).delete()
            Customer.objects.filter(pk__in=chunk).delete()
        kept = sorted(touched & set(leads.values_list("pk", flat=True)))
        now = timezone.now()
        LeadImport.objects.filter(pk=record.pk).update(
            undone_at=now, undone_by=actor, undo_removed=len(ids), undo_kept=len(kept)
        )
        audit.record(
            "leads.import.undone",
            actor=actor,
            target=record,
            store=record.store,
            filename=record.filename,
            removed=len(ids),
            kept=len(kept),
            kept_leads=kept[: audit.ACCESS_MAX_IDS],
        )
        events.leads_removed.send(sender=Lead, lead_ids=ids, actor=actor)
    return UndoResult(removed=len(ids), kept=kept)


def _has_relation(name: str) -> bool:
    return any(rel.get_accessor_name() == name for rel in Lead._meta.related_objects)


def _changed_owner_ids(record: LeadImport) -> list[int]:
    """Leads whose owner is no longer the one the import gave them."""
    history = Lead.history.model.objects.filter(lead_import_id=record.pk, history_type="+")
    first_owner = dict(history.values_list("id", "owner_id"))
    return [
        pk
        for pk, owner in Lead.objects.filter(lead_import=record).values_list("pk", "owner_id")
        if first_owner.get(pk, owner) != owner
    ]


# ---------------------------------------------------------------- the rows in error


def error_workbook(record: LeadImport) -> bytes:
    """The rows in error as read, with a reason column: to fix and upload again."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Rows in error"))
    header = [*record.header, _("Reason"), _("Row in the file")]
    sheet.append(xlsx.row(sheet, [str(h) for h in header]))
    for item in record.error_rows:
        values = ["" if v is None else str(v) for v in item["values"]]
        values += [""] * (len(record.header) - len(values))
        sheet.append(xlsx.row(sheet, [*values, item["reason"], item["row"]]))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- dates

_DATE_YMD = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:\s*[T\s]?\s*(\d{1,2})\s*[:：时点]\s*(\d{1,2})\s*(?:[:：分]\s*(\d{1,2})(?:\.\d+)?\s*秒?|分)?)?$"
)
_DATE_XY = re.compile(
    r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})"
    r"(?:[T\s]+(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d+)?)?)?$"
)
_SERIAL = re.compile(r"^\d{5}(\.\d+)?$")
_EPOCH = re.compile(r"^\d{10}(\d{3})?$")


def parse_datetime(value, *, tz, day_first: bool = False) -> datetime | None:
    """Local time from a date cell, an Excel serial number, a Unix time or
    text: 2026-11-03 09:05, 2026/11/3 9:05, 2026-11-03T09:05(+08:00),
    2026年11月3日 9:05, 2026.11.03, and 11/03/2026 (month first unless
    ``day_first``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            value = from_excel(value)
        except (ValueError, OverflowError, TypeError):
            return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=tz) if timezone.is_naive(value) else value
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time(), tzinfo=tz)
    text = _text(value).replace("：", ":")
    if not text:
        return None
    if _SERIAL.match(text):
        return parse_datetime(float(text), tz=tz)
    if _EPOCH.match(text):
        seconds = int(text[:10])
        return datetime.fromtimestamp(seconds, tz=tz)
    match = _DATE_YMD.match(text)
    if match:
        year, month, day, hour, minute, second = match.groups()
    else:
        match = _DATE_XY.match(text)
        if match:
            first, second_part, year, hour, minute, second = match.groups()
            month, day = (second_part, first) if day_first else (first, second_part)
        else:
            try:
                when = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            return when.replace(tzinfo=tz) if timezone.is_naive(when) else when
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=tz,
        )
    except ValueError:
        return None


# ---------------------------------------------------------------- the rows


class _Importer:
    def __init__(self, *, actor, store: Store, day_first: bool = False, progress=None):
        self.actor = actor
        self.store = store
        self.day_first = day_first
        self.progress = progress
        self.now = timezone.now()
        self.tz = timezone.get_default_timezone()
        self.errors: list[RowError] = []
        self.read = 0
        self.mapping: dict[str, str] = {}
        self.header: list[str] = []
        self.raw: dict[int, tuple] = {}
        self.planner: distribution.Planner | None = None

    def error(self, row: int, field_name: str, message: str) -> None:
        self.errors.append(RowError(row=row, field=field_name, message=message))

    def report(self, percent: int) -> None:
        if self.progress is not None:
            self.progress(percent)

    # ------------------------------------------------------------ steps 2–4

    def parse(self, header: tuple, table: Sequence[tuple[int, tuple]], *, mapping=None):
        self.header = [_text(v) for v in header]
        self.header_failed = not self._map_header(header, mapping)
        if self.header_failed:
            return []
        fields = self.fields
        keep = self.keep
        data = []
        for number, values in table:
            width = len(values)
            cells = {}
            for name, indexes in fields.items():
                found = [values[i] for i in indexes if i < width and _text(values[i])]
                if name == "channel":
                    cells[name] = found
                elif found:
                    cells[name] = found[0]
            if not cells:
                continue  # a row with nothing in the mapped columns
            if keep:
                extra = [
                    f"{label}：{_text(values[i])}"
                    for i, label in keep
                    if i < width and _text(values[i])
                ]
                if extra:
                    cells["_extra"] = "；".join(extra)
            data.append((number, cells, values))
        self.read = len(data)
        self._load_lookups(data)
        rows = []
        total = max(1, len(data))
        for position, (number, cells, values) in enumerate(data, start=1):
            before = len(self.errors)
            row = self._parse_row(number, cells)
            if row is not None:
                rows.append(row)
            elif len(self.errors) > before:
                self.raw[number] = values
            if position % PROGRESS_EVERY == 0:
                self.report(position * 50 // total)
        self.report(50)
        return rows

    def _map_header(self, header: tuple, mapping: dict | None) -> bool:
        """Fields by column; header errors on row 1 for an unknown column or
        a required field missing. Returns whether the header is usable."""
        planned = plan_columns(header, mapping=mapping)
        self.fields: dict[str, list[int]] = {}
        self.keep: list[tuple[int, str]] = []
        for column in planned:
            if column.field is None:
                self.error(
                    1,
                    column.header,
                    _(
                        "Unknown column “%(column)s”: map it to a field (or keep it in the "
                        "note, or ignore it) on the import page, or use an import profile that "
                        "does. Known columns include %(columns)s."
                    )
                    % {"column": column.header, "columns": "、".join(c.header for c in COLUMNS)},
                )
                continue
            self.mapping[column.key] = column.field
            if column.field == LeadField.KEEP_IN_NOTE:
                self.keep.append((column.index, column.header))
            elif column.field != LeadField.IGNORE:
                self.fields.setdefault(column.field, []).append(column.index)
        # Of several channel columns (一级/二级渠道名称) the last, most
        # specific, is tried first.
        if "channel" in self.fields:
            self.fields["channel"].reverse()
        for column in COLUMNS:
            if column.required and column.field not in self.fields:
                self.error(
                    1,
                    column.field,
                    _("The required column “%(column)s” is missing.")
                    % {"column": f"{column.header} ({column.field})"},
                )
        return not self.errors

    def _load_lookups(self, data: list) -> None:
        """One query per managed list, whatever the number of rows."""
        self.resolver = Resolver()
        # A source by its code or its label in either language.
        self.sources: dict[str, str] = {}
        for language in ("en", "zh-hans"):
            with translation.override(language):
                self.sources |= {str(label).casefold(): code for code, label in Source.choices}
        self.sources |= {code: code for code in Source.values}
        usernames = {_text(cells.get("owner")) for _n, cells, _v in data} - {""}
        self.owners = (
            {user.username: user for user in User.objects.filter(username__in=usernames)}
            if usernames
            else {}
        )
        self.may_name_owners = can(self.actor, "leads.assign")

    def _parse_row(self, number: int, cells: dict) -> _Row | None:
        before = len(self.errors)
        name = _text(cells.get("name"))
        if not name:
            self.error(number, "name", _("Enter the customer's name."))
        elif len(name) > _CUSTOMER_NAME_MAX:
            self.error(
                number,
                "name",
                _("The name is longer than %(max)d characters.") % {"max": _CUSTOMER_NAME_MAX},
            )
        phone = self._phone(number, _text(cells.get("phone")))
        source = self._source(number, _text(cells.get("source")))
        channel = self._channel(number, cells.get("channel") or [])
        intended_model = self._model(number, _text(cells.get("intended_model")))
        level = _text(cells.get("level")).upper().removesuffix("级") or Level.B
        if level not in _LEVELS:
            self.error(
                number,
                "level",
                _("Unknown level “%(value)s”.") % {"value": _text(cells.get("level"))},
            )
        received_at = self._received_at(number, cells.get("received_at"))
        expected = self._date(number, "expected_purchase_date", cells.get("expected_purchase_date"))
        owner = self._owner(number, _text(cells.get("owner")))
        note = "\n".join(filter(None, [_text(cells.get("note")), cells.get("_extra", "")]))
        self._check_text(number, name=name, note=note)
        if len(self.errors) > before:
            return None
        return _Row(
            row=number,
            name=name,
            phone=phone,
            source=source,
            channel=channel,
            intended_model=intended_model,
            level=level,
            received_at=received_at,
            expected_purchase_date=expected,
            owner=owner,
            note=note,
        )

    def _phone(self, number: int, text: str) -> str:
        if "*" in text or "＊" in text or "×" in text:
            self.error(
                number,
                "phone",
                _(
                    "The number “%(value)s” is masked: export the file again with full phone "
                    "numbers (the source system has a setting or a right for it)."
                )
                % {"value": text},
            )
            return ""
        # Plain digits (nearly every row) without libphonenumber's parse();
        # anything else, and every refusal's message, from leads.phones.
        fast = mainland_digits(text, self.store.area_code) if text.isdigit() else False
        if fast:
            return fast
        try:
            return phones.normalize_phone(text, area_code=self.store.area_code)
        except ValidationError as exc:
            self.error(number, "phone", exc.messages[0])
            return ""

    def _check_text(self, number: int, **fields) -> None:
        """A row error per field whose text holds a control character."""
        try:
            check_text(**fields)
        except ValidationError as exc:
            for field_name, messages in exc.message_dict.items():
                self.error(number, field_name, messages[0])

    def _source(self, number: int, text: str) -> str:
        if not text:
            return Source.WEB
        code = self.sources.get(text) or self.sources.get(text.casefold())
        if code is None:
            self.error(number, "source", _("Unknown source “%(value)s”.") % {"value": text})
        return code or ""

    def _channel(self, number: int, texts: list) -> Channel | None:
        unknown = None
        for value in texts:
            found = self.resolver.channel(_text(value))
            if not isinstance(found, Unknown):
                return found
            unknown = unknown or found
        if unknown is not None:
            self.error(number, "channel", unknown_message(unknown, _("channel")))
        return None

    def _model(self, number: int, text: str) -> VehicleModel | None:
        if not text:
            return None
        found = self.resolver.model(text)
        if isinstance(found, Unknown):
            self.error(number, "intended_model", unknown_message(found, _("vehicle model")))
            return None
        return found

    def _received_at(self, number: int, value) -> datetime | None:
        if value is None or _text(value) == "":
            return self.now
        when = parse_datetime(value, tz=self.tz, day_first=self.day_first)
        if when is None:
            self.error(
                number,
                "received_at",
                _("“%(value)s” is not a date and time: write it as YYYY-MM-DD HH:MM.")
                % {"value": _text(value)},
            )
            return None
        if not in_range(when):
            self.error(number, "received_at", range_message())
            return None
        try:
            validate_event_time(actor=self.actor, when=when, field="received_at", now=self.now)
        except ValidationError as exc:
            self.error(number, "received_at", exc.message_dict["received_at"][0])
            return None
        return when

    def _date(self, number: int, field_name: str, value) -> date | None:
        if value is None or _text(value) == "":
            return None
        when = parse_datetime(value, tz=self.tz, day_first=self.day_first)
        if when is None:
            self.error(
                number,
                field_name,
                _("“%(value)s” is not a date: write it as YYYY-MM-DD.") % {"value": _text(value)},
            )
            return None
        if not in_range(when):
            self.error(number, field_name, range_message())
            return None
        return when.date()

    def _owner(self, number: int, username: str) -> User | None:
        """``_resolve_new_owner`` for a file: a named owner must pass
        ``check_owner``; only a manager names someone else; an unnamed owner
        is the importer if their role owns what they enter, else nobody."""
        if not username:
            return self.actor if self.actor.effective_role in SELF_OWNING_ROLES else None
        if username != self.actor.username and not self.may_name_owners:
            self.error(
                number, "owner", _("Only a manager may name an owner: leave the column empty.")
            )
            return None
        owner = self.owners.get(username)
        if owner is None:
            self.error(
                number, "owner", _("Unknown staff member “%(value)s”.") % {"value": username}
            )
            return None
        try:
            check_owner(owner, store=self.store)
        except ValidationError as exc:
            self.error(number, "owner", exc.message_dict["owner"][0])
            return None
        return owner

    # ------------------------------------------------------------ steps 5–6

    def apply(
        self,
        rows: list[_Row],
        *,
        partial: bool,
        filename: str,
        profile=None,
        record=None,
        mapping=None,
        day_first=False,
    ) -> ImportResult:
        result = ImportResult(
            store=self.store, rows=self.read, errors=list(self.errors), profile=profile
        )
        self.planner = None  # distribution's, made at the first ownerless row
        fresh = self._set_duplicates_aside(rows, result)
        result.rejected = bool(result.errors) and (not partial or self.header_failed)
        if record is None:
            record = LeadImport(store=self.store, actor=self.actor, filename=filename[:255])
        record.profile = profile
        record.mapping = mapping or {}
        record.day_first = day_first
        record.partial = partial
        record.status = ImportStatus.DONE
        if record.pk is None:
            # The leads point at it. A queued import's row exists already and
            # is written only at the end: progress reports update it meanwhile.
            record.save()
        if not result.rejected:
            total = max(1, len(fresh))
            for start in range(0, len(fresh), CREATE_CHUNK):
                self._create(fresh[start : start + CREATE_CHUNK], record)
                self.report(50 + min(len(fresh), start + CREATE_CHUNK) * 49 // total)
            result.created = len(fresh)
            self._record_duplicates(result.duplicates, fresh)
        self._finish(record, result)
        audit.record(
            "leads.import.completed",
            actor=self.actor,
            store=self.store,
            filename=filename,
            rows=result.rows,
            created=result.created,
            duplicates=result.duplicate_count,
            errors=len(result.errors),
            partial=partial,
            rejected=result.rejected,
            profile=profile.pk if profile else None,
            lead_import=record.pk,
        )
        result.record = record
        return result

    def _finish(self, record: LeadImport, result: ImportResult) -> None:
        reasons: dict[int, list[str]] = {}
        for error in result.errors:
            reasons.setdefault(error.row, []).append(f"{error.column}: {error.message}")
        record.rows = result.rows
        record.created = result.created
        record.duplicates = result.duplicate_count
        record.error_count = len(result.errors)
        record.rejected = result.rejected
        record.errors = [
            {"row": e.row, "field": e.field, "message": e.message} for e in result.errors[:1000]
        ]
        record.header = self.header
        record.error_rows = [
            {
                "row": number,
                "values": [_cell_text(v) for v in self.raw[number]],
                "reason": "；".join(reasons.get(number, [])),
            }
            for number in sorted(self.raw)
        ]
        record.percent = 100
        record.finished_at = timezone.now()
        record.save()

    def _set_duplicates_aside(self, rows: list[_Row], result: ImportResult) -> list[_Row]:
        """Rows to create; the others become ``result.duplicates``."""
        open_leads: dict[str, Lead] = {}
        for chunk in _chunks([row.phone for row in rows]):
            found = Lead.objects.open().filter(store=self.store, phone__in=chunk)
            for lead in found.select_related("owner").only(*_OPEN_LEAD_FIELDS):
                open_leads[lead.phone] = lead
        first: dict[str, _Row] = {}
        fresh = []
        for row in rows:
            existing = open_leads.get(row.phone)
            if existing is not None:
                result.duplicates.append(
                    DuplicateRow(
                        row=row.row,
                        phone=row.phone,
                        name=row.name,
                        existing_lead_id=existing.pk,
                        owner_id=existing.owner_id,
                        owner_name=existing.owner.display_name if existing.owner_id else "",
                    )
                )
            elif row.phone in first:
                earlier = first[row.phone]
                result.duplicates.append(
                    DuplicateRow(
                        row=row.row,
                        phone=row.phone,
                        name=row.name,
                        existing_lead_id=None,  # known once the earlier row is created
                        owner_id=earlier.owner.pk if earlier.owner else None,
                        owner_name=earlier.owner.display_name if earlier.owner else "",
                        first_row=earlier.row,
                    )
                )
            else:
                first[row.phone] = row
                fresh.append(row)
        self.first_by_row = {row.row: row for row in first.values()}
        return fresh

    def _create(self, rows: list[_Row], record: LeadImport) -> None:
        actor, store = self.actor, self.store
        # One import, one moment: every history row carries the same time.
        history = {"actor": actor, "reason": CHANGE_REASON, "when": timezone.now()}
        # 1. Customers known to the store by phone keep their record (a base
        #    customer coming back); a full name replaces a form of address.
        known = self._known_customers([row.phone for row in rows])
        new_customers, renamed = [], {}
        for row in rows:
            customer = known.get(row.phone)
            if customer is None:
                customer = build(
                    Customer,
                    {
                        "store_id": store.pk,
                        "name": row.name,
                        "has_full_name": is_full_name(row.name),
                    },
                )
                new_customers.append(customer)
            elif not customer.has_full_name and is_full_name(row.name):
                customer.name, customer.has_full_name = row.name, True
                renamed[customer.pk] = customer
            row.customer = customer
        bulk_insert(Customer, new_customers, **history)
        if renamed:
            bulk_update_with_history(
                list(renamed.values()),
                Customer,
                ["name", "has_full_name"],
                batch_size=BATCH_SIZE,
                default_user=actor,
                default_change_reason=CHANGE_REASON,
                default_date=history["when"],
            )
        # 2. Their phones: the store-wide "one phone, one customer" constraint.
        new_ids = {id(customer) for customer in new_customers}
        customer_phones = [
            build(
                CustomerPhone,
                {
                    "customer_id": row.customer.pk,
                    "store_id": store.pk,
                    "number": row.phone,
                    "is_primary": True,
                },
            )
            for row in rows
            if id(row.customer) in new_ids
        ]
        bulk_insert(CustomerPhone, customer_phones, **history)
        # 3. The leads, with the clocks and flags lead_create would set.
        #    (Ids rather than objects, and ``build`` rather than ``Lead()``:
        #    per-field machinery for 100,000 rows costs seconds.)
        leads = []
        for row in rows:
            row.lead = build(
                Lead,
                {
                    "store_id": store.pk,
                    "customer_id": row.customer.pk,
                    "phone": row.phone,
                    "source": row.source,
                    "channel_id": row.channel and row.channel.pk,
                    "intended_model_id": row.intended_model and row.intended_model.pk,
                    "level": row.level,
                    "owner_id": row.owner and row.owner.pk,
                    "created_by_id": actor.pk,
                    "received_at": row.received_at,
                    "first_contact_due": first_contact_due(
                        store=store, source=row.source, received_at=row.received_at
                    ),
                    "expected_purchase_date": row.expected_purchase_date,
                    "note": row.note,
                    "lead_import_id": record.pk,
                },
            )
            leads.append(row.lead)
        # 4. Rows without an owner go by the store's distribution rules, all
        #    planned in memory from one read (leads.distribution).
        ownerless = [lead for lead in leads if lead.owner_id is None]
        if ownerless:
            if self.planner is None:
                self.planner = distribution.Planner(store, lock=True, now=history["when"])
            for lead in ownerless:
                self.planner.assign(lead)
            self.planner.save_pointers()
        bulk_insert(Lead, leads, **history)
        distribution.record(leads, actor=actor)
        events.leads_created.send(sender=Lead, leads=leads, actor=actor, lead_import=record)

    def _known_customers(self, numbers: list[str]) -> dict[str, Customer]:
        """Phone -> the customer it belongs to, following merges in bulk."""
        known: dict[str, Customer] = {}
        for chunk in _chunks(numbers):
            for customer_phone in CustomerPhone.objects.filter(
                store=self.store, number__in=chunk
            ).select_related("customer"):
                known[customer_phone.number] = customer_phone.customer
        # A merged record points at the one kept (customer_merge moves the
        # phones too, so this is rare); one query per level of merging.
        while pending := {c.merged_into_id for c in known.values() if c.merged_into_id}:
            kept = Customer.objects.in_bulk(pending)
            known = {
                number: kept[c.merged_into_id] if c.merged_into_id else c
                for number, c in known.items()
            }
        return known

    def _record_duplicates(self, duplicates: list[DuplicateRow], fresh: list[_Row]) -> None:
        """Like ``lead_create``'s refused entries: one event per duplicate row,
        on the lead that kept the phone, written in one INSERT."""
        rows = []
        for duplicate in duplicates:
            if duplicate.first_row is not None:
                duplicate.existing_lead_id = self.first_by_row[duplicate.first_row].lead.pk
            rows.append(
                (
                    duplicate.existing_lead_id,
                    self.store.pk,
                    {
                        "phone": duplicate.phone,
                        "customer_name": duplicate.name,
                        "source": "import",
                        "row": duplicate.row,
                    },
                )
            )
        audit.record_many(
            "leads.lead.duplicate_entry",
            actor=self.actor,
            model=Lead,
            rows=rows,
            batch_size=BATCH_SIZE,
        )


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return _text(value)


def _chunks(items: list, size: int = LOOKUP_CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---------------------------------------------------------------- the template


def template_workbook() -> bytes:
    """The import template: the import sheet (header only, so that no
    example is ever imported by accident) and the instructions sheet with
    the allowed values and examples."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_TITLE
    help_sheet = workbook.create_sheet(HELP_SHEET_TITLE)
    lists = _write_instructions(help_sheet)

    bold = Font(bold=True, color="FFFFFF")
    fill = PatternFill("solid", fgColor="305496")
    sheet.append(xlsx.row(sheet, [column.header for column in COLUMNS]))
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(horizontal="center")
        letter = get_column_letter(index)
        dimension = sheet.column_dimensions[letter]
        dimension.width = column.width
        # Phone numbers as text: Excel would show 13812345678 as 1.38E+10.
        if column.field == "phone":
            dimension.number_format = "@"
        elif column.field == "received_at":
            dimension.number_format = "yyyy-mm-dd hh:mm"
        elif column.field == "expected_purchase_date":
            dimension.number_format = "yyyy-mm-dd"
        if column.field in lists:
            # A drop-down that suggests, never refuses: codes are accepted too.
            validation = DataValidation(
                type="list",
                formula1=lists[column.field],
                allow_blank=True,
                showErrorMessage=False,
            )
            validation.add(f"{letter}2:{letter}{TEMPLATE_ROWS + 1}")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _write_instructions(sheet) -> dict[str, str]:
    """Fill the instructions sheet; return the drop-down lists' ranges by field."""
    title = Font(bold=True, size=13)
    heading = Font(bold=True)
    sheet.column_dimensions["A"].width = 16
    sheet.column_dimensions["B"].width = 24
    sheet.column_dimensions["C"].width = 12
    sheet.column_dimensions["D"].width = 80
    sheet.append(xlsx.row(sheet, [_("How to fill in the lead import template")]))
    sheet["A1"].font = title
    sheet.append(
        xlsx.row(
            sheet,
            [
                _(
                    "Enter one lead per row in the sheet “%(sheet)s”, from row 2; keep its "
                    "header row. English column names (name, phone, …) are accepted too. Rows "
                    "whose phone already has an open lead in the store are reported as "
                    "duplicates and not created. If any row has an error, nothing is imported "
                    "unless a partial import is chosen."
                )
                % {"sheet": SHEET_TITLE}
            ],
        )
    )
    sheet.merge_cells("A2:D2")
    sheet["A2"].alignment = Alignment(wrap_text=True, vertical="top")
    sheet.row_dimensions[2].height = 48
    sheet.append([])
    sheet.append(
        xlsx.row(
            sheet, [_("Column"), _("English name"), _("Required"), _("Allowed values and format")]
        )
    )
    _bold_row(sheet, heading)
    descriptions = {
        "name": _("The customer's full name (a form of address such as 王先生 is accepted)."),
        "phone": _(
            "An 11-digit mobile, or a landline with its area code (a local landline gets "
            "the store's area code)."
        ),
        "source": _("A source code or name from the list below; empty means web."),
        "channel": _("A channel code or name from the list below."),
        "intended_model": _("The exact name of an active vehicle model from the list below."),
        "level": _("H, A, B or C; empty means B."),
        "received_at": _(
            "When the lead was received: YYYY-MM-DD HH:MM, or a date cell; empty means now. "
            "Only managers may enter times before today."
        ),
        "expected_purchase_date": _("YYYY-MM-DD, or a date cell."),
        "owner": _(
            "The username of the member of staff who owns the lead (managers only); empty "
            "leaves the lead unassigned."
        ),
        "note": _("Free text."),
    }
    for column in COLUMNS:
        sheet.append(
            xlsx.row(
                sheet,
                [
                    column.header,
                    column.field,
                    _("yes") if column.required else _("no"),
                    descriptions[column.field],
                ],
            )
        )
    for row in sheet.iter_rows(min_row=5, max_row=sheet.max_row, min_col=4, max_col=4):
        row[0].alignment = Alignment(wrap_text=True, vertical="top")

    lists = {}
    models = [(m.name, m.category) for m in VehicleModel.objects.filter(is_active=True)]
    tables = [
        (
            "channel",
            _("Channels"),
            (_("Code"), pgettext("name of a list entry", "Name")),
            [(c.code, c.label) for c in Channel.objects.filter(is_active=True)],
        ),
        (
            "source",
            _("Sources"),
            (_("Code"), pgettext("name of a list entry", "Name")),
            [(code, str(label)) for code, label in Source.choices],
        ),
        (
            "level",
            _("Levels"),
            (_("Code"), _("Meaning")),
            [(code, str(label)) for code, label in Level.choices],
        ),
        (
            "intended_model",
            _("Vehicle models"),
            (pgettext("name of a list entry", "Name"), _("Category")),
            models,
        ),
    ]
    for field_name, label, columns, values in tables:
        sheet.append([])
        sheet.append(xlsx.row(sheet, [label]))
        sheet.cell(row=sheet.max_row, column=1).font = title
        sheet.append(xlsx.row(sheet, columns))
        _bold_row(sheet, heading)
        first = sheet.max_row + 1
        for value in values:
            # Channel and model names are typed by people: text, never a formula.
            sheet.append(xlsx.row(sheet, value))
        if values:
            # The drop-down offers the channel names, the model names, the codes
            # of sources and levels (column B for channels: people read labels).
            letter = "B" if field_name == "channel" else "A"
            lists[field_name] = f"'{HELP_SHEET_TITLE}'!${letter}${first}:${letter}${sheet.max_row}"

    sheet.append([])
    sheet.append(xlsx.row(sheet, [_("Examples (this sheet is never imported)")]))
    sheet.cell(row=sheet.max_row, column=1).font = title
    sheet.append(xlsx.row(sheet, [c.header for c in COLUMNS]))
    _bold_row(sheet, heading)
    model = models[0][0] if models else ""
    examples = [
        ["张伟", "13812345678", "web", "autohome", model, "H", "2025-03-01 10:30", "", "", ""],
        ["李娜", "021-62345678", "web", "懂车帝", model, "B", "", "2025-06-30", "", "周末来店"],
    ]
    for example in examples:
        sheet.append(xlsx.row(sheet, example))
    return lists


def _bold_row(sheet, font) -> None:
    for cell in sheet[sheet.max_row]:
        cell.font = font
