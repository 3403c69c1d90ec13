"""Recordings: added by FreePBX name, by a call's uniqueid or with explicit
metadata; duplicates; linked to the call, the agent and the lead; checked
as audio; folder imports idempotent with bad lines reported; served with
HTTP ranges, every play and download logged, scoped like the lead (pages,
API, downloads)."""

import io
import struct
from datetime import datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import IntegrityError
from django.urls import reverse
from django.utils import translation

from dcc.models import AuditEvent
from telephony import audio, recordings
from telephony.models import (
    Call,
    CallImport,
    CallSource,
    Format,
    ImportStatus,
    Playback,
    Recording,
)
from telephony.playback import SEEK_WINDOW, parse_range
from tests.telephony.recording_helpers import (
    SHANGHAI,
    add,
    at,
    import_sample_calls,
    stored_files,
    upload,
    use_flaky_storage,
    use_media,
    wav_bytes,
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    return use_media(settings, tmp_path)


@pytest.fixture
def flaky_storage(settings, media):
    return use_flaky_storage(settings)


INBOUND_NAME = "in-4008001234-13812345678-20240115-103000-1705285800.1.wav"


@pytest.fixture
def lead_138(make_lead, alice, mike):
    return make_lead(
        mike,
        phone="13812345678",
        owner=alice,
        received_at=datetime(2024, 1, 14, 9, 0, tzinfo=SHANGHAI),
    )


# ---------------------------------------------------------------- adding


def test_a_freepbx_name_says_when_who_and_which_call(sue, store_a, alice, lead_138, media):
    import_sample_calls(sue, store_a)
    added = add(sue, store_a, INBOUND_NAME, wav_bytes(3))
    recording = added.recording
    assert added.created
    assert recording.key == "1705285800.1"
    assert recording.call == Call.objects.get(key="1705285800.1")
    assert recording.started_at == at(10, 30)
    assert recording.direction == "inbound"
    assert recording.external_number == "+8613812345678"
    assert recording.agent == alice
    assert recording.lead == lead_138
    assert recording.duration == 3  # from the WAV header
    assert recording.content_type == "audio/wav"
    assert recording.original_name == INBOUND_NAME
    # Stored through the storage API, under a name nobody can guess.
    assert recording.file.name.startswith("recordings/")
    assert recording.file.name.endswith(INBOUND_NAME)
    assert stored_files(media) == [media / recording.file.name]
    assert AuditEvent.objects.filter(name="telephony.recording.added").count() == 1


def test_a_uniqueid_alone_takes_the_calls_facts(sue, store_a, alice):
    import_sample_calls(sue, store_a)
    recording = add(sue, store_a, "upload.wav", uniqueid="1705286100.3").recording
    call = Call.objects.get(key="1705286100.3")
    assert recording.call == call
    assert recording.started_at == call.started_at
    assert recording.direction == "outbound"
    assert recording.extension == "8001"
    assert recording.external_number == "+8613912345678"
    assert recording.agent == alice


def test_explicit_metadata_finds_agent_and_lead_without_a_call(sue, store_a, alice, lead_138):
    recording = add(
        sue,
        store_a,
        "card.wav",
        started_at=at(9, 0),
        direction="outbound",
        extension="8001",
        external_number="913812345678",  # dialled with the outside-line prefix
    ).recording
    assert recording.call is None
    assert recording.external_number == "+8613812345678"
    assert recording.agent == alice  # who had extension 8001 then
    assert recording.lead == lead_138


def test_a_call_is_found_by_time_extension_and_number(sue, store_a, bob):
    import_sample_calls(sue, store_a)
    near = add(
        sue,
        store_a,
        "a.wav",
        wav_bytes(tone=500),
        started_at=at(10, 50, 40),  # 40 s after the missed call started
        direction="inbound",
        extension="8002",
    ).recording
    assert near.call == Call.objects.get(key="1705287000.9")
    assert near.agent == bob
    far = add(
        sue,
        store_a,
        "b.wav",
        wav_bytes(tone=600),
        started_at=at(10, 53),  # 3 minutes off: no call
        direction="inbound",
        extension="8002",
    ).recording
    assert far.call is None
    other_number = add(
        sue,
        store_a,
        "c.wav",
        wav_bytes(tone=700),
        started_at=at(10, 50, 10),
        direction="inbound",
        extension="8002",
        external_number="13900000000",  # the call's number differs
    ).recording
    assert other_number.call is None


def test_the_same_file_or_uniqueid_again_is_a_duplicate(sue, store_a, media):
    first = add(sue, store_a, "one.wav", started_at=at(9), direction="inbound")
    again = add(sue, store_a, "renamed.wav", started_at=at(9), direction="inbound")
    assert first.created
    assert not again.created
    assert again.recording.pk == first.recording.pk
    by_id = add(
        sue, store_a, "x.wav", wav_bytes(tone=300), uniqueid="99.1", started_at=at(9),
        direction="inbound",
    )  # fmt: skip
    # A second upload with the same uniqueid needs no metadata to be known.
    other_bytes = add(sue, store_a, "y.wav", wav_bytes(tone=900), uniqueid="99.1")
    assert not other_bytes.created
    assert other_bytes.recording.pk == by_id.recording.pk
    assert Recording.objects.count() == 2
    assert len(stored_files(media)) == 2


@pytest.mark.parametrize(
    ("name", "data", "content_type", "field"),
    [
        ("notes.txt", b"hello", "text/plain", "file"),
        ("fake.wav", b"<html>not audio</html>", "audio/wav", "file"),
        ("page.wav", wav_bytes(), "text/html", "file"),
        ("empty.wav", b"", "audio/wav", "file"),
        ("unnamed.wav", wav_bytes(), "audio/wav", "started_at"),
    ],
)
def test_what_is_not_a_usable_recording_is_refused(
    sue, store_a, media, name, data, content_type, field
):
    with pytest.raises(ValidationError) as refused:
        recordings.recording_add(
            actor=sue,
            store=store_a,
            file=upload(name, data, content_type),
            name=name,
            direction="inbound",
        )
    assert field in refused.value.message_dict
    assert Recording.objects.count() == 0
    assert stored_files(media) == []


def test_a_size_limit_applies(sue, store_a, settings):
    settings.TELEPHONY_RECORDING_MAX_BYTES = 1000
    with translation.override("en"), pytest.raises(ValidationError, match="at most"):
        add(sue, store_a, "big.wav", started_at=at(9), direction="inbound")


def test_other_formats_are_recognised_by_their_bytes(sue, store_a):
    mp3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 50
    recording = add(sue, store_a, "call.mp3", mp3, started_at=at(9), direction="inbound")
    assert recording.recording.content_type == "audio/mpeg"
    assert recording.recording.duration is None
    ogg = add(sue, store_a, "c.ogg", b"OggS" + bytes(60), started_at=at(9), direction="inbound")
    assert ogg.recording.content_type == "audio/ogg"


def test_a_row_the_database_refuses_leaves_no_file(sue, store_a, media):
    # A negative duration breaks the column's CHECK constraint.
    with pytest.raises(IntegrityError):
        add(sue, store_a, "neg.wav", started_at=at(9), direction="inbound", duration=-1)
    assert stored_files(media) == []


def test_only_importers_of_the_store_add(alice, mary, store_a):
    with pytest.raises(PermissionDenied):
        add(alice, store_a, started_at=at(9), direction="inbound")
    with pytest.raises(PermissionDenied):
        add(mary, store_a, started_at=at(9), direction="inbound")


def test_wav_length_of_non_pcm_encodings_from_the_header():
    # μ-law (format 7), 8 kHz mono: 8000 bytes a second; 5 seconds of data.
    data = bytes(40000)
    fmt = struct.pack("<HHIIHH", 7, 1, 8000, 8000, 1, 8)
    riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    riff += b"data" + struct.pack("<I", len(data)) + data
    blob = b"RIFF" + struct.pack("<I", len(riff)) + riff
    assert audio.wav_seconds(io.BytesIO(blob)) == 5
    # A header never finished (size 0): the rest of the file.
    unfinished = blob.replace(b"data" + struct.pack("<I", len(data)), b"data" + bytes(4))
    assert audio.wav_seconds(io.BytesIO(unfinished)) == 5


def test_recordings_added_before_their_call_are_linked_when_the_log_comes(sue, store_a, alice):
    recording = add(sue, store_a, INBOUND_NAME).recording
    assert recording.call is None
    # The call log comes days later (imported once a day, or late): the
    # recording was kept, and the import links it.
    Recording.objects.filter(pk=recording.pk).update(
        created_at=recording.created_at - timedelta(days=3)
    )
    import_sample_calls(sue, store_a)
    recording.refresh_from_db()
    assert recording.call.key == "1705285800.1"
    assert recording.agent == alice
    assert recordings.link_unlinked(store_id=store_a.pk) == 0


# ---------------------------------------------------------------- folders


def _old(path):
    import os

    past = (datetime.now(tz=SHANGHAI) - timedelta(hours=1)).timestamp()
    os.utime(path, (past, past))


def _write(folder, relative, data=None, *, old=True):
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wav_bytes() if data is None else data)
    if old:
        _old(path)
    return path


