"""Excel import of web leads (DESIGN §2 "Sources": 网络投放潜客 arrive as a
spreadsheet), and the template it reads. The one place import rules live:
the page and the API only hand over the uploaded file.

A row obeys the rules of ``leads.services.lead_create`` (first entry wins,
the back-entry rule, who may name an owner), but the file is handled as a
whole, because an import of 10,000 rows must take seconds, not minutes:

1. read the import sheet once with openpyxl in read-only mode;
2. map the header row (Chinese, or the API's English field names);
3. resolve every lookup in one query each: channels, vehicle models, named
   owners, open leads of the file's phones, customers known by those phones;
4. validate each row, collecting every error as (row, field, message);
5. set duplicates aside: a phone with an open lead in the store, or a phone
   repeated in the file (its first valid row wins);
6. unless some row failed and a partial import was not asked for, create
   customers, their phones and the leads with ``bulk_create_with_history``
   (history rows carry the importer), in one transaction, and record each
   duplicate attempt and a summary as ``AuditEvent`` rows. A rejected file
   writes only the summary: its duplicates were never entered.

Header errors (an unknown or missing column) stop the import whatever
``partial`` says: the columns cannot be trusted.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from xml.etree.ElementTree import ParseError
from zipfile import BadZipFile

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation
from simple_history.utils import bulk_update_with_history

from dcc import audit, xlsx
from dcc.bulk import bulk_insert
from dcc.models import AuditEvent, Store, User
from dcc.policy import SELF_OWNING_ROLES, can, require
from dcc.timeutils import in_range, range_message, validate_event_time
from dcc.validators import check_text
from leads import events, phones
from leads.models import (
    Channel,
    Customer,
    CustomerPhone,
    Lead,
    Level,
    Source,
    VehicleModel,
)
from leads.services import check_owner, first_contact_due, is_full_name

logger = logging.getLogger(__name__)

SHEET_TITLE = "潜客导入"
HELP_SHEET_TITLE = "填写说明"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEMPLATE_FILENAME = "lead-import-template.xlsx"
CHANGE_REASON = "Excel import"
# A web request, not a task: past this, the file should be split (known limit).
MAX_ROWS = 20_000
# Rows per INSERT; SQLite lowers it further to its parameter limit.
BATCH_SIZE = 1000
# Phones per ``IN (…)`` lookup: one query for a 10,000-row file, and well
# under SQLite's (32,766) and PostgreSQL's (65,535) parameter limits.
LOOKUP_CHUNK = 10_000


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
_BY_HEADER = {c.header: c for c in COLUMNS} | _BY_FIELD
_CUSTOMER_NAME_MAX = Customer._meta.get_field("name").max_length
# What a duplicate report needs of the lead that kept the phone.
_OPEN_LEAD_FIELDS = (
    "pk",
    "phone",
    "owner__name",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
)


class ImportFileError(Exception):
    """The upload is not a workbook we can read (the API's 400 on ``file``)."""


@dataclass(frozen=True)
class RowError:
    row: int  # the Excel row number; the header is row 1
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

    @property
    def duplicate_count(self) -> int:
        return len(self.duplicates)


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


# ---------------------------------------------------------------- the service


def lead_import(
    *, actor, file, store: Store | None = None, partial: bool = False, filename: str = ""
) -> ImportResult:
    """Import the leads of an uploaded workbook into ``store`` (default: the
    actor's own). Row problems are reported, not raised; an unreadable file
    raises ``ImportFileError``, a wrong role ``PermissionDenied``, a store
    the actor cannot reach a ``ValidationError`` on ``store``."""
    require(actor, "leads.import")
    store = _resolve_store(actor, store)
    header, table = _read_sheet(file)
    importer = _Importer(actor=actor, store=store)
    rows = importer.parse(header, table)
    # The unique constraints (one open lead per phone, one customer per
    # phone) are the final arbiter: if someone enters one of the file's phones
    # between our duplicate check and our insert, the whole transaction rolls
    # back; the second attempt sees their lead and reports the row as a
    # duplicate. A second collision in a row is raised, not looped on.
    try:
        with transaction.atomic():
            return importer.apply(rows, partial=partial, filename=filename)
    except IntegrityError:
        logger.info("lead import into store %s: a phone was entered meanwhile, retrying", store.pk)
    with transaction.atomic():
        return importer.apply(rows, partial=partial, filename=filename)


def _resolve_store(actor, store: Store | None) -> Store:
    store = store or actor.store
    if store is None:
        raise ValidationError({"store": _("Choose the store to import into.")})
    if not Store.objects.visible_to(actor).filter(pk=store.pk).exists():
        raise ValidationError({"store": _("You cannot import into this store.")})
    return store


def _read_sheet(file) -> tuple[tuple, list[tuple[int, tuple]]]:
    """The header and the non-blank rows (Excel row number, cell values) of
    the import sheet: the one named like the template's, else the first."""
    unreadable = _(
        "This file cannot be read as an Excel workbook (.xlsx): download the template, "
        "fill it in and upload it again."
    )
    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise ImportFileError(unreadable) from exc
    try:
        if SHEET_TITLE in workbook.sheetnames:
            sheet = workbook[SHEET_TITLE]
        elif workbook.worksheets:
            sheet = workbook.worksheets[0]
        else:
            raise ImportFileError(unreadable)
        # Some generators write a wrong <dimension>; read what is really there.
        sheet.reset_dimensions()
        header, table = (), []
        # Read-only sheets yield empty tuples for missing rows, so the count
        # is the Excel row number.
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if number == 1:
                header = values
            elif not _is_blank(values):  # formatted but empty rows cost nothing
                table.append((number, values))
                if len(table) > MAX_ROWS:
                    raise ImportFileError(
                        _("The file has more than %(max)s rows: split it into smaller files.")
                        % {"max": f"{MAX_ROWS:,}"}
                    )
    except (BadZipFile, KeyError, OSError, ValueError, TypeError, EOFError, ParseError) as exc:
        raise ImportFileError(unreadable) from exc
    finally:
        workbook.close()
    return header, table


def _is_blank(values: Iterable) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _text(value) -> str:
    """A cell as text: numbers typed into text columns lose Excel's ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


class _Importer:
    def __init__(self, *, actor, store: Store):
        self.actor = actor
        self.store = store
        self.now = timezone.now()
        self.tz = timezone.get_default_timezone()
        self.errors: list[RowError] = []
        self.read = 0

    def error(self, row: int, field_name: str, message: str) -> None:
        self.errors.append(RowError(row=row, field=field_name, message=message))

    # ------------------------------------------------------------ steps 2–4

    def parse(self, header: tuple, table: Sequence[tuple[int, tuple]]) -> list[_Row]:
        columns = self._map_header(header)
        self.header_failed = columns is None
        if self.header_failed:
            return []
        data = []
        for number, values in table:
            cells = {name: values[i] for i, name in columns.items() if i < len(values)}
            if _is_blank(cells.values()):
                continue  # fully blank rows are skipped silently
            data.append((number, cells))
        self.read = len(data)
        self._load_lookups(data)
        rows = []
        for number, cells in data:
            row = self._parse_row(number, cells)
            if row is not None:
                rows.append(row)
        return rows

    def _map_header(self, header: tuple) -> dict[int, str] | None:
        """Column index -> field name; None (and errors on row 1) if the
        header is not the template's."""
        columns: dict[int, str] = {}
        for index, value in enumerate(header):
            text = _text(value).rstrip("*＊").strip()
            if not text:
                continue  # an empty header cell: nothing to read there
            column = _BY_HEADER.get(text) or _BY_HEADER.get(text.lower())
            if column is None:
                allowed = "、".join(c.header for c in COLUMNS)
                self.error(
                    1,
                    text,
                    _("Unknown column “%(column)s”: the template's columns are %(columns)s.")
                    % {"column": text, "columns": allowed},
                )
            elif column.field in columns.values():
                self.error(
                    1, column.field, _("Column “%(column)s” appears twice.") % {"column": text}
                )
            else:
                columns[index] = column.field
        for column in COLUMNS:
            if column.required and column.field not in columns.values():
                self.error(
                    1,
                    column.field,
                    _("The required column “%(column)s” is missing.")
                    % {"column": f"{column.header} ({column.field})"},
                )
        return None if self.errors else columns

    def _load_lookups(self, data: list[tuple[int, dict]]) -> None:
        """One query per managed list, whatever the number of rows."""
        self.channels: dict[str, Channel] = {}
        for channel in Channel.objects.filter(is_active=True):
            self.channels[channel.code.lower()] = channel
            self.channels[channel.label.strip().casefold()] = channel
        self.models: dict[str, VehicleModel] = {}
        for vehicle_model in VehicleModel.objects.filter(is_active=True):
            self.models.setdefault(vehicle_model.name.strip().casefold(), vehicle_model)
            self.models[vehicle_model.name.strip()] = vehicle_model
        # A source by its code or its label in either language.
        self.sources: dict[str, str] = {}
        for language in ("en", "zh-hans"):
            with translation.override(language):
                self.sources |= {str(label).casefold(): code for code, label in Source.choices}
        self.sources |= {code: code for code in Source.values}
        usernames = {_text(cells.get("owner")) for _n, cells in data} - {""}
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
        phone = ""
        try:
            phone = phones.normalize_phone(
                _text(cells.get("phone")), area_code=self.store.area_code
            )
        except ValidationError as exc:
            self.error(number, "phone", exc.messages[0])
        source = self._source(number, _text(cells.get("source")))
        channel = self._lookup(
            number,
            "channel",
            _text(cells.get("channel")),
            self.channels,
            _("Unknown channel “%(value)s”: use a code or a name from the instructions sheet."),
        )
        intended_model = self._lookup(
            number,
            "intended_model",
            _text(cells.get("intended_model")),
            self.models,
            _("Unknown vehicle model “%(value)s”."),
        )
        level = _text(cells.get("level")).upper().removesuffix("级") or Level.B
        if level not in Level.values:
            self.error(
                number,
                "level",
                _("Unknown level “%(value)s”.") % {"value": _text(cells.get("level"))},
            )
        received_at = self._received_at(number, cells.get("received_at"))
        expected = self._date(number, "expected_purchase_date", cells.get("expected_purchase_date"))
        owner = self._owner(number, _text(cells.get("owner")))
        note = _text(cells.get("note"))
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

    def _lookup(self, number: int, field_name: str, text: str, table: dict, message: str):
        if not text:
            return None
        found = table.get(text) or table.get(text.casefold())
        if found is None:
            self.error(number, field_name, message % {"value": text})
        return found

    def _received_at(self, number: int, value) -> datetime | None:
        if value is None or _text(value) == "":
            return self.now
        when = self._datetime(value)
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

    def _datetime(self, value) -> datetime | None:
        """Local (Asia/Shanghai) time from a date cell, an Excel serial number
        or text ``YYYY-MM-DD[ HH:MM[:SS]]``."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                value = from_excel(value)
            except (ValueError, OverflowError):
                return None
        if isinstance(value, datetime):
            return value.replace(tzinfo=self.tz) if timezone.is_naive(value) else value
        if isinstance(value, date):
            return datetime.combine(value, datetime.min.time(), tzinfo=self.tz)
        text = _text(value).replace("/", "-").replace("T", " ")
        for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
            try:
                return datetime.strptime(text, pattern).replace(tzinfo=self.tz)
            except ValueError:
                continue
        return None

    def _date(self, number: int, field_name: str, value) -> date | None:
        if value is None or _text(value) == "":
            return None
        when = self._datetime(value)
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

    def apply(self, rows: list[_Row], *, partial: bool, filename: str) -> ImportResult:
        result = ImportResult(store=self.store, rows=self.read, errors=list(self.errors))
        fresh = self._set_duplicates_aside(rows, result)
        result.rejected = bool(result.errors) and (not partial or self.header_failed)
        if not result.rejected:
            self._create(fresh)
            result.created = len(fresh)
            self._record_duplicates(result.duplicates, fresh)
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
        )
        return result

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

    def _create(self, rows: list[_Row]) -> None:
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
                customer = Customer(
                    store_id=store.pk, name=row.name, has_full_name=is_full_name(row.name)
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
            CustomerPhone(
                customer_id=row.customer.pk, store_id=store.pk, number=row.phone, is_primary=True
            )
            for row in rows
            if id(row.customer) in new_ids
        ]
        bulk_insert(CustomerPhone, customer_phones, **history)
        # 3. The leads, with the clocks and flags lead_create would set.
        #    (Ids rather than objects: 10,000 descriptor calls fewer per key.)
        leads = []
        for row in rows:
            row.lead = Lead(
                store_id=store.pk,
                customer_id=row.customer.pk,
                phone=row.phone,
                source=row.source,
                channel_id=row.channel and row.channel.pk,
                intended_model_id=row.intended_model and row.intended_model.pk,
                level=row.level,
                owner_id=row.owner and row.owner.pk,
                created_by_id=actor.pk,
                received_at=row.received_at,
                first_contact_due=first_contact_due(
                    store=store, source=row.source, received_at=row.received_at
                ),
                expected_purchase_date=row.expected_purchase_date,
                note=row.note,
            )
            leads.append(row.lead)
        bulk_insert(Lead, leads, **history)
        events.leads_created.send(sender=Lead, leads=leads, actor=actor)

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
        lead_type = ContentType.objects.get_for_model(Lead)
        refused = []
        for duplicate in duplicates:
            if duplicate.first_row is not None:
                duplicate.existing_lead_id = self.first_by_row[duplicate.first_row].lead.pk
            refused.append(
                AuditEvent(
                    name="leads.lead.duplicate_entry",
                    actor=self.actor,
                    store=self.store,
                    target_type=lead_type,
                    target_id=duplicate.existing_lead_id,
                    data={
                        "phone": duplicate.phone,
                        "customer_name": duplicate.name,
                        "source": "import",
                        "row": duplicate.row,
                    },
                )
            )
        AuditEvent.objects.bulk_create(refused, batch_size=BATCH_SIZE)


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
            validation.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
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
