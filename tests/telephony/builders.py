"""Calls for the statistics and verification tests: ORM rows written the way
the import writes them, and Asterisk Master.csv lines for the real import."""

from __future__ import annotations

import io
import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from telephony import services
from telephony.models import AnsweredBy, Call, Direction, Disposition

SHANGHAI = ZoneInfo("Asia/Shanghai")

_keys = itertools.count(1)


def local(day: int, hour: int, minute: int = 0, second: int = 0, *, month: int = 3) -> datetime:
    """A local (Asia/Shanghai) moment in 2024."""
    return datetime(2024, month, day, hour, minute, second, tzinfo=SHANGHAI)


def make_call(
    agent,
    started_at: datetime,
    *,
    direction: str = Direction.INBOUND,
    answered: bool = True,
    ring: int = 5,
    billsec: int = 60,
    store=None,
    lead=None,
    new_caller: bool = False,
) -> Call:
    """One call as the import stores it: ring time = answer − start; an
    unanswered call has no answer time, no ring time and no talk time."""
    answered_at = started_at + timedelta(seconds=ring) if answered else None
    ended_at = (
        answered_at + timedelta(seconds=billsec) if answered else started_at + timedelta(seconds=30)
    )
    return Call.objects.create(
        store=store or agent.store,
        key=f"test-{next(_keys)}",
        started_at=started_at,
        answered_at=answered_at,
        ended_at=ended_at,
        duration=int((ended_at - started_at).total_seconds()),
        billsec=billsec if answered else 0,
        ring_seconds=ring if answered else None,
        wait_seconds=ring if answered else 30,
        answered_by=AnsweredBy.AGENT if answered else AnsweredBy.NONE,
        disposition=Disposition.ANSWERED if answered else Disposition.NO_ANSWER,
        direction=direction,
        extension=getattr(agent, "extension", "") or "8099",
        external_number="" if direction == Direction.INTERNAL else "+8613900000000",
        agent=agent,
        lead=lead,
        new_caller=new_caller,
    )


def cdr_line(
    extension: str, number: str, start: str, answer: str, end: str, disposition: str, uid: str
) -> str:
    """An outbound call from ``extension`` to ``number`` (dialled with the
    outside-line prefix 9), times in the PBX's local time."""
    started, ended = datetime.fromisoformat(start), datetime.fromisoformat(end)
    billsec = int((ended - datetime.fromisoformat(answer)).total_seconds()) if answer else 0
    fields = [
        "", extension, f"9{number}", "from-internal", f'"{extension}" <{extension}>',
        f"PJSIP/{extension}-01", "PJSIP/trunk-02", "Dial", "", start, answer, end,
        str(int((ended - started).total_seconds())), str(billsec), disposition,
        "DOCUMENTATION", uid, "", "", uid, "1",
    ]  # fmt: skip
    return ",".join('"' + value.replace('"', '""') + '"' for value in fields) + "\n"


def import_lines(actor, store, *lines: str):
    data = "".join(lines).encode()
    return services.import_cdr(
        actor=actor, store=store, fileobj=io.BytesIO(data), file_name="test.csv"
    )
