"""Recordings (issue 5 §4): adding audio files of calls, one at a time (the
API, the management command) or a source's whole folder (the beat job).

What a recording says about its call, in this order of precedence:

1. what the caller states: the API's fields, a recording card's index row;
2. the FreePBX file name, when it is one
   (``<type>-<dest>-<from>-YYYYMMDD-HHMMSS-<uniqueid>.<fmt>``, read in the
   source's time zone, else the server's);
3. the call it belongs to: the call whose key or uniqueid is the
   recording's uniqueid, else the call started within two minutes of it on
   the same extension or with the same customer number (no known field may
   disagree; most agreeing fields first, then the nearest in time).

Agent and lead come from that call; without one (or where the call has
none), from whoever had the extension at the time and the lead with the
number (``telephony.cdr.staff_at`` / ``lead_for_number``: the same
rules as for calls, in SQL).

Identity: the uniqueid where there is one, else the file's SHA-256; the
same file or uniqueid added again is a duplicate and the stored recording is
returned (``RecordingAdded.created`` is False). Audio is checked by its
first bytes and its size (``telephony.audio``). Files go through Django's
storage API under an unguessable name; a file whose row could not be
written is deleted again.

Folder imports (``import_recording_folder``) write a :class:`CallImport`
report first (committed on its own, like ``import_cdr``), then add every new
file in one transaction: all or none. A file that cannot be added is a line
in the report and the others go on; files stored by an import whose
transaction fails are deleted again (a killed process can leave stored files
no row points to; they are harmless and a re-run adds them again). A run
that finds nothing new, with the same problems as the last report, writes
no report, so a beat job every few minutes does not bury the reports.
FreePBX files still being written (younger than
``TELEPHONY_RECORDING_MIN_AGE`` seconds) wait for the next run. Recordings
that arrived before their call log are linked on later runs
(``link_unlinked``).
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from dcc import audit
from dcc.models import Store
from telephony import parsers
from telephony.audio import EXTENSIONS, Audio, check_audio, wav_seconds
from telephony.cdr import lead_for_number, lead_for_other_number, staff_at
from telephony.models import (
    Call,
    CallImport,
    CallSource,
    Direction,
    Format,
    ImportKind,
    ImportStatus,
    Recording,
)
from telephony.parsers import card_index, freepbx_recordings
from telephony.services import (
    ImportRejected,
    file_digest,
    finish_report,
    import_cdr,
    require_store,
    start_report,
)

# A FreePBX recording is written while the call lasts: files younger than
# this are left for the next run.
DEFAULT_MIN_AGE = 60
# A recording and its call: started this close together.
CALL_WINDOW = timedelta(minutes=2)
# Recordings added before their call was imported are linked on later runs
# for this long.
RELINK_FOR = timedelta(days=1)

KEY_LENGTH = Recording._meta.get_field("key").max_length
NAME_LENGTH = Recording._meta.get_field("original_name").max_length


# ---------------------------------------------------------------- metadata


@dataclass
class Meta:
    """What is known about a recording's call before it is stored."""

    uniqueid: str = ""
    started_at: datetime | None = None
    direction: str = ""
    extension: str = ""
    external_number: str = ""  # E.164 or ""
    duration: int | None = None

    def fill(self, **values) -> Meta:
        """Values for the fields still unknown."""
        missing = {
            name: value
            for name, value in values.items()
            if value not in (None, "") and getattr(self, name) in (None, "")
        }
        return dataclasses.replace(self, **missing)


def name_config(store: Store, source: CallSource | None) -> parsers.SourceConfig:
    """How to read FreePBX names: the source's settings (zone, prefixes,
    extension lengths), else the server's zone and the store's area code."""
    if source is not None:
        base = source.config()
        return dataclasses.replace(base, format=Format.FREEPBX_RECORDINGS, columns=None)
    return parsers.SourceConfig(
        format=Format.FREEPBX_RECORDINGS, tz=settings.TIME_ZONE, area_code=store.area_code
    )


