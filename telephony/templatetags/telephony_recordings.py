"""Recordings on other apps' pages: ``{% lead_calls lead %}`` (the lead
page's calls, each with its recordings' players) and ``|duration``."""

from __future__ import annotations

from django import template
from django.db.models import Prefetch

from followups.models import FollowUp
from telephony.models import Call, Recording

register = template.Library()

# The lead page shows this many of the lead's calls (newest first).
CALLS_SHOWN = 50


@register.filter
def duration(seconds) -> str:
    """125 → ``2:05``; 3725 → ``1:02:05``; None → ``—``."""
    if seconds in (None, ""):
        return "—"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@register.inclusion_tag("telephony/partials/lead_calls.html", takes_context=True)
def lead_calls(context, lead) -> dict:
    """The lead's calls the user may see, newest first, each with its
    recordings (played through the scoped, logged audio URL) and whether a
    logged follow-up was verified by it; recordings of the lead that no
    imported call claims come in between. Four queries at most."""
    user = context["request"].user
    playable = Recording.objects.visible_to(user).order_by("started_at", "pk")
    calls = list(
        Call.objects.visible_to(user)
        .filter(lead=lead)
        .select_related("agent")
        .prefetch_related(Prefetch("recordings", queryset=playable, to_attr="playable"))
        .order_by("-started_at", "-pk")[:CALLS_SHOWN]
    )
    verified = set()
    if calls:
        verified = set(
            FollowUp.objects.filter(
                lead=lead, verified_call__in=[call.pk for call in calls]
            ).values_list("verified_call_id", flat=True)
        )
    rows = [
        {
            "at": call.started_at,
            "call": call,
            "agent": call.agent,
            "direction": call.get_direction_display(),
            "recordings": call.playable,
            "verified": call.pk in verified,
        }
        for call in calls
    ]
    loose = playable.filter(lead=lead, call__isnull=True).select_related("agent")
    for recording in loose[:CALLS_SHOWN]:
        rows.append(
            {
                "at": recording.started_at,
                "call": None,
                "agent": recording.agent,
                "direction": recording.get_direction_display(),
                "recordings": [recording],
                "verified": False,
            }
        )
    rows.sort(key=lambda row: row["at"], reverse=True)
    return {"rows": rows, "lead": lead}
