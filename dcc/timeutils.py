"""Local days and the back-entry rule shared by every dated record.

API.md: an agent may back-enter a contact made earlier the same (local) day;
a manager or admin may enter any past time. Nothing is dated in the future.
"""

from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from dcc.policy import can

# Clocks on staff PCs drift; a minute's grace keeps "now" from reading as future.
FUTURE_TOLERANCE = timedelta(minutes=2)


def local_today():
    return timezone.localdate()


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
