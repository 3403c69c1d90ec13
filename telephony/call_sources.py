"""Call-log sources set up by the store (issue 15, point 5): saving one (a
manager's or administrator's, within their scope, audited) and "try a file":
the first calls of a file as they would be imported, before saving.

Nothing is written by ``try_file``; one query finds the staff of the
previewed extensions (no query per row).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from dcc import audit
from dcc.models import Store
from dcc.policy import require
from telephony import parsers
from telephony.models import CallSource, ExtensionAssignment

PREVIEW_CALLS = 20
EDITABLE = (
    "name",
    "format",
    "columns",
    "time_zone",
    "dial_prefixes",
    "area_code",
    "extension_min_length",
    "extension_max_length",
    "channel_extensions",
    "caller_prefix_chars",
    "date_order",
    "file_name_pattern",
    "folder",
    "pattern",
    "is_active",
)


def save_source(*, actor, source: CallSource | None, store: Store, values: dict) -> CallSource:
    """Create or change a source of ``store``; ValidationError (by field)
    for settings the parsers would refuse (a column map without a required
    field, an unknown zone), PermissionDenied outside the actor's scope."""
    require(actor, "telephony.sources.manage")
    if not Store.objects.visible_to(actor).filter(pk=store.pk).exists():
        raise PermissionDenied("store outside the actor's scope")
    creating = source is None
    if creating:
        source = CallSource(store=store)
    elif source.store_id != store.pk:
        raise PermissionDenied("source of another store")
    changed = audit.assign(source, {k: v for k, v in values.items() if k in EDITABLE})
    source.full_clean()
    with transaction.atomic():
        audit.attribute(source, actor=actor, reason="call-log source set up by the store")
        source.save()
        audit.record(
            "telephony.source.created" if creating else "telephony.source.changed",
            actor=actor,
            target=source,
            changed=changed,
        )
    return source


@dataclass
class PreviewRow:
    started_at: object
    direction: str
    extension: str | None
    staff: str
    number: str
    answered_by: str
    ring_seconds: int | None
    talk_seconds: int


@dataclass
class Preview:
    format: str
    rows: list[PreviewRow]
    errors: list[parsers.ParseError]


def try_file(*, store: Store, config: parsers.SourceConfig, data: bytes, detect: bool) -> Preview:
    """The first PREVIEW_CALLS calls of ``data`` read with ``config`` (its
    format recognised first when ``detect``). ValidationError with the
    reason when the file cannot be read at all."""
    from telephony.parsers.detect import detect as detect_format

    try:
        if detect:
            from dataclasses import replace

            config = replace(config, format=detect_format(data[:8192]))
        errors: list[parsers.ParseError] = []
        calls = []
        items = parsers.parse(io.BytesIO(data), config)
        if config.format == "card_index":
            from telephony.parsers import card_index

            items = card_index.call_legs(items)
        for call in parsers.group_calls(parsers.only_records(items, errors)):
            calls.append(call)
            if len(calls) >= PREVIEW_CALLS:
                break
    except parsers.FileRejected as error:
        raise ValidationError({"file": [str(error)]}) from error
    except ValueError as error:
        raise ValidationError({"file": [str(error)]}) from error
    calls.sort(key=lambda call: call.started_at)
    staff = _staff_of(store, calls)
    rows = [
        PreviewRow(
            call.started_at,
            call.direction,
            call.extension,
            staff.get((call.extension, call.started_at), ""),
            call.external_number or call.external_raw,
            call.answered_by,
            call.ring_seconds,
            call.billsec,
        )
        for call in calls
    ]
    return Preview(config.format, rows, errors[:PREVIEW_CALLS])


def _staff_of(store, calls) -> dict:
    """(extension, time) → the name of who had the extension then: one query."""
    extensions = {call.extension for call in calls if call.extension}
    if not extensions:
        return {}
    assignments = list(
        ExtensionAssignment.objects.filter(store=store, extension__in=extensions).select_related(
            "staff"
        )
    )
    found = {}
    for call in calls:
        for item in assignments:
            if item.extension != call.extension:
                continue
            if item.valid_from and call.started_at < item.valid_from:
                continue
            if item.valid_to and call.started_at >= item.valid_to:
                continue
            name = item.staff.get_full_name() or item.staff.get_username()
            found[(call.extension, call.started_at)] = name
    return found
