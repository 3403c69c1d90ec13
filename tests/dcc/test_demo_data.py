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


def test_demo_data_a_user_can_trust():
    """Issue 13 point 10: what the demo shows is true of itself."""
    from django.utils.formats import date_format

    from dcc.demo import CLOSES, OPENS
    from followups.sms import preview
    from kpi.metrics import Period, Scope, compute
    from kpi.models import Meeting, Target
    from leads.models import Deal
    from telephony.models import Recording

    call_command("demo_data")
    now = timezone.now()

    # SMS texts name the visit's own time.
    messages = SmsMessage.objects.filter(appointment__isnull=False).select_related("appointment")
    assert messages.exists()
    for message in messages:
        when = date_format(timezone.localtime(message.appointment.scheduled_at), "n月j日 H:i")
        assert when in preview(message), (message.pk, preview(message))

    # Calls (PBX and logged) happen in business hours, none in the future.
    for moment in [
        *Call.objects.values_list("started_at", flat=True),
        *FollowUp.objects.filter(channel="call").values_list("occurred_at", flat=True),
    ]:
        local = timezone.localtime(moment)
        assert OPENS - 1 <= local.hour < CLOSES, local
        assert moment <= now

    # Defeats are spread over the weeks, not all made today.
    defeated = Lead.objects.filter(status=Status.DEFEATED).values_list("defeated_at", flat=True)
    assert len({timezone.localtime(d).date() for d in defeated}) >= 5
    assert all(d <= now for d in defeated)

    # Every deal follows a visit to the store by that customer.
    deals = Deal.objects.select_related("lead")
    assert deals.count() >= 5
    for deal in deals:
        arrived = Appointment.objects.filter(
            lead=deal.lead, status=AppointmentStatus.ARRIVED, arrived_at__lt=deal.deal_at
        )
        assert arrived.exists(), deal.lead_id
    assert Lead.objects.filter(status=Status.DELIVERED).exists()
    assert Lead.objects.filter(status=Status.ORDERED).exists()

    # Recordings, linked to their calls; meetings and targets this month.
    assert Recording.objects.filter(call__isnull=False).count() >= 5
    month = Period.current_month()
    assert Meeting.objects.filter(held_at__gte=month.start_at).exists() or now.day == 1
    assert Target.objects.filter(month=month.start).exists()
    assert Target.objects.filter(month=month.previous().start).exists()

    # So every figure of last month's store dashboard has something to show.
    sh01 = User.objects.get(username="manager").store
    figures = compute(Scope("store", sh01.pk), month.previous())
    for name in ("new_leads", "followup_rate", "deals", "sales_completion", "meetings_on_time"):
        assert figures[name].value, name


def test_readme_lists_every_demo_login_and_the_port():
    """Issue 13 point 10: the README names every demo login, how to choose
    the port, and sends the reader to no file outside the repository."""
    import re
    from pathlib import Path

    from dcc.demo import STAFF

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    for username, *_rest in STAFF:
        assert f"| `{username}` |" in readme, username
    assert "PORT=" in readme
    for banned in ("DESIGN", "API.md", "TELEPHONY.md", "STYLE.md", "/work/", "seeds/"):
        assert banned not in readme, banned
    # Every backticked path that looks like a file of ours exists.
    for path in re.findall(r"`([\w./-]+\.(?:py|md|yml|html|css|js|toml|lock))`", readme):
        if "/" in path or path in ("README.md", "pyproject.toml", "docker-compose.yml"):
            assert (root / path).exists() or path.startswith("<"), path
