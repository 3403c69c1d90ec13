"""How the KPI pages write figures: durations as h:mm:ss."""

from django import template

from telephony.stats import hms as _hms

register = template.Library()


@register.filter
def hms(seconds) -> str:
    """3725 → ``1:02:05``; 45 → ``0:00:45``; None or empty → ``—``."""
    if seconds in (None, ""):
        return "—"
    return _hms(round(seconds))
