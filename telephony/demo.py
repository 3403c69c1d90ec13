"""Demo call log for `make run` (after ``followups.demo``): the PBX's
Master.csv for every store, written from the calls the agents logged and
imported through the real import, so the calls list, the lead timelines,
the import report, the call statistics and the verified follow-ups have
something to show.

- Every logged phone follow-up has its PBX call a minute or two before it,
  answered unless the agent logged "no answer", except about one in eight,
  which the PBX never saw (the unverified follow-ups a supervisor should ask
  about).
- Inbound calls: customers calling back, and first-time callers from
  numbers no lead has (some missed), for the one-click lead creation.
- A few internal calls between agents, and one bad line, so the report
  shows how a malformed line is reported.

Idempotent: a store that already has calls is left alone.
"""

from __future__ import annotations

import io
import math
import random
import struct
import wave
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from dcc.demo import business_hours
from dcc.models import Store, User
from dcc.roles import Role
from followups.models import Channel, FollowUp, Result
from leads.demo import MOBILE_PREFIXES
from telephony import recordings, services
from telephony.models import Call

PBX_ZONE = settings.TIME_ZONE
TRUNK = "PJSIP/ct-trunk"


def load():
    for store in Store.objects.filter(code__in=["SH01", "SZ01"]).order_by("code"):
        if Call.objects.filter(store=store).exists():
            continue
        data = _master_csv(store)
        if data:
            services.import_cdr(
                actor=None,
                store=store,
                fileobj=io.BytesIO(data.encode()),
                file_name=f"Master-{store.code}.csv",
                via="command",
            )
            _recordings(store)


def _wav(seconds: int, pitch: int) -> bytes:
    """A short tone (8 kHz, 16-bit mono): something the player can play."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        frames = bytearray()
        for n in range(8000 * seconds):
            value = int(6000 * math.sin(2 * math.pi * pitch * n / 8000))
            frames += struct.pack("<h", value)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


def _recordings(store) -> None:
    """Recordings of some answered customer calls of the last weeks, linked
    to their calls, for the review queue and the lead pages' players."""
    calls = Call.objects.filter(
        store=store, disposition="ANSWERED", lead__isnull=False, agent__isnull=False
    ).order_by("-started_at", "pk")
    for number, call in enumerate(list(calls[:60])[::4][:12]):
        recordings.recording_add(
            actor=None,
            store=store,
            file=io.BytesIO(_wav(2, 330 + 40 * number)),
            name=f"{call.direction}-{call.extension}-{call.uniqueid}.wav",
            uniqueid=call.uniqueid,
            started_at=call.started_at,
            direction=call.direction,
            extension=call.extension,
            via="command",
        )


def _local(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


class _Writer:
    def __init__(self):
        self.lines = []
        self.sequence = 0

    def row(self, *, src, dst, channel, dstchannel, start, answered_after, talk, disposition):
        self.sequence += 1
        uniqueid = f"{int(start.timestamp())}.{self.sequence}"
        end = start + timedelta(seconds=answered_after + talk)
        answer = _local(start + timedelta(seconds=answered_after)) if talk else ""
        fields = [
            _quoted(""), _quoted(src), _quoted(dst), _quoted("from-internal"),
            _quoted(f'"{src}" <{src}>'), _quoted(channel), _quoted(dstchannel), _quoted("Dial"),
            _quoted(""), _quoted(_local(start)), _quoted(answer) if answer else "",
            _quoted(_local(end)), str(answered_after + talk), str(talk), _quoted(disposition),
            _quoted("DOCUMENTATION"), _quoted(uniqueid), _quoted(""), _quoted(""),
            _quoted(uniqueid), _quoted(str(self.sequence)),
        ]  # fmt: skip
        self.lines.append(",".join(fields))


def _master_csv(store) -> str:
    rng = random.Random(f"dcc-telephony-demo-{store.code}")  # noqa: S311 - demo data
    writer = _Writer()
    now = timezone.now()
    followups = (
        FollowUp.objects.filter(store=store, channel=Channel.CALL, occurred_at__lte=now)
        .select_related("agent", "lead")
        .order_by("occurred_at")
    )
    for followup in followups:
        extension = followup.agent.extension
        if not extension or rng.random() < 0.125:
            continue  # logged, but the PBX never saw it
        start = followup.occurred_at - timedelta(seconds=rng.randint(60, 240))
        number = followup.lead.phone.removeprefix("+86")
        answered = followup.result != Result.NO_ANSWER
        writer.row(
            src=extension,
            dst="9" + number,
            channel=f"PJSIP/{extension}-{writer.sequence:08x}",
            dstchannel=f"{TRUNK}-{writer.sequence + 1:08x}",
            start=start,
            answered_after=rng.randint(4, 20) if answered else 30,
            talk=rng.randint(40, 420) if answered else 0,
            disposition="ANSWERED" if answered else rng.choice(["NO ANSWER", "BUSY"]),
        )
    agents = list(
        User.objects.filter(store=store, role__in=[Role.AGENT, Role.CALLER], is_active=True)
        .exclude(extension="")
        .order_by("username")
    )
    if not agents:
        return "\n".join(writer.lines)
    # First-time callers over the last week, a few a day; one in five missed.
    for day in range(7, -1, -1):
        for _ in range(rng.randint(2, 4)):
            agent = rng.choice(agents)
            start = now - timedelta(days=day, hours=rng.randint(1, 9), minutes=rng.randint(0, 59))
            start = business_hours(start, now=now)
            number = rng.choice(MOBILE_PREFIXES) + "".join(rng.choices("0123456789", k=8))
            answered = rng.random() > 0.2
            ring = rng.randint(3, 25)
            writer.row(
                src=number,
                dst="4008001234",
                channel=f"{TRUNK}-{writer.sequence:08x}",
                dstchannel=f"PJSIP/{agent.extension}-{writer.sequence + 1:08x}",
                start=start,
                answered_after=ring,
                talk=rng.randint(30, 300) if answered else 0,
                disposition="ANSWERED" if answered else "NO ANSWER",
            )
    # Agents consulting each other.
    for _ in range(5):
        first, second = rng.sample(agents, 2) if len(agents) > 1 else (agents[0], agents[0])
        start = now - timedelta(days=rng.randint(0, 6), hours=rng.randint(1, 8))
        start = business_hours(start, now=now)
        writer.row(
            src=first.extension,
            dst=second.extension,
            channel=f"PJSIP/{first.extension}-{writer.sequence:08x}",
            dstchannel=f"PJSIP/{second.extension}-{writer.sequence + 1:08x}",
            start=start,
            answered_after=3,
            talk=rng.randint(20, 90),
            disposition="ANSWERED",
        )
    writer.lines.sort(key=lambda line: line.split(",")[9])
    writer.lines.insert(len(writer.lines) // 2, '"","8001","broken line without its columns')
    return "\n".join(writer.lines) + "\n"
