"""FreeSWITCH ``mod_cdr_csv``, the default ("example") template
(``conf/autoload_configs/cdr_csv.conf.xml`` as shipped; FreeSWITCH
documentation "mod_cdr_csv" and "CDR"): no header, 15 quoted columns
``caller_id_name, caller_id_number, destination_number, context,
start_stamp, answer_stamp, end_stamp, duration, billsec, hangup_cause,
uuid, bleg_uuid, accountcode, read_codec, write_codec``; stamps
``YYYY-MM-DD HH:MM:SS`` in the switch's local time, an unanswered leg's
``answer_stamp`` empty. With ``legs="ab"`` the B leg (towards the phone or
the trunk that answered) is written too: its ``uuid`` is the A leg's
``bleg_uuid``, so both are read as legs of one call (the A leg's uuid).
A source's column map reads another template.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from telephony.parsers import (
    ANSWERED,
    BUSY,
    CONGESTION,
    FAILED,
    NO_ANSWER,
    ParseError,
    SourceConfig,
    iter_rows,
)
from telephony.parsers.tabular import (
    FileRejected,
    check_not_scientific,
    seconds,
    time_parser,
    vendor_leg,
)

COLUMNS = (
    "caller_id_name",
    "caller_id_number",
    "destination_number",
    "context",
    "start_stamp",
    "answer_stamp",
    "end_stamp",
    "duration",
    "billsec",
    "hangup_cause",
    "uuid",
    "bleg_uuid",
    "accountcode",
    "read_codec",
    "write_codec",
)
REQUIRED = ("caller_id_number", "destination_number", "start_stamp", "end_stamp", "hangup_cause")
CAUSES = {
    "USER_BUSY": BUSY,
    "CALL_REJECTED": BUSY,
    "NO_ANSWER": NO_ANSWER,
    "NO_USER_RESPONSE": NO_ANSWER,
    "ORIGINATOR_CANCEL": NO_ANSWER,
    "LOSE_RACE": NO_ANSWER,
    "PICKED_OFF": NO_ANSWER,
    "NORMAL_CIRCUIT_CONGESTION": CONGESTION,
    "SWITCH_CONGESTION": CONGESTION,
}
# How many lines to look ahead for an A leg naming a B leg already read.
WINDOW = 2000


def parse(fileobj, config: SourceConfig):
    columns = config.columns or COLUMNS
    at = {name: i for i, name in enumerate(columns) if name}
    missing = [name for name in REQUIRED if name not in at]
    if missing:
        raise FileRejected(_("The column map lacks %(missing)s") % {"missing": ", ".join(missing)})
    read = time_parser(config)
    buffered: list = []
    a_of_b: dict[str, str] = {}
    for item in iter_rows(fileobj):
        if item.__class__ is not ParseError:
            number, row = item
            if len(row) != len(columns):
                item = ParseError(
                    number,
                    _("%(count)s columns, expected %(expected)s")
                    % {"count": len(row), "expected": len(columns)},
                )
            elif "bleg_uuid" in at and row[at["bleg_uuid"]]:
                a_of_b[row[at["bleg_uuid"]]] = row[at["uuid"]]
        buffered.append(item)
        if len(buffered) >= WINDOW * 2:
            yield from _flush(buffered[:WINDOW], at, config, read, a_of_b)
            del buffered[:WINDOW]
    yield from _flush(buffered, at, config, read, a_of_b)


def _flush(items, at, config, read, a_of_b):
    for item in items:
        if item.__class__ is ParseError:
            yield item
            continue
        number, row = item
        try:
            yield _leg(number, row, at, config, read, a_of_b)
        except ValueError as error:
            yield ParseError(number, str(error))


def _leg(number, row, at, config, read, a_of_b):
    def get(name):
        index = at.get(name)
        return row[index].strip() if index is not None else ""

    cause = get("hangup_cause").upper()
    answered_at = read("answer_stamp", get("answer_stamp"))
    if answered_at is not None:
        disposition = ANSWERED
    else:
        disposition = CAUSES.get(cause, NO_ANSWER if cause == "NORMAL_CLEARING" else FAILED)
    start = read("start_stamp", get("start_stamp"))
    end = read("end_stamp", get("end_stamp"))
    if start is None or end is None:
        raise ValueError(_("start_stamp or end_stamp is empty"))
    caller, callee = get("caller_id_number"), get("destination_number")
    for name in ("caller_id_number", "destination_number"):
        check_not_scientific(name, get(name))
    uuid = get("uuid")
    call = a_of_b.get(uuid, uuid)
    is_b_leg = call != uuid
    duration = seconds(get("duration") or "0", "duration")
    billsec = seconds(get("billsec") or "0", "billsec")
    # An A leg that bridged (a B leg) or rang (not answered by the switch's
    # own applications: no bleg and answered means an IVR or voicemail).
    reached = bool(get("bleg_uuid")) or is_b_leg or disposition != ANSWERED
    return vendor_leg(
        number,
        tuple(row),
        config,
        vendor="FreeSWITCH",
        key=f"fs:{uuid}" if uuid else f"fs:{number}",
        uniqueid=uuid,
        linkedid=call,
        sequence="b" if is_b_leg else "a",
        started_at=start,
        answered_at=answered_at,
        ended_at=end,
        duration=duration,
        billsec=billsec,
        disposition=disposition,
        caller=caller,
        callee=callee,
        clid=f'"{get("caller_id_name")}" <{caller}>',
        reached_phone=reached,
        lastapp="" if reached else "Playback",
    )
