"""A call's legs as JSON, as kept on the call (``Call.legs``).

Two encoders of one format: :func:`leg_json` (a dict, for ``legs_text``) and
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

# Legs as JSON text: compact (no spaces after separators: PostgreSQL parses
# every byte of a million calls' legs into jsonb), one encoder for all.
legs_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_string = json.encoder.encode_basestring  # the encoder's own, for leg_text


def leg_json(leg: parsers.CallLeg) -> dict:
    """LEG_FIELDS and LEG_TIMES (ISO 8601) of one leg, written out: a million
    legs per import."""
    answered = leg.answered_at
    return {
        "line": leg.line,
        "key": leg.key,
        "uniqueid": leg.uniqueid,
        "linkedid": leg.linkedid,
        "sequence": leg.sequence,
        "disposition": leg.disposition,
        "direction": leg.direction,
        "extension": leg.extension,
        "external_number": leg.external_number,
        "external_raw": leg.external_raw,
        "src": leg.src,
        "dst": leg.dst,
        "clid": leg.clid,
        "channel": leg.channel,
        "dstchannel": leg.dstchannel,
        "duration": leg.duration,
        "billsec": leg.billsec,
        "lastapp": leg.lastapp,
        "lastdata": leg.lastdata,
        "started_at": leg.started_at.isoformat(),
        "answered_at": answered.isoformat() if answered else None,
        "ended_at": leg.ended_at.isoformat(),
    }


def leg_text(leg: parsers.CallLeg, started: str, answered: str | None, ended: str) -> str:
    """``legs_text(leg_json(leg))`` of one leg, written out (twice as fast;
    a test holds them equal), with its times already in ISO 8601."""
    string = _string
    extension, number = leg.extension, leg.external_number
    return (
        f'{{"line":{leg.line},"key":{string(leg.key)},"uniqueid":{string(leg.uniqueid)},'
        f'"linkedid":{string(leg.linkedid)},"sequence":{string(leg.sequence)},'
        f'"disposition":{string(leg.disposition)},"direction":{string(leg.direction)},'
        f'"extension":{"null" if extension is None else string(extension)},'
        f'"external_number":{"null" if number is None else string(number)},'
        f'"external_raw":{string(leg.external_raw)},"src":{string(leg.src)},'
        f'"dst":{string(leg.dst)},"clid":{string(leg.clid)},"channel":{string(leg.channel)},'
        f'"dstchannel":{string(leg.dstchannel)},"duration":{leg.duration},'
        f'"billsec":{leg.billsec},"lastapp":{string(leg.lastapp)},'
        f'"lastdata":{string(leg.lastdata)},"started_at":"{started}",'
        f'"answered_at":{"null" if answered is None else string(answered)},'
        f'"ended_at":"{ended}"}}'
    )


def leg_from_json(data: dict) -> parsers.CallLeg:
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
