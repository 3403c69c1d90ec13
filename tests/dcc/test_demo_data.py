"""`make run` loads demo data; running it twice must be harmless."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from dcc.models import AuditEvent, User
from dcc.roles import Role
from followups.models import (
    Appointment,
    AppointmentStatus,
    BreachKind,
    FollowUp,
    SlaBreach,
    SmsKind,
    SmsMessage,
    SmsStatus,
)
from followups.selectors import escalated_for_supervisor, queue_for_agent
from leads.models import Lead, Source, Status
from telephony.models import Call, CallImport

pytestmark = pytest.mark.django_db


def test_demo_data_is_idempotent_and_covers_the_domain(capsys):
    call_command("demo_data")
    counts = (User.objects.count(), Lead.objects.count())
    call_command("demo_data")
    assert (User.objects.count(), Lead.objects.count()) == counts
    out = capsys.readouterr().out
    for username in ("admin", "manager", "supervisor", "agent", "caller", "consultant"):
        assert username in out
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    assert set(Lead.objects.values_list("source", flat=True)) == set(Source.values)
    assert Lead.objects.filter(source=Source.WEB).values("channel").distinct().count() >= 8
    assert Lead.objects.filter(owner__isnull=True, source=Source.MANUFACTURER).exists()
    statuses = set(Lead.objects.values_list("status", flat=True))
    assert {Status.NEW, Status.DEFEATED, Status.ORDERED, Status.DELIVERED} <= statuses
    # The PBX log went through the real import: calls on leads, first-time
    # callers, logged calls verified and some not, one bad line reported.
    assert Call.objects.filter(lead__isnull=False, agent__isnull=False).exists()
    assert Call.objects.filter(new_caller=True, lead__isnull=True).exists()
    calls_logged = FollowUp.objects.filter(channel="call")
    assert calls_logged.filter(verified_call__isnull=False).exists()
    assert calls_logged.filter(verified_call__isnull=True).exists()
    assert set(CallImport.objects.values_list("error_count", flat=True)) == {1}


def _followup_rows():
    return {
        model.__name__: model.objects.count()
        for model in (Lead, FollowUp, Appointment, SlaBreach, SmsMessage, AuditEvent)
    } | {"sms": sorted(SmsMessage.objects.values_list("pk", "status"))}


def test_demo_fills_every_section_of_every_agents_queue():
    call_command("demo_data")
    agents = list(User.objects.filter(role__in=[Role.AGENT, Role.CALLER], is_active=True))
    assert len(agents) >= 5
    for agent in agents:
        kinds = {item.kind for item in queue_for_agent(agent=agent)}
        assert kinds >= {"overdue", "new", "confirm", "retry", "today"}, agent.username
    # The 48-hour countdown: one manufacturer lead close to its deadline.
    soon = timezone.now() + timedelta(hours=1)
    assert Lead.objects.filter(
        source=Source.MANUFACTURER,
        status=Status.NEW,
        first_contact_due__gt=timezone.now(),
        first_contact_due__lt=soon,
    ).exists()
    # History: first contact within minutes, hours and days.
    minutes = list(
        Lead.objects.filter(first_contact_minutes__isnull=False).values_list(
            "first_contact_minutes", flat=True
        )
    )
    assert min(minutes) <= 5
    assert any(60 <= m < 1440 for m in minutes)
    assert max(minutes) >= 1440
    assert Appointment.objects.filter(status=AppointmentStatus.ARRIVED, test_drive=True).exists()
    assert Appointment.objects.filter(status=AppointmentStatus.NO_SHOW).exists()
    assert Appointment.objects.filter(flagged_at__isnull=False).exists()
    assert SlaBreach.objects.filter(kind=BreachKind.MANUFACTURER_48H).exists()
    supervisor = User.objects.get(username="supervisor")
    assert escalated_for_supervisor(supervisor=supervisor).exists()
    statuses = set(SmsMessage.objects.values_list("status", flat=True))
    assert {SmsStatus.SENT, SmsStatus.PENDING, SmsStatus.FAILED, SmsStatus.UNCERTAIN} <= statuses
    assert SmsMessage.objects.filter(
        status=SmsStatus.PENDING, kind=SmsKind.REMINDER_CUSTOMER, send_after__gt=timezone.now()
    ).exists()
    assert "模板未审批" in SmsMessage.objects.get(status=SmsStatus.FAILED).last_error

    rows = _followup_rows()
    call_command("demo_data")
    assert _followup_rows() == rows
