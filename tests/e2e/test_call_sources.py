"""A store's manager sets up a Yeastar call-log source: tries the PBX's CDR
file (the first calls as they would be imported), saves the source and
imports the file with it (issue 15)."""

from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from telephony.models import Call, CallSource

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SAMPLE = Path(__file__).parents[1] / "telephony" / "samples" / "yeastar" / "p_series.csv"


def test_manager_sets_up_a_yeastar_source_with_try_a_file_and_imports(
    mike, alice, bob, login, live_server, page
):
    login("mike")
    page.goto(f"{live_server.url}{reverse('telephony:sources')}")
    form = page.get_by_test_id("source-form")
    form.locator("[name=name]").fill("Yeastar P560")
    form.locator("[name=format]").select_option("yeastar")
    form.locator("[name=date_order]").select_option("dmy")
    form.locator("[name=time_zone]").fill("Asia/Shanghai")
    form.locator("[name=sample]").set_input_files(str(SAMPLE))
    page.get_by_test_id("source-try").click()
    expect(page.get_by_test_id("preview-row")).to_have_count(4)
    expect(page.get_by_test_id("source-preview")).to_contain_text("8001")
    assert CallSource.objects.count() == 0

    form = page.get_by_test_id("source-form")
    page.get_by_test_id("source-save").click()
    expect(page.get_by_test_id("source-list")).to_contain_text("Yeastar P560")
    source = CallSource.objects.get()

    page.goto(f"{live_server.url}{reverse('telephony:imports')}")
    upload = page.get_by_test_id("cdr-upload")
    upload.locator("[name=source]").select_option(str(source.pk))
    upload.locator("[name=file]").set_input_files(str(SAMPLE))
    page.get_by_test_id("cdr-submit").click()
    page.wait_for_url("**/imports/*/")
    assert Call.objects.filter(store=mike.store).count() == 4