@pytest.fixture
def freepbx(store_a, tmp_path):
    folder = tmp_path / "monitor"
    folder.mkdir()
    source = CallSource.objects.create(
        store=store_a, name="FreePBX", format=Format.FREEPBX_RECORDINGS, folder=str(folder)
    )
    return source, folder


def test_freepbx_folder_import_is_idempotent_and_reports_bad_names(
    sue, store_a, alice, lead_138, freepbx
):
    source, folder = freepbx
    import_sample_calls(sue, store_a)
    _write(folder, f"2024/01/15/{INBOUND_NAME}", wav_bytes(tone=410))
    _write(
        folder,
        "2024/01/15/out-913912345678-8001-20240115-103500-1705286100.3.wav",
        wav_bytes(tone=420),
    )
    _write(folder, "2024/01/15/voicemail-msg0001.wav", wav_bytes(tone=430))
    _write(folder, "2024/01/15/notes.txt", b"not a recording")
    _write(
        folder,
        "2024/01/15/in-4008001234-13812345678-20240115-105000-1705287000.9.wav",
        wav_bytes(tone=440),
        old=False,  # still being written
    )

    [report] = recordings.import_recording_folder(source=source)
    assert report.kind == "recordings"
    assert report.status == ImportStatus.DONE
    assert report.imported == 2
    assert report.error_count == 1
    assert report.errors[0]["line"] == 3
    assert "2024/01/15/voicemail-msg0001.wav" in report.errors[0]["message"]
    assert report.matched_leads == 1
    inbound = Recording.objects.get(key="1705285800.1")
    assert inbound.call_import == report
    assert inbound.lead == lead_138
    assert Recording.objects.get(key="1705286100.3").agent == alice

    # Again: nothing new, the same problem: no second report.
    assert recordings.import_recording_folder(source=source) == []
    assert CallImport.objects.filter(kind="recordings").count() == 1
    # The young file has settled; one more arrives.
    _old(folder / "2024/01/15/in-4008001234-13812345678-20240115-105000-1705287000.9.wav")
    [later] = recordings.import_recording_folder(source=source)
    assert later.imported == 1
    assert later.duplicates == 2
    assert Recording.objects.count() == 3