def meta_from_name(name: str, config: parsers.SourceConfig) -> Meta | None:
    try:
        parsed = freepbx_recordings.parse_name(name, config)
    except freepbx_recordings.RecordingNameError:
        return None
    return Meta(
        uniqueid=parsed.uniqueid,
        started_at=parsed.started_at,
        direction=parsed.direction,
        extension=parsed.extension or "",
        external_number=parsed.external_number or "",
    )


def _call_for(store_id: int, meta: Meta) -> Call | None:
    calls = Call.objects.filter(store_id=store_id)
    if meta.uniqueid:
        call = calls.filter(key=meta.uniqueid).first()
        if call is None:
            by_uniqueid = calls.filter(uniqueid=meta.uniqueid)
            if meta.started_at is not None:  # the time index, not a scan of every call
                by_uniqueid = by_uniqueid.filter(
                    started_at__gte=meta.started_at - timedelta(hours=12),
                    started_at__lte=meta.started_at + timedelta(hours=12),
                )
            call = by_uniqueid.order_by("started_at").first()
        if call is not None:
            return call
    if meta.started_at is None or not (meta.extension or meta.external_number):
        return None
    parties = Q()
    if meta.extension:
        parties |= Q(extension=meta.extension)
    if meta.external_number:
        parties |= Q(external_number=meta.external_number)
    near = calls.filter(
        parties,
        started_at__gte=meta.started_at - CALL_WINDOW,
        started_at__lte=meta.started_at + CALL_WINDOW,
    )
    return best_call(meta, list(near[:50]))


def best_call(meta: Meta, candidates) -> Call | None:
    """Of the calls near a recording: none whose known fields disagree with
    it; the most agreeing fields first, then the nearest in time."""
    best, best_rank = None, None
    for call in candidates:
        agree = 0
        conflict = False
        for mine, theirs in (
            (meta.extension, call.extension),
            (meta.external_number, call.external_number),
            (meta.direction, call.direction),
        ):
            if mine and theirs:
                if mine == theirs:
                    agree += 1
                else:
                    conflict = True
        if conflict or not agree:
            continue
        rank = (-agree, abs((call.started_at - meta.started_at).total_seconds()), call.pk)
        if best_rank is None or rank < best_rank:
            best, best_rank = call, rank
    return best


def match_recordings(recordings) -> None:
    """Agent and lead for recordings without them: whoever had the extension
    at the time, the lead with the number (the calls' rules, in SQL)."""
    recordings.filter(agent__isnull=True).exclude(extension="").update(agent_id=staff_at())
    numbered = recordings.filter(lead__isnull=True).exclude(external_number="")
    numbered.update(lead_id=lead_for_number(moment_ref="started_at"))
    numbered.filter(lead__isnull=True).update(
        lead_id=lead_for_other_number(moment_ref="started_at")
    )


def link_unlinked(
    *, store_id: int, since: datetime | None = None, calls_between: tuple | None = None
) -> int:
    """Recordings added before their call was imported: link them now (two
    queries, whatever their number). ``calls_between``: the first and last
    start of the calls just imported (a call log arriving days after its
    recordings), else the recordings added since ``since``. Returns how
    many were linked."""
    waiting = Recording.objects.filter(store_id=store_id, call__isnull=True)
    if calls_between is not None:
        first, last = calls_between
        waiting = waiting.filter(
            started_at__gte=first - CALL_WINDOW, started_at__lte=last + CALL_WINDOW
        )
    else:
        waiting = waiting.filter(created_at__gte=since or timezone.now() - RELINK_FOR)
    waiting = list(waiting)
    if not waiting:
        return 0
    first = min(r.started_at for r in waiting) - CALL_WINDOW
    last = max(r.started_at for r in waiting) + CALL_WINDOW
    calls = list(
        Call.objects.filter(store_id=store_id, started_at__gte=first, started_at__lte=last).only(
            "pk",
            "key",
            "uniqueid",
            "started_at",
            "direction",
            "extension",
            "external_number",
            "agent_id",
            "lead_id",
        )
    )
    by_id = {call.key: call for call in calls} | {c.uniqueid: c for c in calls if c.uniqueid}
    linked = 0
    for recording in waiting:
        meta = Meta(
            uniqueid="" if recording.key == recording.sha256 else recording.key,
            started_at=recording.started_at,
            direction=recording.direction,
            extension=recording.extension,
            external_number=recording.external_number,
        )
        call = by_id.get(meta.uniqueid) if meta.uniqueid else None
        call = call or best_call(
            meta, [c for c in calls if abs(c.started_at - recording.started_at) <= CALL_WINDOW]
        )
        if call is None:
            continue
        Recording.objects.filter(pk=recording.pk).update(
            call=call,
            agent_id=call.agent_id or recording.agent_id,
            lead_id=call.lead_id or recording.lead_id,
        )
        linked += 1
    return linked


