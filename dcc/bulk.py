"""Writing many rows fast, with their history: ``bulk_insert``.

Django's ``bulk_create`` prepares every value of every row through its field
machinery and simple-history builds a model instance per history row; at
10,000 leads (60,000 rows with customers, phones and history) that costs
seconds of Python. On PostgreSQL this module instead:

1. takes the primary keys from the table's sequence in one query (so the
   caller's objects get their ``pk`` as ``bulk_create`` would give them);
2. fills in ``auto_now``/``auto_now_add`` fields as ``pre_save`` would;
3. formats each value once by its Python type and sends the rows with
   ``COPY … FROM STDIN`` (text format);
4. writes the history rows from those same formatted values (the tracked
   columns picked by position), with the actor, time and reason
   django-simple-history would record.

``build`` makes the unsaved instances cheaply (no ``Model.__init__``), and
``copy_rows`` inserts plain tuples for tables without history.

Elsewhere (SQLite) it falls back to simple-history's
``bulk_create_with_history``. Both paths give the same rows; a test holds
them to it. Limits: concrete fields of plain types only (text, numbers,
booleans, dates and times, JSON), no multi-table inheritance.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from uuid import UUID

from django.db import connection
from django.db.models.base import ModelState
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_escape(text: str) -> str:
    """A string as a value in COPY's text format: backslash, tab and line
    breaks escaped (looked for first: most strings have none)."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_ESCAPES)
    return text


def _text(value) -> str:
    return str(value).translate(_ESCAPES)


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False).translate(_ESCAPES)


# By exact type: one dict lookup per value instead of a chain of isinstance
# (a million values for 10,000 leads with their customers and history).
_FORMAT = {
    type(None): lambda value: "\\N",
    bool: lambda value: "t" if value else "f",
    int: str,
    float: str,
    Decimal: str,
    UUID: str,
    str: copy_escape,
    datetime: datetime.isoformat,
    date: date.isoformat,
    dict: _json,
    list: _json,
}


def _copy_value(value) -> str:
    formatter = _FORMAT.get(type(value))
    if formatter is None:  # subclasses: aware datetimes from other tz classes, str enums
        for kind, candidate in _FORMAT.items():
            if kind is not type(None) and isinstance(value, kind):
                formatter = candidate
                break
        else:
            formatter = _text
    return formatter(value)


_NULL = "\\N"


def _format_row(values) -> list[str]:
    """One row's values in COPY's text format. Nulls (most of a new lead's
    columns) and the plain types are formatted inline, without a call."""
    get = _FORMAT.get
    return [
        _NULL
        if value is None
        else (formatter(value) if (formatter := get(type(value))) else _copy_value(value))
        for value in values
    ]


def _copy(model, columns: list[str], rows) -> None:
    copy_text(model, columns, ("\t".join(_format_row(row)) + "\n" for row in rows))


class _Chunks:
    """A read-only file over an iterable of text lines, read in chunks of
    about ``size`` characters: COPY streams the lines as they are made, so
    the database writes one chunk while Python makes the next, and the data
    is never in memory all at once."""

    def __init__(self, lines: Iterable[str], size: int = 1 << 20):
        self.lines = iter(lines)
        self.size = size

    def read(self, size: int = -1) -> str:
        chunk, length = [], 0
        for line in self.lines:
            chunk.append(line)
            length += len(line)
            if length >= self.size:
                break
        return "".join(chunk)