def test_a_missing_folder_is_refused(freepbx):
    source, folder = freepbx
    with pytest.raises(recordings.ImportRejected):
        recordings.import_recording_folder(source=source, folder=folder / "missing")


def test_a_failing_folder_import_keeps_no_row_and_no_file(
    sue, store_a, freepbx, media, flaky_storage
):
    source, folder = freepbx
    _write(folder, f"2024/01/15/{INBOUND_NAME}", wav_bytes(tone=610))
    _write(
        folder,
        "2024/01/15/out-913912345678-8001-20240115-103500-1705286100.3.wav",
        wav_bytes(tone=620),
    )
    with pytest.raises(RuntimeError, match="connection reset"):
        recordings.import_recording_folder(source=source)
    assert Recording.objects.count() == 0
    assert stored_files(media) == []  # the first file, stored, was removed again
    report = CallImport.objects.get()
    assert report.status == ImportStatus.FAILED
    assert "connection reset" in report.failure
    # The storage is back: the next run imports both.
    flaky_storage.reset(fail_at=0)
    [report] = recordings.import_recording_folder(source=source)
    assert report.imported == 2


@pytest.fixture
def card(store_a, tmp_path):
    folder = tmp_path / "card"
    folder.mkdir()
    source = CallSource.objects.create(
        store=store_a,
        name="三汇",
        format=Format.CARD_INDEX,
        folder=str(folder),
        pattern="index*.csv",
        channel_extensions={"1": "8001", "2": "8002"},
    )
    return source, folder