# ---------------------------------------------------------------- adding one


class RecordingAdded(NamedTuple):
    recording: Recording
    created: bool  # False: the same file or uniqueid was there already


def _storage_name(name: str) -> str:
    """An unguessable name that keeps the original's readable end."""
    base = PurePosixPath(name.replace("\\", "/")).name or "recording"
    return f"{secrets.token_hex(8)}_{base[-80:]}"


def recording_add(
    *,
    actor,
    store: Store,
    file,
    name: str,
    uniqueid: str | None = None,
    started_at: datetime | None = None,
    direction: str | None = None,
    extension: str | None = None,
    external_number: str | None = None,
    duration: int | None = None,
    source: CallSource | None = None,
    call_import: CallImport | None = None,
    via: str = "upload",
) -> RecordingAdded:
    """Add one recording of ``store`` (a binary, seekable file named ``name``).

    ``external_number`` is read as written by the PBX (dialling prefix, no
    area code…) and normalised; ``started_at`` must be aware. ``actor``
    None: the system (the folder import, the management command).
    """
    require_store(actor, store)
    if source is not None and source.store_id != store.pk:
        raise ValidationError({"source": _("This call-log source belongs to another store.")})
    if direction and direction not in Direction.values:
        raise ValidationError({"direction": _("Unknown direction: %(d)s.") % {"d": direction}})
    audio = check_audio(file, name)
    config = name_config(store, source)
    meta = Meta(
        uniqueid=(uniqueid or "").strip(),
        started_at=started_at,
        direction=direction or "",
        extension=(extension or "").strip(),
        duration=duration,
    )
    from_name = meta_from_name(name, config)
    if from_name is not None:
        meta = meta.fill(**dataclasses.asdict(from_name))
    raw_number = (external_number or "").strip()
    if raw_number:
        dialled = meta.direction == Direction.OUTBOUND
        meta.external_number = parsers.external_number(raw_number, config, dialled=dialled) or ""
    return add_with_meta(
        actor=actor,
        store=store,
        file=file,
        name=name,
        audio=audio,
        meta=meta,
        call_import=call_import,
        via=via,
    )


