"""A call's legs as JSON, as kept on the call (``Call.legs``).

Stored compact: each leg a JSON array of its values in :data:`LEG_KEYS`
order, not an object naming them (a third of the bytes of a million calls'
rows, and PostgreSQL builds no keys per leg); ``Call.legs`` reads them back as
objects (:func:`expand`, telephony.models.LegsField), as legs stored as
objects before still are.

Two encoders of one format: :func:`leg_json` (a list, for ``legs_text``) and
:func:`leg_text` (the same JSON written out, twice as fast: what the import
writes); tests/telephony/test_import_matching.py holds them equal.
:func:`leg_from_json` reads a stored leg back (merging late legs).
"""

from __future__ import annotations

import json
from datetime import datetime

from telephony import parsers

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
    "lastapp",
    "lastdata",
)
LEG_TIMES = ("started_at", "answered_at", "ended_at")
# A stored leg's values, in this order (positions are the stored format:
# append, never reorder).
LEG_KEYS = (*LEG_FIELDS, *LEG_TIMES)
KEY_AT = LEG_KEYS.index("key")

# Legs as JSON text: compact (no spaces after separators: PostgreSQL parses
# every byte of a million calls' legs into jsonb), one encoder for all.
legs_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_string = json.encoder.encode_basestring  # the encoder's own, for leg_text


def leg_json(leg: parsers.CallLeg) -> list:
    """LEG_KEYS of one leg (times in ISO 8601), as stored: a million legs
    per import."""
    answered = leg.answered_at
    return [
        leg.line,
        leg.key,
        leg.uniqueid,
        leg.linkedid,
        leg.sequence,
        leg.disposition,
        leg.direction,
        leg.extension,
        leg.external_number,
        leg.external_raw,
        leg.src,
        leg.dst,
        leg.clid,
        leg.channel,
        leg.dstchannel,
        leg.duration,
        leg.billsec,
        leg.lastapp,
        leg.lastdata,
        leg.started_at.isoformat(),
        answered.isoformat() if answered else None,
        leg.ended_at.isoformat(),
    ]


def leg_text(leg: parsers.CallLeg, started: str, answered: str | None, ended: str) -> str:
    """``legs_text(leg_json(leg))`` of one leg, written out (twice as fast;
    a test holds them equal), with its times already in ISO 8601."""
    string = _string
    extension, number = leg.extension, leg.external_number
    return (
        f"[{leg.line},{string(leg.key)},{string(leg.uniqueid)},"
        f"{string(leg.linkedid)},{string(leg.sequence)},"
        f"{string(leg.disposition)},{string(leg.direction)},"
        f"{'null' if extension is None else string(extension)},"
        f"{'null' if number is None else string(number)},"
        f"{string(leg.external_raw)},{string(leg.src)},"
        f"{string(leg.dst)},{string(leg.clid)},{string(leg.channel)},"
        f"{string(leg.dstchannel)},{leg.duration},"
        f"{leg.billsec},{string(leg.lastapp)},"
        f'{string(leg.lastdata)},"{started}",'
        f"{'null' if answered is None else string(answered)},"
        f'"{ended}"]'
    )


def expand(leg: list | dict) -> dict:
    """A stored leg as an object (a leg stored as one already: as it is)."""
    return dict(zip(LEG_KEYS, leg, strict=False)) if leg.__class__ is list else leg


def leg_from_json(data: list | dict) -> parsers.CallLeg:
    data = expand(data)
    values = {name: data.get(name) for name in LEG_FIELDS}
    values["lastapp"] = values["lastapp"] or ""  # legs stored before they were kept
    values["lastdata"] = values["lastdata"] or ""
    for name in LEG_TIMES:
        text = data.get(name)
        values[name] = datetime.fromisoformat(text) if text else None
    return parsers.CallLeg(raw=(), **values)


def iso(moment, texts: dict) -> str | None:
    """ISO 8601 of a time, formatted once per call (``texts``: by id)."""
    if moment is None:
        return None
    text = texts.get(id(moment))
    if text is None:
        text = texts[id(moment)] = moment.isoformat()
    return text


def call_legs_text(call: parsers.Call, texts: dict) -> str:
    """The call's legs as JSON text (leg_text), their times formatted once
    (``texts``: see iso)."""
    legs = [
        leg_text(
            leg,
            iso(leg.started_at, texts),
            iso(leg.answered_at, texts),
            iso(leg.ended_at, texts),
        )
        for leg in call.legs
    ]
    return f"[{legs[0]}]" if len(legs) == 1 else f"[{','.join(legs)}]"
