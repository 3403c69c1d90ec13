"""Owners from a DMS / after-sales file (issue 18 point 1): read through
the lead import's reader, aliases and profiles; all or nothing, each error
with its row and field; a vehicle known by its VIN is updated."""

import io

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from openpyxl import Workbook

from dcc.roles import Role
from leads import owners
from leads.models import Customer, ImportProfile, OwnedVehicle, ValueAlias
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

# A DMS export's headers (车架号, 车主电话, 上次进站时间…), all known aliases.
DMS_HEADER = [
    "车主姓名",
    "车主电话",
    "车型",
    "车架号",
    "车牌号",
    "开票日期",
    "交车日期",
    "上次进站时间",
    "行驶里程",
]


def xlsx(rows, header=DMS_HEADER) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def aftersales(store_a):
    return StaffFactory(username="amy", role=Role.AFTERSALES, store=store_a)


ROWS = [
    [
        "李雷",
        "13911112222",
        "昂科威",
        "LSGUA84L0PA123456",
        "沪A12345",
        "2021-03-01",
        "2021-03-05",
        "2026-06-01",
        "45,000",
    ],
    [
        "韩梅梅",
        "139 1111 3333",
        "别克GL8",
        "LSGUA84L0PA654321",
        "沪B54321",
        "2020/05/01",
        "",
        "",
        "",
    ],
]


def test_a_dms_file_creates_owners_and_vehicles(aftersales, envision, gl8):
    ValueAlias.objects.create(kind="intended_model", alias="别克GL8", vehicle_model=gl8)
    result = owners.import_owners(actor=aftersales, store=aftersales.store, data=xlsx(ROWS))
    assert not result.errors
    assert (result.rows, result.vehicles_created, result.customers_created) == (2, 2, 2)
    li = OwnedVehicle.objects.get(vin="LSGUA84L0PA123456")
    assert li.customer.name == "李雷"
    assert li.vehicle_model == envision
    assert li.mileage_km == 45000
    assert str(li.delivered_on) == "2021-03-05"
    assert str(li.last_service_on) == "2026-06-01"
    han = OwnedVehicle.objects.get(vin="LSGUA84L0PA654321")
    assert han.vehicle_model == gl8
    assert han.model_name == "别克GL8"
    assert han.customer.phones.get().number == "+8613911113333"

    # Next month's file: the same VIN is updated, never doubled.
    again = [[*ROWS[0][:7], "2026-09-01", "52000"]]
    result = owners.import_owners(actor=aftersales, store=aftersales.store, data=xlsx(again))
    assert (result.vehicles_created, result.vehicles_updated) == (0, 1)
    li.refresh_from_db()
    assert (str(li.last_service_on), li.mileage_km) == ("2026-09-01", 52000)
    assert Customer.objects.filter(store=aftersales.store).count() == 2


def test_errors_name_row_and_field_and_nothing_is_written(aftersales, envision):
    rows = [
        ROWS[0],
        ["", "12345", "昂科威", "SHORTVIN", "", "2099-01-01", "明天", "", "很多"],
        [*ROWS[1][:3], ROWS[0][3], *ROWS[1][4:]],  # the same VIN twice
    ]
    result = owners.import_owners(actor=aftersales, store=aftersales.store, data=xlsx(rows))
    assert result.rejected
    found = {(e.row, e.field) for e in result.errors}
    assert found == {
        (3, "name"),
        (3, "phone"),
        (3, "vin"),
        (3, "purchased_on"),
        (3, "delivered_on"),
        (3, "mileage_km"),
        (4, "vin"),
    }
    assert not OwnedVehicle.objects.exists()
    assert not Customer.objects.exists()


def test_unknown_columns_go_through_the_mapping_and_a_profile(aftersales, envision, web):
    header = ["客户", "手机", "VIN码", "保养"]
    data = xlsx([["王强", "13922223333", "LSGUA84L0PA000001", "2026-01-02"]], header=header)
    inspection = owners.inspect_owner_file(data, store=aftersales.store)
    assert [c.field for c in inspection.columns] == [None, "phone", "vin", None]
    assert owners.missing_fields(inspection.columns) == ["name"]
    client = web(aftersales)
    from django.core.files.uploadedfile import SimpleUploadedFile

    first = client.post(
        reverse("leads:owner-import"),
        {"file": SimpleUploadedFile("dms.xlsx", data)},
    )
    assert 'data-testid="owner-map-form"' in first.content.decode()
    mapped = client.post(
        reverse("leads:owner-import"),
        {
            "column-0": "name",
            "column-1": "phone",
            "column-2": "vin",
            "column-3": "last_service_on",
            "profile_name": "售后系统导出",
        },
    )
    assert 'data-testid="owner-import-done"' in mapped.content.decode()
    assert OwnedVehicle.objects.get().last_service_on.isoformat() == "2026-01-02"
    # The profile finds the layout again: no mapping step the next time.
    profile = ImportProfile.objects.get(name="售后系统导出")
    assert profile.mapping["保养"] == "last_service_on"
    second = owners.import_owners(actor=aftersales, store=aftersales.store, data=data)
    assert (second.vehicles_created, second.vehicles_updated) == (0, 1)


def test_who_may_import(alice, mary, aftersales):
    data = xlsx(ROWS)
    with pytest.raises(PermissionDenied):
        owners.import_owners(actor=alice, store=aftersales.store, data=data)
    with pytest.raises(PermissionDenied):
        owners.import_owners(actor=mary, store=aftersales.store, data=data)


def test_after_sales_sees_owners_but_no_leads(aftersales, alice, make_lead, envision, web):
    lead = make_lead(alice)
    owners.import_owners(actor=aftersales, store=aftersales.store, data=xlsx(ROWS[:1]))
    from leads.models import Lead

    assert not Lead.objects.visible_to(aftersales).exists()
    visible = Customer.objects.visible_to(aftersales)
    assert list(visible.values_list("name", flat=True)) == ["李雷"]
    assert lead.customer not in visible
    assert web(aftersales).get(reverse("desk:home")).status_code == 200
