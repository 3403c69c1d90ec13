"""Call-log import pages, the calls list, one-click leads from callers, the
folder job."""

import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from leads.models import Lead, Source
from telephony import services, tasks
from telephony.models import Call, CallImport, CallSource, ImportStatus

SAMPLES = Path(__file__).parent / "samples"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def upload(name):
    return SimpleUploadedFile(name, (SAMPLES / name).read_bytes(), content_type="text/csv")


@pytest.fixture
def imported(sue, store_a, alice, bob, carol):
    """master_basic.csv: alice (8001) and bob (8002), carol (8003) calls."""
    return services.import_cdr(
        actor=sue,
        store=store_a,
        fileobj=io.BytesIO((SAMPLES / "master_basic.csv").read_bytes()),
        file_name="master_basic.csv",
    )


def test_supervisor_uploads_a_call_log_and_reads_the_report(web, sue, alice, bob):
    client = web(sue)
    response = client.post(
        reverse("telephony:imports"),
        {"file": upload("master_malformed.csv"), "format": "asterisk_csv"},
    )
    report = CallImport.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("telephony:import-detail", args=[report.pk])
    page = client.get(response.url).content.decode()
    assert 'data-testid="import-errors"' in page
    assert str(report.errors[0]["line"]) in page
    assert report.status == ImportStatus.DONE
    listing = client.get(reverse("telephony:imports")).content.decode()
    assert "master_malformed.csv" in listing


def test_empty_file_is_refused_with_a_message(web, sue):
    response = web(sue).post(
        reverse("telephony:imports"),
        {"file": SimpleUploadedFile("x.csv", b"", content_type="text/csv")},
    )
    assert response.status_code == 200
    assert CallImport.objects.count() == 0


def test_agents_cannot_import_and_reports_are_scoped(web, alice, mary, imported):
    assert web(alice).get(reverse("telephony:imports")).status_code == 403
    detail = reverse("telephony:import-detail", args=[imported.pk])
    assert web(mary).get(detail).status_code == 404


def test_calls_list_is_scoped(web, imported, alice, bob, sue, mike, mary):
    def numbers(user):
        page = web(user).get(reverse("telephony:calls")).content.decode()
        return page.count('data-testid="call-row"')

    mine = Call.objects.filter(agent=alice).count()
    assert mine
    assert numbers(alice) == mine
    assert numbers(bob) == Call.objects.filter(agent=bob).count()
    team = Call.objects.filter(agent__team=alice.team).count()
    assert numbers(sue) == team
    assert numbers(mike) == Call.objects.count()
    assert numbers(mary) == 0


def test_calls_list_filters(web, imported, mike):
    client = web(mike)
    page = client.get(reverse("telephony:calls"), {"direction": "internal"}).content.decode()
    assert page.count('data-testid="call-row"') == 1
    page = client.get(reverse("telephony:calls"), {"number": "5678"}).content.decode()
    assert (
        page.count('data-testid="call-row"')
        == Call.objects.filter(external_number__contains="5678").count()
    )
    unmatched = client.get(reverse("telephony:calls"), {"unmatched": "true"}).content.decode()
    assert unmatched.count('data-testid="call-row"') == imported.unmatched


def test_calls_list_query_count(web, imported, mike, django_assert_max_num_queries):
    client = web(mike)
    client.get(reverse("telephony:calls"))
    with django_assert_max_num_queries(8):
        client.get(reverse("telephony:calls"))


def test_first_time_caller_becomes_a_lead_in_one_click(web, imported, bob):
    missed = Call.objects.get(uniqueid="1705287000.9")  # inbound to bob, no lead
    assert missed.new_caller
    response = web(bob).post(reverse("telephony:call-to-lead", args=[missed.pk]))
    lead = Lead.objects.get(phone=missed.external_number)
    assert response.status_code == 302
    assert response.url == reverse("desk:lead", args=[lead.pk])
    assert lead.source == Source.INBOUND
    assert lead.owner == bob
    missed.refresh_from_db()
    assert missed.lead == lead
    # A second click finds the open lead: nothing new, a message instead.
    again = web(bob).post(reverse("telephony:call-to-lead", args=[missed.pk]), follow=True)
    assert Lead.objects.filter(phone=missed.external_number).count() == 1
    assert again.status_code == 200


def test_one_click_on_someone_elses_call_is_404(web, imported, alice):
    missed = Call.objects.get(uniqueid="1705287000.9")  # bob's
    response = web(alice).post(reverse("telephony:call-to-lead", args=[missed.pk]))
    assert response.status_code == 404
    assert not Lead.objects.filter(phone=missed.external_number).exists()