def copy_text(model, columns: list[str], lines: Iterable[str]) -> None:
    """``COPY model (columns) FROM STDIN`` of lines already in COPY's text
    format (tab-separated, ``\\N`` for null, backslash, tab and newlines
    escaped, ending in a newline), streamed. PostgreSQL only."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    # copy_expert bypasses Django's cursor wrapper: translate driver errors
    # ourselves, so a unique violation is an IntegrityError like any insert's.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        # The read size positionally: Django's debug cursor passes no keywords.
        cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN", _Chunks(lines), 1 << 20)


def copy_rows(model, columns: list[str], rows) -> None:
    """Insert plain tuples (values in ``columns`` order, by attname) without
    building model instances: ``COPY`` on PostgreSQL (streamed: ``rows`` may
    be a generator), ``executemany`` elsewhere. No history, no ``auto_now``:
    for machine-written logs (a million CDRs) where a model instance per row
    costs more than the write."""
    if connection.vendor == "postgresql":
        _copy(model, columns, rows)
        return
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    marks = ", ".join(["%s"] * len(columns))

    def prepared(row):
        return [json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v for v in row]

    # Table and column names come from the model, quoted; values are parameters.
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, [prepared(row) for row in rows])


def _allocate_ids(model, count: int) -> list[int]:
    table = model._meta.db_table
    column = model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def bulk_insert(model, objs: list, *, actor=None, reason: str = "", when=None) -> list:
    """Insert ``objs`` (unsaved instances of ``model``) and, if the model has
    history, one "created" history row each. Sets ``pk`` on every object."""
    if not objs:
        return objs
    when = when or timezone.now()
    history = getattr(model, "history", None)
    if connection.vendor != "postgresql":
        if history is None:
            return model.objects.bulk_create(objs, batch_size=1000)
        return bulk_create_with_history(
            objs,
            model,
            batch_size=1000,
            default_user=actor,
            default_change_reason=reason,
            default_date=when,
        )
    fields = list(model._meta.concrete_fields)
    stamped = [
        field.attname
        for field in fields
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    ]
    alias = connection.alias
    for obj, pk in zip(objs, _allocate_ids(model, len(objs)), strict=True):
        values = obj.__dict__
        values[model._meta.pk.attname] = pk
        for name in stamped:
            values[name] = when
        obj._state.adding = False
        obj._state.db = alias
    # Each value is formatted once: the history row repeats the tracked ones.
    values_of = attrgetter(*[field.attname for field in fields])
    formatted = [_format_row(values_of(obj)) for obj in objs]
    copy_text(
        model,
        [field.column for field in fields],
        ("\t".join(row) + "\n" for row in formatted),
    )
    if history is not None:
        _copy_history(model, fields, formatted, actor=actor, reason=reason, when=when)
    return objs


def _copy_history(model, fields, formatted: list[list[str]], *, actor, reason, when) -> None:
    """The "created" history rows, from the rows' values already formatted:
    the tracked columns picked by position, the history's own appended."""
    history_model = model.history.model
    position = {field.attname: index for index, field in enumerate(fields)}
    extra = {
        "history_date": when,
        "history_change_reason": reason or None,
        "history_type": "+",
        "history_user_id": getattr(actor, "pk", None),
    }
    tracked, extra_columns, extra_values = [], [], []
    for field in history_model._meta.concrete_fields:
        if field.attname == "history_id":
            continue  # the history table's own serial
        if field.attname in extra:
            extra_columns.append(field.column)
            extra_values.append(extra[field.attname])
        elif field.attname in position:
            tracked.append(field)
        else:
            raise ValueError(f"cannot fill history column {field.attname} of {model.__name__}")
    picks = [position[field.attname] for field in tracked]
    suffix = "".join("\t" + value for value in _format_row(extra_values)) + "\n"
    copy_text(
        history_model,
        [field.column for field in tracked] + extra_columns,
        ("\t".join([row[i] for i in picks]) + suffix for row in formatted),
    )


def build(model, values: dict):
    """An unsaved instance of ``model`` from attnames, without ``Model.__init__``
    (its per-field machinery costs more than COPY's write for 100,000 rows):
    every concrete field is set, to ``values`` or its default, so nothing is
    deferred. No ``pre_init``/``post_init`` signals: for bulk paths only."""
    defaults, callables = _defaults(model)
    obj = model.__new__(model)
    state = obj.__dict__
    state.update(defaults)
    for name, default in callables:
        state[name] = default()
    state.update(values)
    obj._state = ModelState()
    return obj


_DEFAULTS: dict = {}


def _defaults(model):
    found = _DEFAULTS.get(model)
    if found is None:
        fixed, callables = {}, []
        for field in model._meta.concrete_fields:
            if field.has_default() and callable(field.default):
                callables.append((field.attname, field.default))
            else:
                fixed[field.attname] = field.get_default()
        found = _DEFAULTS[model] = (fixed, callables)
    return found
