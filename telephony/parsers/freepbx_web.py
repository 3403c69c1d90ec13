"""FreePBX and Issabel web CDR exports (a header row; English or Chinese).

FreePBX: Reports → CDR Reports → "CSV File", written by the cdr module's
``cdr_export_csv()`` from MySQL ``asteriskcdrdb.cdr``: ``calldate, clid,
src, dst, dcontext, channel, dstchannel, lastapp, lastdata, duration,
billsec, disposition, amaflags, accountcode, uniqueid, userfield, did,
recordingfile, cnum, cnam, outbound_cnum, outbound_cnam, dst_cnam, linkedid,
peeraccount, sequence``. No answer or end time: the call started at
``calldate``, was answered ``duration − billsec`` later and ended after
``duration`` seconds.

Issabel (and Elastix) Reports → CDR Report → export CSV: the report's own
column titles in the interface language (``Date, Source, Ring Group,
Destination, Src. Channel, Account Code, Dst. Channel, Status, Duration``;
Chinese 日期, 来源, 振铃组, 目的地, 来源频道, 账户代码, 目的频道, 状态, 时长),
durations written ``2m 30s``. Its Duration is the talk time (billsec): the
report has no ring time, so the answer is taken at the start (ring 0).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from telephony.parsers import CallLeg, SourceConfig, content_key, direction_and_parties
from telephony.parsers import external_number as to_e164
from telephony.parsers.asterisk import DISPOSITIONS
from telephony.parsers.tabular import after, each_leg, rows_after_header, seconds, time_parser

ALIASES = {
    "calldate": ("calldate", "Date", "日期", "呼叫日期", "时间"),
    "clid": ("clid", "CallerID", "主叫号码显示"),
    "src": ("src", "Source", "来源", "源", "主叫"),
    "dst": ("dst", "Destination", "目的地", "目的", "被叫"),
    "channel": ("channel", "Src. Channel", "Source Channel", "来源频道", "源通道", "源频道"),
    "dstchannel": ("dstchannel", "Dst. Channel", "Destination Channel", "目的频道", "目的通道"),
    "lastapp": ("lastapp", "Last App", "最后应用"),
    "lastdata": ("lastdata", "Last Data"),
    "duration": ("duration", "总时长"),
    "billsec": ("billsec", "Duration", "时长", "通话时长"),
    "disposition": ("disposition", "Status", "状态"),
    "uniqueid": ("uniqueid", "Unique ID", "UniqueID"),
    "linkedid": ("linkedid",),
    "sequence": ("sequence",),
    "ringgroup": ("Ring Group", "振铃组"),
}
REQUIRED = ("calldate", "src", "dst", "billsec", "disposition")
WHAT = "FreePBX / Issabel CDR report"


def parse(fileobj, config: SourceConfig):
    read = time_parser(config)

    def build(number, row, header) -> CallLeg:
        get = header.get
        raw = tuple(row)
        written = get(row, "disposition")
        disposition = DISPOSITIONS.get(written.upper()) or _CHINESE.get(written)
        if disposition is None:
            raise ValueError(_("unknown disposition %(value)s") % {"value": repr(written)})
        start = read("calldate", get(row, "calldate"))
        if start is None:
            raise ValueError(_("%(field)s is empty") % {"field": "calldate"})
        billsec = seconds(get(row, "billsec"), "billsec")
        has_duration = "duration" in header.at
        duration = seconds(get(row, "duration"), "duration") if has_duration else billsec
        if billsec > duration:
            raise ValueError(
                _("billsec %(billsec)s is more than duration %(duration)s")
                % {"billsec": billsec, "duration": duration}
            )
        answered = after(start, duration - billsec) if disposition == "ANSWERED" else None
        ended = after(start, duration)
        src, dst = get(row, "src"), get(row, "dst")
        clid = get(row, "clid")
        channel, dstchannel = get(row, "channel"), get(row, "dstchannel")
        direction, extension, customer = direction_and_parties(
            config, src, dst, channel, dstchannel, clid
        )
        uniqueid, linkedid, sequence = (
            get(row, "uniqueid"),
            get(row, "linkedid"),
            get(row, "sequence"),
        )
        key = f"cdr:{linkedid}:{uniqueid}:{sequence}" if uniqueid and sequence else content_key(raw)
        lastapp = get(row, "lastapp")
        if not lastapp and dstchannel:
            lastapp = "Dial"  # Issabel's report names no application
        return CallLeg(
            number,
            key,
            uniqueid,
            linkedid,
            sequence,
            start,
            answered,
            ended,
            duration,
            billsec if disposition == "ANSWERED" else 0,
            disposition,
            direction,
            extension,
            to_e164(customer, config, dialled=direction == "outbound") if customer else None,
            customer,
            src,
            dst,
            clid,
            channel,
            dstchannel,
            raw,
            lastapp,
            get(row, "lastdata"),
        )

    return each_leg(rows_after_header(fileobj, ALIASES, REQUIRED, what=WHAT), build)


_CHINESE = {
    "已接听": "ANSWERED",
    "接听": "ANSWERED",
    "应答": "ANSWERED",
    "未接听": "NO ANSWER",
    "未应答": "NO ANSWER",
    "无应答": "NO ANSWER",
    "忙": "BUSY",
    "占线": "BUSY",
    "失败": "FAILED",
}