CARD_HEADER = "channel,direction,caller,callee,start,duration,file\n"


def test_card_index_import_reports_lines_and_is_idempotent(sue, store_a, alice, bob, card):
    source, folder = card
    _write(folder, "2024/01/15/a.wav", wav_bytes(tone=510))
    _write(folder, "2024/01/15/b.wav", wav_bytes(tone=520))
    _write(folder, "escape.wav", wav_bytes(tone=530))
    _write(folder, "2024/01/15/e.wav", wav_bytes(tone=550))
    index = folder / "index-20240115.csv"
    index.write_text(
        CARD_HEADER
        + "1,呼入,13812345678,62345600,2024-01-15 10:30:00,125,2024/01/15/a.wav\n"
        + "2,呼出,,962345678,2024-01-15 10:35:00,00:01:10,2024\\01\\15\\b.wav\n"
        + "1,呼入,13812345679,62345600,yesterday,30,2024/01/15/c.wav\n"
        + "1,呼入,13812345679,62345600,2024-01-15 10:50:00,30,2024/01/15/missing.wav\n"
        + "1,呼入,13812345679,62345600,2024-01-15 10:55:00,30,../card/../../escape.wav\n"
        + "2,呼入,13812345679,62345600,2024-01-15 10:56:00,-5,2024/01/15/e.wav\n",
        encoding="utf-8",
    )
    with translation.override("en"):  # the messages are translated (issue 15)
        [report] = recordings.import_recording_folder(source=source)
    assert report.imported == 2
    assert report.file_name == str(index)
    assert [error["line"] for error in report.errors] == [4, 5, 6, 7]
    assert "no such file" in report.errors[1]["message"]
    assert "outside the folder" in report.errors[2]["message"]
    assert "e.wav" in report.errors[3]["message"]  # a negative duration, refused
    inbound = Recording.objects.get(original_name="a.wav")
    assert inbound.agent == alice  # card channel 1 → extension 8001
    assert inbound.duration == 125  # from the index
    assert inbound.external_number == "+8613812345678"
    outbound = Recording.objects.get(original_name="b.wav")
    assert outbound.agent == bob
    assert outbound.direction == "outbound"

    # The index made calls too (a store with a card and no PBX log): one per
    # row read, whether or not its file is there; each recording is its call's.
    calls = Call.objects.filter(store=store_a).order_by("started_at")
    assert calls.count() == 4
    inbound_call = calls.get(recordings=inbound)
    assert (inbound_call.answered_by, inbound_call.agent, inbound_call.billsec) == (
        "agent",
        alice,
        125,
    )
    assert inbound_call.ring_seconds is None  # a card knows no ring time
    assert calls.get(recordings=outbound).direction == "outbound"

    with translation.override("en"):
        assert recordings.import_recording_folder(source=source) == []
    with index.open("a", encoding="utf-8") as handle:
        handle.write("2,呼入,13812345670,62345600,2024-01-15 11:00:00,20,2024/01/15/d.wav\n")
    _write(folder, "2024/01/15/d.wav", wav_bytes(tone=540))
    [grown] = recordings.import_recording_folder(source=source)
    assert grown.imported == 1
    assert grown.duplicates == 2
    assert Recording.objects.count() == 3
    assert Call.objects.filter(store=store_a).count() == 5
    assert Recording.objects.get(original_name="d.wav").call is not None


