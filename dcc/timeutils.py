"""Local days and the back-entry rule shared by every dated record.

API.md: an agent may back-enter a contact made earlier the same (local) day;
a manager or admin may enter any past time. Nothing is dated in the future.
"""

from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from dcc.policy import can

# Clocks on staff PCs drift; a minute's grace keeps "now" from reading as future.
FUTURE_TOLERANCE = timedelta(minutes=2)


def local_today():
    return timezone.localdate()


def local_minute(moment: datetime | None = None) -> str:
    """``2026-03-02 09:30``: a time as the screens and files show it, local,
    to the minute (now without one)."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def local_day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def validate_event_time(*, actor, when: datetime, field: str, now: datetime | None = None):
    """Raise a ValidationError on ``field`` unless ``actor`` may date a record ``when``."""
    now = now or timezone.now()
    if when > now + FUTURE_TOLERANCE:
        raise ValidationError({field: _("This time is in the future.")})
    if can(actor, "history.backdate"):
        return
    if when < local_day_start(timezone.localdate(now)):
        raise ValidationError(
            {field: _("You may enter a time earlier today only; ask a manager for older records.")}
        )


# The times DCC accepts from outside (the API, call logs): a CRM's records lie
# within these years. Earlier dates would be written with the zone's local
# mean time (Asia/Shanghai before 1901: +08:05:43, not an RFC 3339 offset)
# and the first and last years of Python's calendar overflow when shifted
# between zones.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def in_range(when: datetime | date) -> bool:
    """Whether ``when`` (an aware time, or a date) lies within EARLIEST–LATEST."""
    if isinstance(when, datetime):
        return EARLIEST <= when < LATEST
    return EARLIEST.date() <= when < LATEST.date()


def range_message() -> str:
    return _("Enter a date from %(earliest)s to %(latest)s.") % {
        "earliest": EARLIEST.year,
        "latest": LATEST.year - 1,
    }
