"""Recordings for the tests: real WAV files (stdlib ``wave``), a media folder
per test, and a recording added through the real service."""

from __future__ import annotations

import io
import math
import struct
import wave
from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile

from telephony import services
from telephony.recordings import recording_add

SHANGHAI = ZoneInfo("Asia/Shanghai")


def wav_bytes(seconds: float = 2.0, *, rate: int = 8000, tone: int = 440) -> bytes:
    """A mono 16-bit PCM WAV of a sine tone (a different tone, a different file)."""
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * tone * n / rate)))
        for n in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(frames)
    return buffer.getvalue()


def upload(name: str, data: bytes | None = None, content_type: str = "audio/wav"):
    return SimpleUploadedFile(name, wav_bytes() if data is None else data, content_type)


def add(actor, store, name="rec.wav", data=None, **meta):
    return recording_add(actor=actor, store=store, file=upload(name, data), name=name, **meta)


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    """15 January 2024 in Shanghai: the day of the sample call log."""
    return datetime(2024, 1, 15, hour, minute, second, tzinfo=SHANGHAI)


def import_sample_calls(actor, store):
    from tests.telephony.test_import import sample

    return services.import_cdr(
        actor=actor, store=store, fileobj=sample("master_basic.csv"), file_name="master.csv"
    )


def use_media(settings, tmp_path):
    """Recordings go to a folder of this test's own (a fixture per module)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media) -> list:
    return sorted(p for p in media.rglob("*") if p.is_file()) if media.exists() else []


class FlakyStorage(FileSystemStorage):
    """A storage that breaks down (a remote store's connection dropping)
    on the n-th file written since ``reset``."""

    fail_at = 2
    saved = 0

    @classmethod
    def reset(cls, fail_at: int = 2):
        cls.fail_at, cls.saved = fail_at, 0

    def _save(self, name, content):
        type(self).saved += 1
        if type(self).saved == self.fail_at:
            raise RuntimeError("storage connection reset")
        return super()._save(name, content)


def use_flaky_storage(settings):
    FlakyStorage.reset()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "tests.telephony.recording_helpers.FlakyStorage"},
    }
    return FlakyStorage