def test_the_command_imports_a_folder(store_a, tmp_path, capsys):
    folder = tmp_path / "spool"
    _write(folder, f"2024/01/15/{INBOUND_NAME}")
    out = io.StringIO()
    call_command("import_recordings", str(folder), "--store", "A01", stdout=out)
    assert "imported 1" in out.getvalue()
    assert Recording.objects.get().started_at == at(10, 30)
    out = io.StringIO()
    call_command("import_recordings", str(folder), "--store", "A01", stdout=out)
    assert "nothing new" in out.getvalue()


# ---------------------------------------------------------------- serving


def test_parse_range():
    assert parse_range("", 1000) is None
    assert parse_range("bytes=0-99", 1000) == (0, 99)
    assert parse_range("bytes=500-", 1000) == (500, 999)
    assert parse_range("bytes=-100", 1000) == (900, 999)
    assert parse_range("bytes=900-5000", 1000) == (900, 999)
    assert parse_range("bytes=0-1,5-9", 1000) is None  # several: the whole file
    assert parse_range("bytes=1000-", 1000) is False
    assert parse_range("bytes=50-10", 1000) is False


@pytest.fixture
def bobs_recording(sue, store_a, bob):
    return add(
        sue, store_a, "bob.wav", wav_bytes(2), started_at=at(9), direction="inbound",
        extension="8002",
    ).recording  # fmt: skip


def content(recording) -> bytes:
    with recording.file.open("rb") as stored:
        return stored.read()


