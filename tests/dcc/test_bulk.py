"""dcc.bulk.bulk_insert writes what the ORM would, history included, on
PostgreSQL (COPY) and elsewhere (bulk_create_with_history) alike."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dcc.bulk import build, bulk_insert
from leads.models import Customer, Lead, Source

pytestmark = pytest.mark.django_db


def test_rows_history_and_ids(store_a, alice, mike, envision, autohome):
    when = timezone.now()
    customers = [
        Customer(store=store_a, name=f"客户{i}\t\\换行\n", has_full_name=True) for i in range(3)
    ]
    bulk_insert(Customer, customers, actor=mike, reason="Excel import", when=when)
    assert all(customer.pk for customer in customers)
    leads = [
        Lead(
            store=store_a,
            customer=customer,
            phone=f"+861390000000{i}",
            source=Source.WEB,
            channel=autohome,
            intended_model=envision,
            owner=alice if i else None,
            received_at=when - timedelta(hours=i),
            note="备注\t含制表符" if i == 1 else "",
        )
        for i, customer in enumerate(customers)
    ]
    bulk_insert(Lead, leads, actor=mike, reason="Excel import", when=when)

    stored = Lead.objects.order_by("pk")
    assert [lead.pk for lead in stored] == [lead.pk for lead in leads]
    first, second = stored[0], stored[1]
    assert first.owner is None
    assert second.owner == alice
    assert second.note == "备注\t含制表符"
    assert second.received_at == when - timedelta(hours=1)
    # auto_now_add is filled as pre_save would (bulk_create stamps its own now)
    assert abs(second.created_at - when) < timedelta(seconds=5)
    assert second.status == "new"
    assert Customer.objects.get(pk=customers[0].pk).name == "客户0\t\\换行\n"
    for lead in stored:
        record = lead.history.get()
        assert (record.history_type, record.history_user, record.history_change_reason) == (
            "+",
            mike,
            "Excel import",
        )
        assert record.history_date == when
        assert record.owner_id == lead.owner_id


def test_empty_is_a_no_op():
    assert bulk_insert(Customer, []) == []


def test_build_gives_what_the_constructor_gives(store_a, autohome):
    """``build`` (no Model.__init__) sets every field as the constructor
    would: the given attnames, the others at their defaults."""
    values = {"store_id": store_a.pk, "phone": "13900000000", "channel_id": autohome.pk}
    built, constructed = build(Lead, values), Lead(**values)
    for field in Lead._meta.concrete_fields:
        assert getattr(built, field.attname) == getattr(constructed, field.attname), field.name
    assert built._state.adding
    assert built.pk is None
    customer = build(Customer, {"store_id": store_a.pk, "name": "王伟"})
    bulk_insert(Customer, [customer], reason="bench")
    assert Customer.objects.get(pk=customer.pk).name == "王伟"
    assert Customer.history.get(id=customer.pk).history_change_reason == "bench"
