"""FreePBX call-recording file names.

``<type>-<dest>-<from>-YYYYMMDD-HHMMSS-<uniqueid>.<fmt>`` (TELEPHONY.md),
stored under ``…/monitor/YYYY/MM/DD/``. Types: ``in`` (dest = DID, from =
caller id), ``out`` (dest = the number as dialled, prefix included; from =
the agent's extension), ``external``/``internal`` (a call to extension
``dest`` from an outside / an internal caller), ``q``/``rg`` (dest is a queue
or ring group: inbound, or internal when ``from`` is an extension) and
``ondemand`` (decided from the numbers' shapes). The name is read anchored on
the first date-time block, since dest and uniqueid may contain dashes; the
part just before the date is ``from`` (so ``from`` has no dash). The time is
the PBX's local time: ``config.tz``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _

from telephony.parsers import (
    INBOUND,
    INTERNAL,
    OUTBOUND,
    ParseError,
    SourceConfig,
    external_number,
    iter_lines,
    parse_time,
)

NAME = re.compile(
    r"(?P<kind>[A-Za-z]+)-(?P<dest>.*?)-(?P<src>[^-]*)-(?P<date>\d{8})-(?P<time>\d{6})"
    r"(?:-(?P<uniqueid>.+?))?\.(?P<fmt>[A-Za-z0-9]{2,5})"
)
# generic (the Call Recording module's), force and ondemand: decided from
# the numbers' shapes; parking: dest is the parking slot, not an agent.
KINDS = (
    "in",
    "out",
    "external",
    "internal",
    "q",
    "rg",
    "ondemand",
    "generic",
    "force",
    "parking",
)


class RecordingNameError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class RecordingName:
    path: str  # as given
    name: str  # the base name
    kind: str  # in, out, external, internal, q, rg, ondemand
    dest: str
    src: str
    started_at: datetime
    uniqueid: str
    fmt: str
    direction: str
    extension: str | None
    external_number: str | None
    external_raw: str
    line: int = 0


def parse_name(path: str, config: SourceConfig, *, line: int = 0) -> RecordingName:
    """The parts of one recording file name, else RecordingNameError."""
    name = path.strip().replace("\\", "/").rsplit("/", 1)[-1]
    match = NAME.fullmatch(name)
    if match is None:
        raise RecordingNameError(
            _(
                "%(name)s is not a FreePBX recording name "
                "(<type>-<dest>-<from>-YYYYMMDD-HHMMSS[-<uniqueid>].<format>)"
            )
            % {"name": repr(name)}
        )
    kind = match["kind"].lower()
    if kind not in KINDS:
        raise RecordingNameError(
            _("%(name)s: unknown recording type %(kind)s (known: %(known)s)")
            % {"name": repr(name), "kind": repr(match["kind"]), "known": ", ".join(KINDS)}
        )
    try:
        started_at = parse_time(match["date"] + match["time"], config.zone)
    except ValueError:
        raise RecordingNameError(
            _("%(name)s: %(value)s is not a date and time")
            % {"name": repr(name), "value": f"{match['date']}-{match['time']}"}
        ) from None
    dest, src = match["dest"], match["src"]
    is_ext = config.is_extension
    if kind == "out":
        direction, extension, customer = OUTBOUND, src or None, dest
    elif kind in ("in", "external"):
        direction, customer = INBOUND, src
        extension = dest if is_ext(dest) else None
    elif kind in ("q", "rg", "parking"):  # dest is a queue, ring group or parking slot
        direction = INTERNAL if is_ext(src) else INBOUND
        extension = src if direction == INTERNAL else None
        customer = "" if direction == INTERNAL else src
    elif kind == "internal" or (is_ext(src) and is_ext(dest)):
        direction, extension, customer = INTERNAL, src or None, ""
    elif is_ext(src):
        direction, extension, customer = OUTBOUND, src, dest
    else:
        direction, customer = INBOUND, src
        extension = dest if is_ext(dest) else None
    return RecordingName(
        path=path.strip(),
        name=name,
        kind=kind,
        dest=dest,
        src=src,
        started_at=started_at,
        uniqueid=match["uniqueid"] or "",
        fmt=match["fmt"].lower(),
        direction=direction,
        extension=extension,
        external_number=(
            external_number(customer, config, dialled=direction == OUTBOUND) if customer else None
        ),
        external_raw=customer,
        line=line,
    )


def parse(fileobj, config: SourceConfig) -> Iterator[RecordingName | ParseError]:
    """A listing of recording paths, one per line (``find monitor -type f``)."""
    for item in iter_lines(fileobj):
        if item.__class__ is ParseError:
            yield item
            continue
        number, text = item
        if not text.strip():
            continue
        try:
            yield parse_name(text, config, line=number)
        except RecordingNameError as error:
            yield ParseError(number, str(error))