def add_with_meta(
    *, actor, store, file, name, audio: Audio, meta: Meta, call_import=None, via="upload"
) -> RecordingAdded:
    """The second half of ``recording_add``: the metadata is resolved from
    the file name or an index row; find the call, store the file, write the
    row."""
    key = (meta.uniqueid or audio.sha256)[:KEY_LENGTH]
    existing = Recording.objects.filter(store=store, key=key).first()
    if existing is not None:
        return RecordingAdded(existing, False)
    call = _call_for(store.pk, meta)
    if call is not None:
        meta = meta.fill(
            started_at=call.started_at,
            direction=call.direction,
            extension=call.extension,
            external_number=call.external_number,
        )
    if meta.started_at is None:
        raise ValidationError(
            {
                "started_at": _(
                    "When did the call start? Give started_at or the uniqueid of an "
                    "imported call (the file name is not a FreePBX recording name)."
                )
            }
        )
    if not meta.direction:
        raise ValidationError(
            {"direction": _("Give the call's direction (inbound, outbound or internal).")}
        )
    if meta.duration is None and audio.format == "wav":
        meta.duration = wav_seconds(file)
    recording = Recording(
        store=store,
        call=call,
        key=key,
        original_name=PurePosixPath(name.replace("\\", "/")).name[-NAME_LENGTH:],
        sha256=audio.sha256,
        size=audio.size,
        content_type=audio.content_type,
        started_at=meta.started_at,
        duration=meta.duration,
        direction=meta.direction,
        extension=meta.extension[:20],
        external_number=meta.external_number,
        agent_id=call.agent_id if call else None,
        lead_id=call.lead_id if call else None,
        call_import=call_import,
    )
    file.seek(0)
    content = file if isinstance(file, File) else File(file)
    recording.file.save(_storage_name(name), content, save=False)
    try:
        with transaction.atomic():
            recording.save()
            match_recordings(Recording.objects.filter(pk=recording.pk))
            if call_import is None:
                audit.record(
                    "telephony.recording.added",
                    actor=actor,
                    target=recording,
                    store=store,
                    via=via,
                    file_name=recording.original_name,
                )
    except IntegrityError:
        # The same recording added at the same moment by someone else.
        recording.file.delete(save=False)
        existing = Recording.objects.filter(store=store, key=key).first()
        if existing is None:
            raise
        return RecordingAdded(existing, False)
    except BaseException:
        recording.file.delete(save=False)
        raise
    recording.refresh_from_db()
    return RecordingAdded(recording, True)


# ---------------------------------------------------------------- folders


@dataclass
class _Item:
    line: int
    path: Path
    name: str
    meta: Meta


def import_recording_folder(
    *,
    source: CallSource,
    via: str = "folder",
    folder: str | Path | None = None,
    actor=None,
    min_age: int | None = None,
) -> list[CallImport]:
    """Import the recordings in a source's folder (or ``folder``): FreePBX
    names anywhere below it, or a recording card's index files
    (``source.pattern``) with file paths relative to the folder. Idempotent.
    Returns the reports written (none when nothing was new)."""
    store = source.store
    require_store(actor, store)
    root = Path(folder or source.folder)
    if not str(folder or source.folder):
        raise ImportRejected(_("This source has no import folder."))
    if not root.is_dir():
        raise ImportRejected(_("%(folder)s is not a folder.") % {"folder": root})
    if source.format in NAME_READERS:
        if min_age is None:
            min_age = int(getattr(settings, "TELEPHONY_RECORDING_MIN_AGE", DEFAULT_MIN_AGE))
        report = _import_by_names(source, store, root, via=via, actor=actor, min_age=min_age)
        reports = [report] if report else []
    elif source.format == Format.CARD_INDEX:
        reports = _import_card_indexes(source, store, root, via=via, actor=actor)
    else:
        raise ImportRejected(
            _("%(format)s is a call-log format, not recordings.") % {"format": source.format}
        )
    # Calls imported since the last run may be the calls of earlier recordings.
    link_unlinked(store_id=store.pk)
    return reports


def index_file_path(root: Path, written: str) -> Path | None:
    """The file an index row names, under ``root``: a recorder on Windows
    writes ``D:\\Record\\2026\\11\\03\\x.wav`` (drive and its own folder),
    so the drive is dropped and the longest tail of the path that exists
    under ``root`` is taken (``2026/11/03/x.wav`` when ``root`` is the copy
    of ``D:\\Record``); else the whole path under root (reported missing).
    None for a path climbing out (``..``)."""
    parts = [part for part in written.replace("\\", "/").split("/") if part]
    if parts and len(parts[0]) == 2 and parts[0][1] == ":":
        parts = parts[1:]  # a Windows drive letter
    if not parts or ".." in parts:
        return None
    for start in range(len(parts)):
        candidate = root.joinpath(*parts[start:])
        if candidate.is_file():
            return candidate
    return root.joinpath(*parts)


def _audio_files(root: Path):
    for path in sorted(root.rglob("*")):
        if path.suffix.lower().lstrip(".") in EXTENSIONS and path.is_file():
            yield path


