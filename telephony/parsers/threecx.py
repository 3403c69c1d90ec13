"""3CX: the CDR log (``cdr.log`` written by the CDR service, v16+) and the
web Call Log export.

CDR log (3CX documentation "CDR output"; TELEPHONY.md): no header unless
the first line names the fields; the default v16 order is ``historyid,
callid, duration, time-start, time-answered, time-end, reason-terminated,
from-no, to-no, from-dn, to-dn, dial-no, reason-changed, final-number,
final-dn, bill-code, bill-rate, bill-cost, bill-name, chain, from-type,
to-type, final-type, from-dispname, to-dispname, final-dispname``;
``duration`` ``HH:MM:SS``; times ``YYYY/MM/DD HH:MM:SS`` (UTC as
written by the service: the source's time zone says so); numbers of
extensions written ``Ext.610``; ``*-type`` one of ``Extension``, ``Line``
(a trunk), ``Queue``, ``VMail``, ``IVR``… An admin may choose another
order: a source's column map.

Call Log export (Management Console → Call History/Call Log → Export):
``Call Time, Caller ID, Destination, Status, Ringing, Talking, Totals,
Cost, Reason``; parties ``Name (610)``, durations ``HH:MM:SS``, Status
``Answered`` / ``Unanswered``.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from telephony.parsers import (
    ANSWERED,
    INBOUND,
    INTERNAL,
    NO_ANSWER,
    OUTBOUND,
    ParseError,
    SourceConfig,
    content_key,
    iter_rows,
)
from telephony.parsers.tabular import (
    FileRejected,
    Header,
    after,
    check_not_scientific,
    each_leg,
    norm,
    party,
    seconds,
    time_parser,
    vendor_leg,
)

CDR_COLUMNS = (
    "historyid",
    "callid",
    "duration",
    "time-start",
    "time-answered",
    "time-end",
    "reason-terminated",
    "from-no",
    "to-no",
    "from-dn",
    "to-dn",
    "dial-no",
    "reason-changed",
    "final-number",
    "final-dn",
    "bill-code",
    "bill-rate",
    "bill-cost",
    "bill-name",
    "chain",
    "from-type",
    "to-type",
    "final-type",
    "from-dispname",
    "to-dispname",
    "final-dispname",
)
CDR_REQUIRED = ("callid", "time-start", "time-end", "from-no", "to-no")
LOG_ALIASES = {
    "time": ("Call Time", "呼叫时间", "时间"),
    "from": ("Caller ID", "From", "主叫"),
    "to": ("Destination", "To", "被叫", "目的地"),
    "status": ("Status", "状态"),
    "ring": ("Ringing", "振铃"),
    "talk": ("Talking", "通话"),
    "total": ("Totals", "Total", "总计"),
}
LOG_REQUIRED = ("time", "from", "to", "status", "talk")
SYSTEM_TYPES = {"vmail", "voicemail", "ivr", "script", "parking"}


def parse(fileobj, config: SourceConfig):
    read = time_parser(config)
    rows = iter_rows(fileobj)
    first = None
    pending = []
    for item in rows:
        if item.__class__ is ParseError:
            pending.append(item)
            continue
        first = item
        break
    yield from pending
    if first is None:
        return
    row = first[1]
    names = {norm(cell) for cell in row}
    if norm("historyid") in names or norm("time-start") in names:
        header = Header(row, {c: (c,) for c in CDR_COLUMNS}, CDR_REQUIRED, what="3CX CDR")
        yield from each_leg(_with(rows, header), lambda n, r, h: _cdr(n, r, h, config, read))
    elif norm("Call Time") in names or norm("Caller ID") in names:
        header = Header(row, LOG_ALIASES, LOG_REQUIRED, what="3CX call log")
        yield from each_leg(_with(rows, header), lambda n, r, h: _log(n, r, h, config, read))
    else:
        columns = config.columns or CDR_COLUMNS
        header = Header(list(columns), {c: (c,) for c in CDR_COLUMNS}, CDR_REQUIRED, what="3CX")
        if len(row) != len(columns):
            raise FileRejected(
                _(
                    "This is not a 3CX CDR log: its first line has %(count)s fields, the "
                    "3CX layout %(expected)s (first line: %(line)s)."
                )
                % {"count": len(row), "expected": len(columns), "line": ",".join(row)[:200]}
            )
        yield from each_leg(
            _with(_chain(first, rows), header), lambda n, r, h: _cdr(n, r, h, config, read)
        )


def _chain(first, rows):
    yield first
    yield from rows


def _with(rows, header):
    for item in rows:
        if item.__class__ is ParseError:
            yield item
        else:
            yield item[0], item[1], header


def _kind(text: str) -> str:
    return text.strip().lower()


def _cdr(number, row, header, config, read):
    get = header.get
    start = read("time-start", get(row, "time-start"))
    end = read("time-end", get(row, "time-end"))
    if start is None or end is None:
        raise ValueError(_("time-start or time-end is empty"))
    answered_at = read("time-answered", get(row, "time-answered"))
    caller = party(get(row, "from-dn") or get(row, "from-no"))[0]
    callee = party(get(row, "final-dn") or get(row, "to-dn") or get(row, "to-no"))[0]
    for name in ("from-no", "to-no", "historyid"):
        check_not_scientific(name, get(row, name))
    from_type = _kind(get(row, "from-type"))
    to_type = _kind(get(row, "final-type") or get(row, "to-type"))
    if from_type == "line":
        direction = INBOUND
        caller = get(row, "from-no") or caller
    elif to_type == "line" or _kind(get(row, "to-type")) == "line":
        direction = OUTBOUND
        callee = get(row, "to-no") or get(row, "dial-no") or callee
    elif from_type or to_type:
        direction = INTERNAL
    else:
        direction = None
    system = to_type in SYSTEM_TYPES
    disposition = ANSWERED if answered_at is not None else NO_ANSWER
    talk = round((end - answered_at).total_seconds()) if answered_at else 0
    total = round((end - start).total_seconds())
    historyid = get(row, "historyid")
    callid = get(row, "callid")
    return vendor_leg(
        number,
        tuple(row),
        config,
        vendor="3CX",
        key=f"3cx:{historyid}:{callid}" if historyid else content_key(tuple(row)),
        uniqueid=historyid or callid,
        linkedid=callid,
        sequence=historyid,
        started_at=start,
        answered_at=answered_at,
        ended_at=end,
        duration=max(total, 0),
        billsec=0 if system else max(talk, 0),
        disposition=disposition,
        caller=caller,
        callee=callee,
        direction=direction,
        reached_phone=not system,
        lastapp="VoiceMail" if system else "",
    )


def _log(number, row, header, config, read):
    get = header.get
    start = read("Call Time", get(row, "time"))
    if start is None:
        raise ValueError(_("%(field)s is empty") % {"field": "Call Time"})
    caller = party(get(row, "from"))[0]
    callee = party(get(row, "to"))[0]
    check_not_scientific("Caller ID", caller)
    check_not_scientific("Destination", callee)
    ring = seconds(get(row, "ring"), "Ringing")
    talk = seconds(get(row, "talk"), "Talking")
    total = seconds(get(row, "total"), "Totals") if "total" in header.at else ring + talk
    status = get(row, "status").lower()
    disposition = ANSWERED if status in ("answered", "已接听", "接听") or talk else NO_ANSWER
    return vendor_leg(
        number,
        tuple(row),
        config,
        vendor="3CX",
        key=content_key(tuple(row)),
        uniqueid="",
        linkedid="",
        sequence="",
        started_at=start,
        answered_at=after(start, ring) if disposition == ANSWERED else None,
        ended_at=after(start, max(total, ring + talk)),
        duration=max(total, ring + talk),
        billsec=talk,
        disposition=disposition,
        caller=caller,
        callee=callee,
    )
