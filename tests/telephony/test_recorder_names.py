"""Recorders (issue 15, point 5): FreePBX kinds generic, parking, force and
ondemand; card indexes with Windows paths and the direction words 转移 and
三方. No database."""

import io

import pytest
from django.utils import translation

from telephony.parsers import SourceConfig, parse
from telephony.parsers.freepbx_recordings import parse_name
from telephony.recordings import index_file_path

CONFIG = SourceConfig(format="freepbx_recordings", tz="Asia/Shanghai", area_code="025")


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("name", "direction", "extension", "number"),
    [
        (
            "generic-8001-13812345678-20261103-100000-1793412000.1.wav",
            "inbound",
            "8001",
            "+8613812345678",
        ),
        (
            "force-913912345678-8002-20261103-100500-1793412300.2.wav",
            "outbound",
            "8002",
            "+8613912345678",
        ),
        ("ondemand-8001-8002-20261103-101000-1793412600.3.wav", "internal", "8002", None),
        (
            "parking-71-13712345678-20261103-101500-1793412900.4.wav",
            "inbound",
            None,
            "+8613712345678",
        ),
    ],
)
def test_freepbx_kinds_generic_force_ondemand_parking(name, direction, extension, number):
    parsed = parse_name(f"2026/11/03/{name}", CONFIG)
    assert (parsed.direction, parsed.extension, parsed.external_number) == (
        direction,
        extension,
        number,
    )


def test_card_index_transfer_and_three_way_words_decide_by_the_numbers():
    text = (
        "channel,direction,caller,callee,start,duration,file\n"
        "3,转移,13812345678,8001,2026-11-03 10:00:00,60,D:\\Record\\2026\\11\\03\\a.wav\n"
        "4,三方,8002,913912345678,2026-11-03 10:05:00,90,D:\\Record\\2026\\11\\03\\b.wav\n"
    )
    config = SourceConfig(format="card_index", tz="Asia/Shanghai", dial_prefixes=("9",))
    first, second = list(parse(io.BytesIO(text.encode()), config))
    assert (first.direction, first.extension, first.external_number) == (
        "inbound",
        "8001",
        "+8613812345678",
    )
    assert (second.direction, second.extension) == ("outbound", "8002")
    assert first.file == "D:\\Record\\2026\\11\\03\\a.wav"


def test_windows_paths_of_an_index_are_found_under_the_folder(tmp_path):
    (tmp_path / "2026" / "11" / "03").mkdir(parents=True)
    target = tmp_path / "2026" / "11" / "03" / "a.wav"
    target.write_bytes(b"RIFF")
    assert index_file_path(tmp_path, "D:\\Record\\2026\\11\\03\\a.wav") == target
    assert index_file_path(tmp_path, "2026/11/03/a.wav") == target
    assert index_file_path(tmp_path, "D:\\Record\\..\\secret.wav") is None
    missing = index_file_path(tmp_path, "D:\\Record\\x.wav")
    assert missing is not None
    assert not missing.is_file()


@pytest.mark.parametrize(
    ("preset", "name", "direction", "extension", "number"),
    [
        (
            "card_start_caller_callee",
            "D:\\Record\\2026\\11\\03\\20261103100000_13812345678_8001.wav",
            "inbound",
            "8001",
            "+8613812345678",
        ),
        (
            "channel_direction_number_start",
            "3_呼出_913912345678_20261103100500.wav",
            "outbound",
            "8003",
            "+8613912345678",
        ),
        (
            "yeastar",
            "20261103101000-1793412600.12-13712345678-8001-Inbound.wav",
            "inbound",
            "8001",
            "+8613712345678",
        ),
    ],
)
def test_named_file_presets(preset, name, direction, extension, number):
    from telephony.parsers import named_files

    config = SourceConfig(
        format="card_index",
        tz="Asia/Shanghai",
        dial_prefixes=("9",),
        channel_extensions={"3": "8003"},
    )
    (record,) = list(named_files.parse(io.BytesIO(name.encode() + b"\n"), config, preset))
    assert (record.direction, record.extension, record.external_number) == (
        direction,
        extension,
        number,
    )


def test_a_named_file_pattern_needs_start_and_a_number():
    from telephony.parsers import named_files

    with pytest.raises(ValueError, match="start and number"):
        named_files.compile_pattern(r"(?P<caller>\d+)\.wav")
    with pytest.raises(ValueError, match="not a regular expression"):
        named_files.compile_pattern(r"(?P<start>\d{14}")
    config = SourceConfig(format="card_index", tz="UTC")
    (error,) = list(named_files.parse(io.BytesIO(b"notes.txt\n"), config, "yeastar"))
    assert "does not match" in error.message
