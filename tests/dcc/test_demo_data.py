"""`make run` loads demo data; running it twice must be harmless."""

import pytest
from django.core.management import call_command

from dcc.models import User
from dcc.roles import Role
from leads.models import Lead, Source, Status

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
