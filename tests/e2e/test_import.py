"""The lead import in Chromium (issue 16): an Ocean Engine clue export with
columns the system does not know goes through the mapping step, the choice
is saved as an import profile, and the same layout then imports at once
with that profile."""

import io

import pytest
from openpyxl import Workbook
from playwright.sync_api import expect

from leads.models import ImportProfile, Lead

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HEADER = [
    "线索ID", "广告主ID", "广告主名称", "计划ID", "计划名称", "创意ID", "组件名称",
    "姓名", "电话", "省份", "城市", "线索创建时间", "流量类型", "线索标签",
]  # fmt: skip


def clue_export(tmp_path, name, phone):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(
        ["7301", "1788", "某别克4S店", "9001", "GL8-表单", "5001", "留资表单", name, phone,
         "上海", "上海市", "2026-11-03 09:05:33", "抖音", "未标记"]
    )  # fmt: skip
    path = tmp_path / f"clues-{phone}.xlsx"
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def test_map_columns_save_a_profile_and_import_again(mike, login, live_server, tmp_path):
    page = login("mike")
    page.goto(f"{live_server.url}/leads/import/")
    page.locator('input[type="file"]').set_input_files(clue_export(tmp_path, "孙悦", "15012345678"))
    page.get_by_test_id("import-form").locator('button[type="submit"]').click()

    # The mapping step: each column with its samples; unknown ones marked.
    expect(page.get_by_test_id("import-map-title")).to_be_visible()
    expect(page.get_by_test_id("import-map-row")).to_have_count(len(HEADER))
    expect(page.get_by_test_id("import-map-table")).to_contain_text("某别克4S店")
    expect(page.locator('select[data-column="姓名"]')).to_have_value("name")
    expect(page.locator('select[data-column="电话"]')).to_have_value("phone")
    for column in ("广告主名称", "计划名称", "组件名称", "线索标签"):
        page.locator(f'select[data-column="{column}"]').select_option("ignore")
    page.locator('select[data-column="流量类型"]').select_option("keep")
    page.locator("#id_profile_name").fill("巨量引擎线索导出")
    page.get_by_test_id("import-map-submit").click()

    expect(page.get_by_test_id("import-created")).to_have_text("1")
    expect(page.get_by_test_id("import-profile")).to_have_text("巨量引擎线索导出")
    lead = Lead.objects.get()
    assert "流量类型：抖音" in lead.note
    profile = ImportProfile.objects.get()
    assert (profile.name, profile.store) == ("巨量引擎线索导出", mike.store)

    # The same layout again: no mapping step, read with the profile.
    page.goto(f"{live_server.url}/leads/import/")
    page.locator('input[type="file"]').set_input_files(clue_export(tmp_path, "钱多", "15012345679"))
    page.get_by_test_id("import-form").locator('button[type="submit"]').click()

    expect(page.get_by_test_id("import-created")).to_have_text("1")
    expect(page.get_by_test_id("import-profile")).to_have_text("巨量引擎线索导出")
    assert Lead.objects.count() == 2

    # The history lists both, with the profile.
    page.goto(f"{live_server.url}/leads/import/history/")
    expect(page.get_by_test_id("import-history-row")).to_have_count(2)
    expect(page.get_by_test_id("import-history-table")).to_contain_text("巨量引擎线索导出")
