"""Telephony answers the events of the apps below it, whatever path sent
them: a lead typed in and a lead imported from Excel get a first-time
caller's earlier calls alike (a save hook missed the import's bulk insert)."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from openpyxl import Workbook

from leads import importer
from leads.models import Lead, Source
from leads.services import lead_create
from telephony import services
from telephony.models import Call
from tests.telephony.builders import make_call

pytestmark = pytest.mark.django_db

NUMBER = "+8613911112222"


def first_time_call(agent, started_at, number=NUMBER):
    call = make_call(agent, started_at, new_caller=True)
    Call.objects.filter(pk=call.pk).update(external_number=number)
    return call


def typed_in(actor, store, phone, received_at):
    return [
        lead_create(
            actor=actor,
            store=store,
            name="王建国",
            phone=phone,
            source=Source.WEB,
            received_at=received_at,
        )
    ]


def imported(actor, store, phone, received_at):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = importer.SHEET_TITLE
    sheet.append(["姓名", "手机号", "来源", "留资时间"])
    phones = phone if isinstance(phone, list) else [phone]
    for number in phones:
        sheet.append(
            ["王建国", number, "网络", timezone.localtime(received_at).replace(tzinfo=None)]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    result = importer.lead_import(actor=actor, file=buffer, store=store)
    assert result.created == len(phones), result
    return list(Lead.objects.filter(store=store).order_by("pk"))


@pytest.fixture(params=["typed in", "imported"])
def enter(request):
    return typed_in if request.param == "typed in" else imported


def test_a_new_lead_gets_the_week_of_calls_before_it(enter, mike, alice, store_a):
    now = timezone.now().replace(microsecond=0)
    received = now - timedelta(hours=1)
    week_old = first_time_call(alice, received - timedelta(days=6, hours=23))
    yesterday = first_time_call(alice, received - timedelta(days=1))
    too_old = first_time_call(alice, received - timedelta(days=8))
    other_number = first_time_call(alice, received - timedelta(days=1), number="+8613955556666")

    [lead] = enter(mike, store_a, "13911112222", received)

    linked = set(Call.objects.filter(lead=lead).values_list("pk", flat=True))
    assert linked == {week_old.pk, yesterday.pk}
    assert Call.objects.get(pk=too_old.pk).lead is None
    assert Call.objects.get(pk=other_number.pk).lead is None


def test_a_call_another_lead_claims_stays_with_it(enter, mike, alice, store_a, make_lead):
    now = timezone.now().replace(microsecond=0)
    claimed = first_time_call(alice, now - timedelta(days=2))
    earlier = make_lead(mike, phone="13911112222", received_at=now - timedelta(days=3))
    Call.objects.filter(pk=claimed.pk).update(lead=earlier)
    Lead.objects.filter(pk=earlier.pk).update(status="invalid")

    leads = enter(mike, store_a, "13911112222", now - timedelta(hours=1))

    assert Call.objects.get(pk=claimed.pk).lead_id == earlier.pk
    assert not Call.objects.filter(lead=leads[-1]).exists()


def test_an_import_links_every_lead_in_chunks(monkeypatch, mike, alice, store_a):
    monkeypatch.setattr(services, "LINK_CHUNK", 2)
    now = timezone.now().replace(microsecond=0)
    numbers = [f"1391111{n:04d}" for n in range(5)]
    calls = {n: first_time_call(alice, now - timedelta(days=1), number=f"+86{n}") for n in numbers}

    leads = imported(mike, store_a, numbers, now - timedelta(hours=1))

    by_phone = {lead.phone: lead.pk for lead in leads}
    for number, call in calls.items():
        assert Call.objects.get(pk=call.pk).lead_id == by_phone[f"+86{number}"]
