"""Yeastar P-Series and S-Series CDR exports (Reports and Recordings → CDR
→ Download, CSV).

P-Series (help.yeastar.com, "Call Detail Record (CDR) Overview"): ``ID,
Time, Call From, Call To, Call Duration, Ring Duration, Talk Duration,
Status, Reason, Source Trunk, Destination Trunk, Communication Type,
DID/DDI, Outbound Caller ID, Caller IP Address, PIN Code, Recording File``.
S-Series (and the NewCdr API of the same firmware family): ``callid /
Date & Time, Call From, Call To, Call Duration, Talk Duration, Source
Trunk, Destination Trunk, Status, Communication Type, …`` (API names
``timestart, callfrom, callto, callduraction, talkduraction, srctrunkname,
desttrunkname, status, type, didnumber, recording``) without a ring time:
the answer is then ``Call Duration − Talk Duration`` after the start.

Parties are written ``Name<8001>``; Time follows the PBX's date display
setting (``config.date_order``); durations ``H:MM:SS`` (or seconds).
Status ANSWERED, NO ANSWER, BUSY, FAILED, VOICEMAIL (the PBX answered),
ABANDONED (the caller hung up in a queue). Communication Type gives the
direction.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from telephony.parsers import (
    ANSWERED,
    BUSY,
    FAILED,
    INBOUND,
    INTERNAL,
    NO_ANSWER,
    OUTBOUND,
    SourceConfig,
    content_key,
)
from telephony.parsers.tabular import (
    after,
    check_not_scientific,
    each_leg,
    party,
    rows_after_header,
    seconds,
    time_parser,
    vendor_leg,
)

ALIASES = {
    "id": ("ID", "callid", "cdrid", "Call ID", "通话ID", "编号"),
    "time": ("Time", "Date & Time", "Date and Time", "timestart", "时间", "日期时间", "开始时间"),
    "from": ("Call From", "callfrom", "主叫"),
    "to": ("Call To", "callto", "被叫"),
    "duration": ("Call Duration", "callduraction", "callduration", "呼叫时长", "总时长"),
    "ring": ("Ring Duration", "agentringtime", "振铃时长"),
    "talk": ("Talk Duration", "talkduraction", "talkduration", "通话时长"),
    "status": ("Status", "Last Status", "状态", "通话状态"),
    "type": ("Communication Type", "type", "通讯类型", "通话类型", "呼叫类型"),
    "did": ("DID/DDI", "didnumber", "DID"),
}
REQUIRED = ("time", "from", "to", "duration", "talk", "status")
WHAT = "Yeastar CDR"

STATUSES = {
    "ANSWERED": ANSWERED,
    "已接听": ANSWERED,
    "NO ANSWER": NO_ANSWER,
    "未接听": NO_ANSWER,
    "ABANDONED": NO_ANSWER,
    "BUSY": BUSY,
    "忙线": BUSY,
    "FAILED": FAILED,
    "失败": FAILED,
    "VOICEMAIL": ANSWERED,  # the PBX's voicemail answered
    "语音留言": ANSWERED,
}
TYPES = {
    "inbound": INBOUND,
    "呼入": INBOUND,
    "outbound": OUTBOUND,
    "呼出": OUTBOUND,
    "internal": INTERNAL,
    "内部": INTERNAL,
}


def parse(fileobj, config: SourceConfig):
    read = time_parser(config)

    def build(number, row, header):
        get = header.get
        raw = tuple(row)
        written = get(row, "status")
        disposition = STATUSES.get(written.upper()) or STATUSES.get(written)
        if disposition is None:
            raise ValueError(_("unknown status %(value)s") % {"value": repr(written)})
        voicemail = written.upper() in ("VOICEMAIL", "语音留言")
        start = read("Time", get(row, "time"))
        if start is None:
            raise ValueError(_("%(field)s is empty") % {"field": "Time"})
        duration = seconds(get(row, "duration"), "Call Duration")
        talk = seconds(get(row, "talk"), "Talk Duration")
        if "ring" in header.at:
            ring = seconds(get(row, "ring"), "Ring Duration")
        else:
            ring = max(0, duration - talk)
        caller, caller_name = party(get(row, "from"))
        callee, _callee_name = party(get(row, "to"))
        for name, value in (("Call From", caller), ("Call To", callee)):
            check_not_scientific(name, value)
        kind = get(row, "type")
        direction = TYPES.get(kind.lower()) or TYPES.get(kind) if kind else None
        callid = get(row, "id")
        check_not_scientific("ID", callid)
        return vendor_leg(
            number,
            raw,
            config,
            vendor="Yeastar",
            key=f"yeastar:{callid}:{caller}:{callee}:{start.isoformat()}"
            if callid
            else content_key(raw),
            uniqueid=callid,
            linkedid=callid,
            sequence="",
            started_at=start,
            answered_at=after(start, ring) if disposition == ANSWERED else None,
            ended_at=after(start, duration),
            duration=duration,
            billsec=0 if voicemail else talk,
            disposition=disposition,
            caller=caller,
            callee=callee,
            clid=f'"{caller_name}" <{caller}>' if caller_name else caller,
            direction=direction,
            reached_phone=not voicemail,
            lastapp="VoiceMail" if voicemail else "",
        )

    return each_leg(rows_after_header(fileobj, ALIASES, REQUIRED, what=WHAT), build)