def _freepbx_reader(config):
    """FreePBX's own recording names (parsers/freepbx_recordings.py)."""

    def read(relative: str, path: Path, line: int):
        parsed = freepbx_recordings.parse_name(relative, config, line=line)
        meta = Meta(
            uniqueid=parsed.uniqueid,
            started_at=parsed.started_at,
            direction=parsed.direction,
            extension=parsed.extension or "",
            external_number=parsed.external_number or "",
        )
        return parsed.name, meta

    return read


def _named_files_reader(config):
    """A recorder that only names its files: the source's file-name pattern
    (parsers/named_files.py)."""
    from telephony.parsers import named_files

    try:
        pattern = named_files.compile_pattern(config.file_name_pattern)
    except ValueError as error:
        raise ImportRejected(str(error)) from error

    def read(relative: str, path: Path, line: int):
        parsed = named_files.parse_name(relative, line, config, pattern)
        meta = Meta(
            started_at=parsed.started_at,
            direction=parsed.direction,
            extension=parsed.extension or "",
            external_number=parsed.external_number or "",
            duration=parsed.duration,
        )
        return path.name, meta

    return read


# The formats whose calls are read from the recordings' own names.
NAME_READERS = {
    Format.FREEPBX_RECORDINGS: _freepbx_reader,
    Format.NAMED_FILES: _named_files_reader,
}


def _import_by_names(source, store, root: Path, *, via, actor, min_age) -> CallImport | None:
    """Each audio file under the folder, read by its name in the source's
    format; a name that cannot be read is a line error, the rest go on."""
    read = NAME_READERS[source.format](source.config())
    cutoff = time.time() - min_age
    items, errors, lines = [], [], 0
    for path in _audio_files(root):
        if path.stat().st_mtime > cutoff:
            continue  # still being written: the next run takes it
        lines += 1
        relative = path.relative_to(root).as_posix()
        try:
            name, meta = read(relative, path, lines)
        except ValueError as error:  # RecordingNameError is one
            errors.append({"line": lines, "message": f"{relative}: {error}"})
            continue
        items.append(_Item(lines, path, name, meta))
    return _run(
        source=source,
        store=store,
        report_name=str(root),
        digest="",
        size=0,
        format=source.format,
        items=items,
        errors=errors,
        lines=lines,
        via=via,
        actor=actor,
    )


def _import_card_indexes(source, store, root: Path, *, via, actor) -> list[CallImport]:
    config = source.config()
    inside = root.resolve()
    reports = []
    for index in sorted(root.glob(source.pattern or "*.csv")):
        if not index.is_file():
            continue
        with index.open("rb") as fileobj:
            digest, size = file_digest(fileobj)
            # Read in full before without a problem: nothing can be new.
            if CallImport.objects.filter(
                store=store,
                kind=ImportKind.RECORDINGS,
                file_sha256=digest,
                status=ImportStatus.DONE,
                error_count=0,
            ).exists():
                continue
            # The index's rows are calls too (no PBX log in such a store):
            # imported first, so that each recording finds its call.
            import_cdr(
                actor=actor,
                store=store,
                fileobj=fileobj,
                file_name=str(index),
                source=source,
                format=Format.CARD_INDEX,
                via=via,
            )
            fileobj.seek(0)
            items, errors, lines = [], [], 0
            for row in card_index.parse(fileobj, config):
                lines = max(lines, row.line)
                if isinstance(row, parsers.ParseError):
                    errors.append({"line": row.line, "message": row.message})
                    continue
                path = index_file_path(root, row.file)
                if path is None or not path.resolve().is_relative_to(inside):
                    errors.append(
                        {
                            "line": row.line,
                            "message": _("%(file)s: outside the folder %(folder)s")
                            % {"file": row.file, "folder": root},
                        }
                    )
                    continue
                if not path.is_file():
                    errors.append(
                        {
                            "line": row.line,
                            "message": _("%(file)s: no such file in %(folder)s")
                            % {"file": row.file, "folder": root},
                        }
                    )
                    continue
                meta = Meta(
                    started_at=row.started_at,
                    direction=row.direction,
                    extension=row.extension or "",
                    external_number=row.external_number or "",
                    duration=row.duration,
                )
                items.append(_Item(row.line, path, path.name, meta))
        report = _run(
            source=source,
            store=store,
            report_name=str(index),
            digest=digest,
            size=size,
            format=Format.CARD_INDEX,
            items=items,
            errors=errors,
            lines=lines,
            via=via,
            actor=actor,
        )
        if report is not None:
            reports.append(report)
    return reports


