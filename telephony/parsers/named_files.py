"""Recorders that only name their files (no index): a file-name pattern
with named groups per source (issue 15, point 5).

Groups: ``start`` (``YYYYMMDDHHMMSS``, ``YYYYMMDD-HHMMSS`` or
``YYYYMMDD_HHMMSS``), ``number`` (the customer's), ``caller`` and
``callee`` (when the recorder writes both sides), ``extension`` or
``channel`` (mapped to an extension by the source's channel map),
``direction`` (the card index's words: 呼入/呼出/来电/去电/转移/三方/in/out…)
and optional ``duration`` (seconds). Each name yields a CardRecording, so
the card-index machinery (``card_index.call_legs``, the recording import)
takes it as it takes an index row. Ready patterns for common recorders are
in :data:`PRESETS` (TELEPHONY.md "Recording cards" and "Yeastar").
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.utils.translation import gettext as _

from telephony.parsers import (
    INBOUND,
    INTERNAL,
    OUTBOUND,
    ParseError,
    SourceConfig,
    content_key,
    external_number,
    iter_lines,
    parse_time,
)
from telephony.parsers.card_index import DIRECTIONS, CardRecording

PRESETS = {
    # Synway / Donjin recorder software: YYYY/MM/DD/YYYYMMDDHHMMSS_<caller>_<callee>.wav
    "card_start_caller_callee": r"(?P<start>\d{14})_(?P<caller>[^_]*)_(?P<callee>[^_.]*)\.\w+",
    # Per-channel recorders: <channel>_<direction>_<number>_<YYYYMMDDHHMMSS>.wav
    "channel_direction_number_start": (
        r"(?P<channel>\d+)_(?P<direction>[^_]+)_(?P<number>[^_]*)_(?P<start>\d{14})\.\w+"
    ),
    # Yeastar: YYYYMMDDHHMMSS-<callid>-<from>-<to>-<Type>.wav
    "yeastar": (
        r"(?P<start>\d{14})-(?P<callid>[^-]+(?:\.\d+)?)-(?P<caller>[^-]*)-(?P<callee>[^-]*)-"
        r"(?P<direction>Inbound|Outbound|Internal)\.\w+"
    ),
}


def compile_pattern(pattern: str) -> re.Pattern:
    """The source's pattern (or a preset's name); ValueError when it is not
    a regular expression or names neither ``start`` nor a party."""
    text = PRESETS.get(pattern, pattern)
    try:
        compiled = re.compile(text)
    except re.error as error:
        raise ValueError(
            _("The file-name pattern is not a regular expression: %(error)s") % {"error": error}
        ) from None
    groups = set(compiled.groupindex)
    if "start" not in groups or not groups & {"number", "caller", "callee"}:
        raise ValueError(
            _("The file-name pattern needs the groups start and number (or caller/callee).")
        )
    return compiled


def _start(text: str) -> str:
    return re.sub(r"[-_T ]", "", text)


def parse_name(path: str, line: int, config: SourceConfig, pattern: re.Pattern) -> CardRecording:
    name = path.strip().replace("\\", "/").rsplit("/", 1)[-1]
    match = pattern.fullmatch(name)
    if match is None:
        raise ValueError(
            _("%(name)s does not match the source's file-name pattern") % {"name": repr(name)}
        )
    parts = match.groupdict()
    try:
        started_at = parse_time(_start(parts["start"]), config.zone)
    except ValueError:
        raise ValueError(
            _("%(name)s: %(value)s is not a date and time")
            % {"name": repr(name), "value": parts["start"]}
        ) from None
    written = (parts.get("direction") or "").strip()
    direction = DIRECTIONS.get(written.lower()) if written else None
    if written and direction is None:
        raise ValueError(_("unknown direction %(value)s") % {"value": repr(written)})
    is_ext = config.is_extension
    channel = parts.get("channel") or ""
    extension = parts.get("extension") or config.channel_extensions.get(channel) or None
    caller, callee = parts.get("caller") or "", parts.get("callee") or ""
    number = parts.get("number") or ""
    if not number:
        if not direction:
            direction = (INTERNAL if is_ext(callee) else OUTBOUND) if is_ext(caller) else INBOUND
        if direction == OUTBOUND:
            number, extension = callee, extension or (caller if is_ext(caller) else None)
        elif direction == INBOUND:
            number, extension = caller, extension or (callee if is_ext(callee) else None)
        else:
            extension = extension or (caller if is_ext(caller) else None)
    elif not direction:
        direction = INBOUND
    duration = parts.get("duration")
    return CardRecording(
        line=line,
        key=content_key((path.strip(),)),
        channel=channel,
        direction=direction,
        caller=caller or (number if direction == INBOUND else extension or ""),
        callee=callee or (number if direction == OUTBOUND else extension or ""),
        started_at=started_at,
        duration=int(duration) if duration and duration.isdigit() else None,
        file=path.strip(),
        extension=extension,
        external_number=(
            external_number(number, config, dialled=direction == OUTBOUND) if number else None
        ),
        external_raw=number,
        raw=(path.strip(),),
    )


def parse(fileobj, config: SourceConfig, pattern: str) -> Iterator[CardRecording | ParseError]:
    """One CardRecording per file name (one a line: a directory listing)."""
    compiled = compile_pattern(pattern)
    for item in iter_lines(fileobj):
        if isinstance(item, ParseError):
            yield item
            continue
        number, text = item
        if not text.strip():
            continue
        try:
            yield parse_name(text, number, config, compiled)
        except ValueError as error:
            yield ParseError(number, str(error))
