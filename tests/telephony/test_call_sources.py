"""Call-log sources set up by the store (issue 15): the API for managers
and administrators, "try a file" before saving, bad column maps refused as
400s / form errors (API, admin), never a 500; audited; scoped."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from dcc.models import AuditEvent
from telephony import services
from telephony.models import Call, CallSource

pytestmark = pytest.mark.django_db
SOURCES = "/api/v1/telephony/call-sources/"
SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def yeastar_file():
    return SimpleUploadedFile(
        "cdr.csv", (SAMPLES / "yeastar/p_series.csv").read_bytes(), content_type="text/csv"
    )


def test_manager_tries_a_yeastar_file_then_saves_and_imports(api, mike, store_a, alice, bob):
    client = api(mike)
    tried = client.post(
        f"{SOURCES}try/",
        {
            "file": yeastar_file(),
            "format": "yeastar",
            "date_order": "dmy",
            "time_zone": "Asia/Shanghai",
        },
        format="multipart",
    )
    assert tried.status_code == 200, tried.content
    body = tried.json()
    assert body["format"] == "yeastar"
    first = body["calls"][0]
    assert (first["direction"], first["extension"], first["answered_by"]) == (
        "inbound",
        "8001",
        "agent",
    )
    assert (first["ring_seconds"], first["talk_seconds"]) == (12, 88)
    assert first["staff"]  # alice had 8001
    assert Call.objects.count() == 0
    assert CallSource.objects.count() == 0

    saved = client.post(
        SOURCES,
        {
            "name": "Yeastar P560",
            "format": "yeastar",
            "date_order": "dmy",
            "time_zone": "Asia/Shanghai",
        },
        format="json",
    )
    assert saved.status_code == 201, saved.content
    source = CallSource.objects.get()
    assert source.store == store_a
    assert AuditEvent.objects.filter(name="telephony.source.created").exists()
    with (SAMPLES / "yeastar/p_series.csv").open("rb") as fileobj:
        report = services.import_cdr(
            actor=mike, store=store_a, fileobj=fileobj, file_name="cdr.csv", source=source
        )
    assert report.format == "yeastar"
    assert Call.objects.count() == 4


def test_try_recognises_the_format_when_left_out(api, mike, store_a):
    tried = api(mike).post(
        f"{SOURCES}try/", {"file": yeastar_file(), "date_order": "dmy"}, format="multipart"
    )
    assert tried.status_code == 200, tried.content
    assert tried.json()["format"] == "yeastar"


def test_a_column_map_without_a_required_field_is_a_400(api, mike, store_a):
    response = api(mike).post(
        SOURCES, {"name": "pbx", "format": "asterisk_csv", "columns": "src,dst"}, format="json"
    )
    assert response.status_code == 400
    assert "channel, start, end" in str(response.json()["columns"])
    assert CallSource.objects.count() == 0


def test_try_with_a_bad_map_or_a_foreign_file_is_a_400(api, mike, store_a):
    client = api(mike)
    bad_map = client.post(
        f"{SOURCES}try/",
        {"file": yeastar_file(), "format": "asterisk_csv", "columns": "src,dst"},
        format="multipart",
    )
    assert bad_map.status_code == 400
    assert "channel, start" in str(bad_map.json())
    foreign = client.post(
        f"{SOURCES}try/", {"file": yeastar_file(), "format": "freepbx_web"}, format="multipart"
    )
    assert foreign.status_code == 400
    assert "FreePBX / Issabel" in str(foreign.json())


def test_agents_and_supervisors_cannot_and_other_stores_are_hidden(api, alice, sue, mary, store_a):
    source = CallSource.objects.create(store=store_a, name="pbx")
    assert api(alice).get(SOURCES).status_code == 403
    assert api(sue).post(SOURCES, {"name": "x"}, format="json").status_code == 403
    listed = api(mary).get(SOURCES).json()
    assert (listed.get("results", listed) if isinstance(listed, dict) else listed) == []
    assert (
        api(mary).patch(f"{SOURCES}{source.pk}/", {"name": "mine"}, format="json").status_code
        == 404
    )
    assert (
        api(mary).post(SOURCES, {"name": "x", "store": store_a.pk}, format="json").status_code
        == 400
    )


def test_admin_refuses_a_bad_column_map_as_a_form_error(client, root, store_a):
    client.force_login(root)
    response = client.post(
        "/admin/telephony/callsource/add/",
        {
            "store": store_a.pk,
            "name": "pbx",
            "format": "asterisk_csv",
            "columns": "src,dst",
            "time_zone": "Asia/Shanghai",
            "dial_prefixes": "9",
            "extension_min_length": 3,
            "extension_max_length": 4,
            "channel_extensions": "{}",
            "caller_prefix_chars": 0,
            "date_order": "ymd",
            "pattern": "*.csv*",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "channel, start, end" in response.content.decode()
    assert CallSource.objects.count() == 0


PAGE = "/telephony/sources/"


def page_data(**extra):
    data = {
        "name": "Yeastar P560",
        "format": "yeastar",
        "columns": "",
        "time_zone": "Asia/Shanghai",
        "dial_prefixes": "9",
        "area_code": "025",
        "extension_min_length": 3,
        "extension_max_length": 4,
        "caller_prefix_chars": 0,
        "date_order": "dmy",
        "folder": "",
        "pattern": "*.csv*",
        "is_active": "on",
    }
    data.update(extra)
    return data


def test_page_try_shows_the_first_calls_and_saves_nothing(web, mike, store_a, alice):
    from django.urls import reverse

    url = reverse("telephony:sources")
    response = web(mike).post(url, {**page_data(), "sample": yeastar_file(), "try": "1"})
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('data-testid="preview-row"') == 4
    assert "8001" in page
    assert CallSource.objects.count() == 0
    saved = web(mike).post(url, {**page_data(), "save": "1"})
    assert saved.status_code == 302
    assert CallSource.objects.get().date_order == "dmy"
    assert AuditEvent.objects.filter(name="telephony.source.created").exists()


def test_page_refuses_a_bad_column_map_as_a_form_error(web, mike, store_a):
    from django.urls import reverse

    response = web(mike).post(
        reverse("telephony:sources"),
        {**page_data(format="asterisk_csv", columns="src,dst"), "save": "1"},
    )
    assert response.status_code == 200
    assert 'data-testid="error-columns"' in response.content.decode()
    assert CallSource.objects.count() == 0


def test_page_is_for_managers_and_administrators_only(web, alice, sue, mary, store_a):
    from django.urls import reverse

    source = CallSource.objects.create(store=store_a, name="pbx")
    assert web(alice).get(reverse("telephony:sources")).status_code == 403
    assert web(sue).get(reverse("telephony:sources")).status_code == 403
    assert web(mary).get(reverse("telephony:source-edit", args=[source.pk])).status_code == 404


def test_page_keeps_a_channel_map_and_refuses_a_list(web, mike, store_a):
    from django.urls import reverse

    url = reverse("telephony:sources")
    bad = web(mike).post(url, {**page_data(channel_extensions="[1, 2]"), "save": "1"})
    assert 'data-testid="error-channel_extensions"' in bad.content.decode()
    saved = web(mike).post(url, {**page_data(channel_extensions='{"1": "8001"}'), "save": "1"})
    assert saved.status_code == 302
    assert CallSource.objects.get().channel_extensions == {"1": "8001"}