def _already_stored(store, items: list[_Item]) -> set[int]:
    """Lines of the items stored before, found without reading their audio:
    by uniqueid, else by start time and file name (a batch per query)."""
    known: set[int] = set()
    for start in range(0, len(items), 400):
        batch = items[start : start + 400]
        keys = {item.meta.uniqueid[:KEY_LENGTH]: item for item in batch if item.meta.uniqueid}
        if keys:
            stored = Recording.objects.filter(store=store, key__in=list(keys))
            known |= {keys[key].line for key in stored.values_list("key", flat=True)}
        others = [item for item in batch if not item.meta.uniqueid]
        if others:
            stored = set(
                Recording.objects.filter(
                    store=store,
                    started_at__in={item.meta.started_at for item in others},
                    original_name__in={item.name for item in others},
                ).values_list("started_at", "original_name")
            )
            known |= {item.line for item in others if (item.meta.started_at, item.name) in stored}
    return known


def _run(
    *, source, store, report_name, digest, size, format, items, errors, lines, via, actor
) -> CallImport | None:
    errors = errors[: CallImport.MAX_ERRORS_KEPT]
    known = _already_stored(store, items)
    new = [item for item in items if item.line not in known]
    last_errors = (
        CallImport.objects.filter(
            store=store, kind=ImportKind.RECORDINGS, file_name=report_name[:300]
        )
        .values_list("errors", flat=True)
        .first()
    )
    if not new and (not errors or errors == last_errors):
        return None  # nothing new to say
    report = start_report(
        actor=actor,
        store=store,
        source=source if source.pk else None,
        kind=ImportKind.RECORDINGS,
        format=format,
        file_name=report_name,
        digest=digest,
        size=size,
        via=via,
    )
    report.lines = lines
    report.errors = list(errors)
    report.error_count = len(errors)
    report.duplicates = len(known)
    stored: list[Recording] = []
    try:
        with transaction.atomic():
            for item in new:
                _import_item(report, store, item, stored)
    except BaseException as error:
        # The transaction is rolled back: remove the files it stored.
        for recording in stored:
            recording.file.delete(save=False)
        finish_report(report, ImportStatus.FAILED, f"{type(error).__name__}: {error}")
        raise
    if not report.imported and report.errors == last_errors:
        # Only the files that failed last time, failing again: nothing new.
        report.delete()
        return None
    report.count_matches(Recording.objects.filter(call_import=report))
    return finish_report(report, ImportStatus.DONE)


def _import_item(report: CallImport, store, item: _Item, stored: list) -> None:
    def problem(message):
        report.error_count += 1
        if len(report.errors) < CallImport.MAX_ERRORS_KEPT:
            report.errors.append({"line": item.line, "message": f"{item.name}: {message}"})

    try:
        with item.path.open("rb") as fileobj:
            audio = check_audio(fileobj, item.name)
            added = add_with_meta(
                actor=None,
                store=store,
                file=fileobj,
                name=item.name,
                audio=audio,
                meta=item.meta,
                call_import=report,
                via=report.via,
            )
    except ValidationError as error:
        problem(" ".join(error.messages))
        return
    except IntegrityError as error:
        # Refused by a constraint (a negative duration…): rolled back to the
        # item's savepoint, so the other lines go on.
        # The first line only: PostgreSQL's DETAIL names the row's id.
        first_line = str(error).strip().splitlines()[0]
        problem(_("refused by the database: %(error)s") % {"error": first_line})
        return
    except OSError as error:
        problem(str(error))
        return
    if added.created:
        stored.append(added.recording)
        report.imported += 1
    else:
        report.duplicates += 1
