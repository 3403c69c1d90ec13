"""Shared by the desk tests: an htmx request's header, a local time, a logged contact."""

from datetime import timedelta

from django.utils import timezone

from dcc.timeutils import local_day_start
from followups import services

HX = {"HTTP_HX_REQUEST": "true"}


def local(days=0, hour=10):
    """Local time ``hour`` o'clock, ``days`` from today."""
    day = timezone.localdate() + timedelta(days=days)
    return local_day_start(day) + timedelta(hours=hour)


def log_contact(actor, lead, result="reached", **kwargs):
    kwargs.setdefault("channel", "call")
    return services.followup_log(actor=actor, lead=lead, result=result, **kwargs)
