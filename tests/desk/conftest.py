"""Desk fixtures: Alice's call queue (one item of each kind) and SMS kept in
the outbox."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dcc.timeutils import local_day_start
from followups import services
from leads.models import Lead, Source, Status
from tests.desk.helpers import local


@pytest.fixture(autouse=True)
def _outbox_only(settings):
    settings.SMS_BACKEND = "followups.backends.console.OutboxOnlyBackend"


@pytest.fixture
def queue(alice, mike, make_lead):
    """Alice's queue: one of each kind, plus a lead of Bob's."""
    now = timezone.now()
    overdue = make_lead(alice, name="赵一")
    Lead.objects.filter(pk=overdue.pk).update(
        status=Status.ACTIVE, next_followup_at=now - timedelta(days=3)
    )
    new = make_lead(mike, name="钱二", source=Source.MANUFACTURER, owner=alice)
    today = make_lead(alice, name="李四")
    Lead.objects.filter(pk=today.pk).update(
        status=Status.ACTIVE,
        next_followup_at=local_day_start(timezone.localdate()) + timedelta(hours=23, minutes=59),
    )
    invited = make_lead(alice, name="孙三")
    appointment = services.appointment_book(actor=alice, lead=invited, scheduled_at=local(1, 15))
    Lead.objects.filter(pk=invited.pk).update(next_followup_at=now + timedelta(days=5))
    return {"overdue": overdue, "new": new, "today": today, "appointment": appointment}