def body(response) -> bytes:
    """The streamed body; reading it to the end closes the response (and
    the file) the way the test client expects (closing it by hand would
    close the test's database connection)."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def audio_url(recording):
    return reverse("telephony:recording-audio", args=[recording.pk])


def plays(recording, action="play"):
    return Playback.objects.filter(recording=recording, action=action).count()


def test_ranges_for_seeking_and_what_counts_as_a_play(web, sue, bobs_recording):
    client = web(sue)
    size = bobs_recording.size
    whole = client.get(audio_url(bobs_recording))
    assert whole.status_code == 200
    assert whole["Accept-Ranges"] == "bytes"
    assert whole["Content-Type"] == "audio/wav"
    assert whole["Content-Length"] == str(size)
    assert whole["Cache-Control"] == "private, no-store"
    assert body(whole) == content(bobs_recording)
    assert plays(bobs_recording) == 1

    # The player's first request (from byte 0) within seconds: the same play.
    start = client.get(audio_url(bobs_recording), HTTP_RANGE="bytes=0-")
    assert start.status_code == 206
    assert start["Content-Range"] == f"bytes 0-{size - 1}/{size}"
    body(start)
    assert plays(bobs_recording) == 1

    # Seeking: a later range, 206, not a play.
    seek = client.get(audio_url(bobs_recording), HTTP_RANGE="bytes=16000-16099")
    assert seek.status_code == 206
    assert seek["Content-Range"] == f"bytes 16000-16099/{size}"
    assert seek["Content-Length"] == "100"
    assert body(seek) == content(bobs_recording)[16000:16100]
    assert plays(bobs_recording) == 1

    beyond = client.get(audio_url(bobs_recording), HTTP_RANGE=f"bytes={size}-")
    assert beyond.status_code == 416
    assert beyond["Content-Range"] == f"bytes */{size}"
    assert Playback.objects.count() == 1
    playback = Playback.objects.get()
    assert playback.user == sue
    assert playback.via == "web"


def test_a_range_from_a_later_byte_without_a_play_is_a_logged_play(web, sue, bobs_recording):
    client = web(sue)
    size = bobs_recording.size
    # The whole recording but its first byte: it was an unlogged download.
    rest = client.get(audio_url(bobs_recording), HTTP_RANGE="bytes=1-")
    assert rest.status_code == 206
    assert rest["Content-Range"] == f"bytes 1-{size - 1}/{size}"
    assert body(rest) == content(bobs_recording)[1:]
    assert plays(bobs_recording) == 1
    # The seeks of that play are part of it, the start again within seconds too.
    for header in ("bytes=100-200", "bytes=16000-", "bytes=-500", "bytes=1-", "bytes=0-"):
        body(client.get(audio_url(bobs_recording), HTTP_RANGE=header))
    assert plays(bobs_recording) == 1


def test_the_seeks_of_one_play_make_one_row(web, sue, mike, bobs_recording):
    client = web(sue)
    body(client.get(audio_url(bobs_recording), HTTP_RANGE="bytes=0-"))
    for start in (100, 2000, 100, 30000, 5):
        seek = client.get(audio_url(bobs_recording), HTTP_RANGE=f"bytes={start}-{start + 100}")
        assert seek.status_code == 206
        body(seek)
    assert plays(bobs_recording) == 1
    # Someone else's seek is not part of sue's play.
    body(web(mike).get(audio_url(bobs_recording), HTTP_RANGE="bytes=100-200"))
    assert Playback.objects.filter(user=mike).count() == 1
    # A seek long after the play (past the window and the recording's length) is a new play.
    window = SEEK_WINDOW + timedelta(seconds=(bobs_recording.duration or 0) + 1)
    Playback.objects.update(at=Playback.objects.earliest("at").at - window)
    body(web(sue).get(audio_url(bobs_recording), HTTP_RANGE="bytes=100-200"))
    assert Playback.objects.filter(user=sue).count() == 2


def test_a_new_play_after_a_while_is_logged_again(web, sue, bobs_recording):
    client = web(sue)
    body(client.get(audio_url(bobs_recording)))
    Playback.objects.update(at=Playback.objects.get().at - timedelta(minutes=5))
    body(client.get(audio_url(bobs_recording), HTTP_RANGE="bytes=0-"))
    assert plays(bobs_recording) == 2


def test_every_download_is_logged(web, mike, bobs_recording):
    client = web(mike)
    for _ in range(2):
        response = client.get(audio_url(bobs_recording), {"download": "1"})
        assert response.status_code == 200
        assert response["Content-Disposition"] == 'attachment; filename="bob.wav"'
        body(response)
    assert plays(bobs_recording, "download") == 2
    assert plays(bobs_recording) == 0


def test_a_head_request_logs_nothing(web, mike, bobs_recording):
    response = web(mike).head(audio_url(bobs_recording))
    assert response.status_code == 200
    assert response["Content-Length"] == str(bobs_recording.size)
    assert Playback.objects.count() == 0


# Bob's call: bob (the agent), his supervisor sue, the store's manager mike
# and the group admin see it; alice (same team), carol (another team), mary
# and dave (another store) do not.
SCOPE = [
    ("bob", 200),
    ("sue", 200),
    ("mike", 200),
    ("root", 200),
    ("alice", 404),
    ("carol", 404),
    ("mary", 404),
    ("dave", 404),
]


@pytest.mark.parametrize(("username", "expected"), SCOPE)
def test_audio_page_and_download_are_scoped_like_the_lead(
    web, everyone, bobs_recording, username, expected
):
    client = web(everyone[username])
    play = client.get(audio_url(bobs_recording))
    assert play.status_code == expected
    body(play)
    download = client.get(audio_url(bobs_recording), {"download": "1"})
    assert download.status_code == expected
    body(download)
    page = client.get(reverse("telephony:recording", args=[bobs_recording.pk]))
    assert page.status_code == expected
    logged = Playback.objects.filter(user=everyone[username]).count()
    assert logged == (2 if expected == 200 else 0)


@pytest.mark.parametrize(("username", "expected"), SCOPE)
def test_api_audio_and_list_are_scoped(api, everyone, bobs_recording, username, expected):
    client = api(everyone[username])
    response = client.get(f"/api/v1/recordings/{bobs_recording.pk}/audio/")
    assert response.status_code == expected
    if expected == 200:
        body(response)
        assert Playback.objects.get(user=everyone[username]).via == "api"
    assert client.get(f"/api/v1/recordings/{bobs_recording.pk}/").status_code == expected
    listed = [row["id"] for row in client.get("/api/v1/recordings/").json()["results"]]
    assert listed == ([bobs_recording.pk] if expected == 200 else [])


def test_a_recording_on_a_teams_lead_is_seen_by_that_teams_supervisor(
    web, sue, mike, alice, make_lead
):
    # An unknown extension, but the number is alice's lead: sue sees it.
    lead = make_lead(mike, phone="13812345678", owner=alice, received_at=at(8))
    recording = add(
        mike, mike.store, "x.wav", started_at=at(9), direction="inbound",
        external_number="13812345678", extension="8999",
    ).recording  # fmt: skip
    assert recording.lead == lead
    assert recording.agent is None
    for user in (sue, alice):
        response = web(user).get(audio_url(recording))
        assert response.status_code == 200
        body(response)


def test_the_api_requires_a_token(api, bobs_recording):
    assert api().get(f"/api/v1/recordings/{bobs_recording.pk}/audio/").status_code == 401


def test_api_audio_serves_any_accept_header_and_ranges(api, mike, bobs_recording):
    response = api(mike).get(
        f"/api/v1/recordings/{bobs_recording.pk}/audio/",
        HTTP_ACCEPT="audio/wav",
        HTTP_RANGE="bytes=100-199",
    )
    assert response.status_code == 206
    assert len(body(response)) == 100
    assert Playback.objects.get().via == "api"  # bytes served with no play before: a play


# ---------------------------------------------------------------- API upload


def test_api_upload_201_then_duplicate_200(api, sue, store_a, alice, lead_138):
    import_sample_calls(sue, store_a)
    client = api(sue)
    data = {"file": upload(INBOUND_NAME, wav_bytes(1))}
    response = client.post("/api/v1/telephony/recordings/", data, format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["call"] == Call.objects.get(key="1705285800.1").pk
    assert body["lead"] == lead_138.pk
    assert body["agent"] == alice.pk
    assert body["duration"] == 1
    assert body["duplicate"] is False
    assert body["started_at"] == "2024-01-15T10:30:00+08:00"
    assert body["audio"].endswith(f"/api/v1/recordings/{body['id']}/audio/")
    again = client.post(
        "/api/v1/telephony/recordings/",
        {"file": upload(INBOUND_NAME, wav_bytes(1))},
        format="multipart",
    )
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    assert again.json()["duplicate"] is True


def test_api_upload_with_metadata_and_errors(api, sue, mike, root, alice, store_a, store_b):
    fields = {
        "started_at": "2024-01-15T09:00:00+08:00",
        "direction": "outbound",
        "extension": "8001",
        "external_number": "913812345678",
    }
    created = api(sue).post(
        "/api/v1/telephony/recordings/",
        {"file": upload("r.wav"), **fields},
        format="multipart",
    )
    assert created.status_code == 201
    assert created.json()["agent"] == alice.pk
    assert created.json()["external_number"] == "+8613812345678"

    not_audio = api(sue).post(
        "/api/v1/telephony/recordings/",
        {"file": upload("r.wav", b"plain text", "text/plain"), **fields},
        format="multipart",
    )
    assert not_audio.status_code == 400
    assert "file" in not_audio.json()
    no_time = api(sue).post(
        "/api/v1/telephony/recordings/",
        {"file": upload("r2.wav", wav_bytes(tone=800))},
        format="multipart",
    )
    assert no_time.status_code == 400
    assert "started_at" in no_time.json()
    forbidden = api(alice).post(
        "/api/v1/telephony/recordings/", {"file": upload("r3.wav"), **fields}, format="multipart"
    )
    assert forbidden.status_code == 403
    # A group admin names the store; a manager cannot name another store.
    needs_store = api(root).post(
        "/api/v1/telephony/recordings/", {"file": upload("r4.wav"), **fields}, format="multipart"
    )
    assert needs_store.status_code == 400
    assert "store" in needs_store.json()
    other = api(mike).post(
        "/api/v1/telephony/recordings/",
        {"file": upload("r5.wav", wav_bytes(tone=870)), "store": store_b.pk, **fields},
        format="multipart",
    )
    assert other.status_code == 400
    named = api(root).post(
        "/api/v1/telephony/recordings/",
        {"file": upload("r6.wav", wav_bytes(tone=880)), "store": store_b.pk, **fields},
        format="multipart",
    )
    assert named.status_code == 201
    assert named.json()["store"] == store_b.pk


def test_api_list_filters(api, sue, store_a, alice, bob, lead_138):
    import_sample_calls(sue, store_a)
    inbound = add(sue, store_a, INBOUND_NAME).recording
    add(sue, store_a, "bob.wav", wav_bytes(tone=321), started_at=at(9), extension="8002",
        direction="inbound")  # fmt: skip
    client = api(sue)

    def ids(**query):
        return [row["id"] for row in client.get("/api/v1/recordings/", query).json()["results"]]

    assert len(ids()) == 2
    assert ids(lead=lead_138.pk) == [inbound.pk]
    assert ids(agent=alice.pk) == [inbound.pk]
    assert ids(call=inbound.call_id) == [inbound.pk]
    assert len(ids(agent=bob.pk)) == 1


def test_api_schema_documents_the_recording_endpoints(api, db):
    schema = api().get("/api/v1/schema/?format=json").json()
    upload_op = schema["paths"]["/api/v1/telephony/recordings/"]["post"]
    assert "multipart/form-data" in upload_op["requestBody"]["content"]
    assert "/api/v1/recordings/{id}/audio/" in schema["paths"]


def test_a_recorder_that_only_names_files_is_imported_with_its_pattern(store_a, alice, tmp_path):
    # Issue 15: no index, the file name says it all (a ready pattern).
    folder = tmp_path / "Record"
    source = CallSource.objects.create(
        store=store_a,
        name="Synway",
        format=Format.NAMED_FILES,
        file_name_pattern="card_start_caller_callee",
        time_zone="Asia/Shanghai",
        folder=str(folder),
    )
    source.full_clean()
    _write(folder, "2026/11/03/20261103100000_13812345678_8001.wav", wav_bytes(tone=450))
    _write(folder, "2026/11/03/readme.wav", wav_bytes(tone=460))
    [report] = recordings.import_recording_folder(source=source)
    assert report.imported == 1
    assert report.error_count == 1
    recording = Recording.objects.get()
    assert recording.extension == "8001"
    assert recording.external_number == "+8613812345678"
    assert recordings.import_recording_folder(source=source) == []


def test_a_named_files_source_needs_a_valid_pattern(store_a):
    from django.core.exceptions import ValidationError

    source = CallSource(store=store_a, name="x", format=Format.NAMED_FILES, file_name_pattern="(")
    with pytest.raises(ValidationError) as error:
        source.full_clean()
    assert "file_name_pattern" in error.value.message_dict