def test_folder_job_imports_new_files_once(tmp_path, store_a, alice):
    CallSource.objects.create(
        store=store_a, name="FreePBX", folder=str(tmp_path), time_zone="Asia/Shanghai"
    )
    (tmp_path / "Master-1.csv").write_bytes((SAMPLES / "master_basic.csv").read_bytes())
    first = tasks.import_folders()
    assert first == {"files": 1, "skipped": 0, "failed_sources": 0}
    assert Call.objects.count() == 9
    (tmp_path / "Master-2.csv").write_bytes((SAMPLES / "master_transfer.csv").read_bytes())
    second = tasks.import_folders()
    assert second == {"files": 1, "skipped": 1, "failed_sources": 0}
    assert Call.objects.count() == 11
    report = CallImport.objects.filter(via="folder").first()
    assert report.source.name == "FreePBX"


def test_call_times_follow_the_source_zone(tmp_path, store_a, sue):
    source = CallSource.objects.create(store=store_a, name="UTC PBX", time_zone="UTC")
    services.import_cdr(
        actor=sue,
        store=store_a,
        fileobj=io.BytesIO((SAMPLES / "master_bom.csv").read_bytes()),
        file_name="master_bom.csv",
        source=source,
    )
    call = Call.objects.get(uniqueid="1705285800.1")
    # 02:30 UTC is 10:30 in Shanghai.
    assert call.started_at == datetime(2024, 1, 15, 10, 30, tzinfo=SHANGHAI)


def test_folder_job_imports_recordings_and_survives_a_missing_folder(
    tmp_path, settings, store_a, sue, alice
):
    from telephony.models import Format, Recording
    from tests.telephony.recording_helpers import wav_bytes

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TELEPHONY_RECORDING_MIN_AGE = 0
    services.import_cdr(
        actor=sue,
        store=store_a,
        fileobj=io.BytesIO((SAMPLES / "master_basic.csv").read_bytes()),
        file_name="master_basic.csv",
    )
    monitor = tmp_path / "monitor" / "2024" / "01" / "15"
    monitor.mkdir(parents=True)
    name = "out-913912345678-8001-20240115-103500-1705286100.3.wav"
    (monitor / name).write_bytes(wav_bytes())
    CallSource.objects.create(
        store=store_a,
        name="Recordings",
        format=Format.FREEPBX_RECORDINGS,
        folder=str(tmp_path / "monitor"),
    )
    CallSource.objects.create(store=store_a, name="Gone", folder=str(tmp_path / "nowhere"))
    assert tasks.import_folders() == {"files": 1, "skipped": 0, "failed_sources": 0}
    recording = Recording.objects.get()
    assert recording.call == Call.objects.get(uniqueid="1705286100.3")
    assert recording.agent == alice
    assert tasks.import_folders()["files"] == 0
    assert Recording.objects.count() == 1


def test_supervisor_uploads_recordings_in_the_browser(web, settings, tmp_path, imported, sue):
    from telephony.models import Recording
    from tests.telephony.recording_helpers import wav_bytes

    settings.MEDIA_ROOT = tmp_path / "media"
    name = "out-913912345678-8001-20240115-103500-1705286100.3.wav"
    audio = wav_bytes()
    files = [
        SimpleUploadedFile(name, audio, content_type="audio/wav"),
        SimpleUploadedFile(name, audio, content_type="audio/wav"),
        SimpleUploadedFile("notes.wav", b"plain text, not audio", content_type="audio/wav"),
    ]
    client = web(sue)
    response = client.post(reverse("telephony:recordings-upload"), {"files": files}, follow=True)
    # Post, redirect, get (issue 13 point 9): the page is the imports page,
    # which a reload fetches again without re-sending the files.
    assert response.redirect_chain[0][1] == 302
    assert response.request["PATH_INFO"] == reverse("telephony:imports")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="recording-outcomes"' in page
    recording = Recording.objects.get()
    assert recording.call == Call.objects.get(uniqueid="1705286100.3")
    assert page.count("bi-check-circle") == 1
    assert page.count("bi-dash-circle") == 1  # the same audio again
    assert page.count("bi-x-circle") == 1
    # A reload shows the page without the outcomes (shown once); a GET of the
    # upload address is no 405 but the imports page.
    reload = client.get(reverse("telephony:imports"))
    assert 'data-testid="recording-outcomes"' not in reload.content.decode()
    assert client.get(reverse("telephony:recordings-upload")).status_code == 302


def test_agents_cannot_upload_recordings(web, alice):
    response = web(alice).post(reverse("telephony:recordings-upload"), {})
    assert response.status_code == 403
