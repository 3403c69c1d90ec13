"""Audio files of recordings: what the browsers play, recognised by their
first bytes (WAV, MP3, Ogg/Opus, MP4/M4A, AAC, FLAC) whatever the name or the
sender claims; a size limit (``TELEPHONY_RECORDING_MAX_BYTES``); a WAV's
length from its header."""

from __future__ import annotations

import struct
import wave
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from telephony.services import file_digest

# What the browsers play, by file name extension (lower case).
EXTENSIONS = {
    "wav": "wav",
    "mp3": "mp3",
    "ogg": "ogg",
    "oga": "ogg",
    "opus": "ogg",
    "m4a": "mp4",
    "mp4": "mp4",
    "aac": "aac",
    "flac": "flac",
}
CONTENT_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "mp4": "audio/mp4",
    "aac": "audio/aac",
    "flac": "audio/flac",
}
# Content types a client may claim for an audio upload (it is then sniffed).
CLAIMABLE = ("audio/", "application/octet-stream", "application/ogg", "video/mp4", "video/ogg")
DEFAULT_MAX_BYTES = 200 * 1024 * 1024


def max_bytes() -> int:
    return int(getattr(settings, "TELEPHONY_RECORDING_MAX_BYTES", DEFAULT_MAX_BYTES))


def sniff(head: bytes) -> str | None:
    """The audio format the first bytes show, or None."""
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return "mp4"
    if head[:3] == b"ID3" or head[:4] == b"ADIF":
        return "mp3" if head[:3] == b"ID3" else "aac"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # MPEG frame sync: layer bits 00 are AAC's ADTS, others MPEG audio.
        return "aac" if head[1] & 0x06 == 0 else "mp3"
    return None


@dataclass(frozen=True)
class Audio:
    format: str
    content_type: str
    size: int
    sha256: str


def check_audio(fileobj, name: str) -> Audio:
    """Size, digest and format of an upload, else ValidationError on ``file``."""
    suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower().lstrip(".")
    if suffix not in EXTENSIONS:
        raise ValidationError(
            {
                "file": _("%(name)s: not an audio file this system plays (%(known)s).")
                % {"name": name, "known": ", ".join(sorted(EXTENSIONS))}
            }
        )
    claimed = (getattr(fileobj, "content_type", None) or "").lower()
    if claimed and not claimed.startswith(CLAIMABLE):
        message = _("%(name)s is sent as %(type)s, not audio.")
        raise ValidationError({"file": message % {"name": name, "type": claimed}})
    digest, size = file_digest(fileobj)
    if size == 0:
        raise ValidationError({"file": _("%(name)s is empty.") % {"name": name}})
    limit = max_bytes()
    if size > limit:
        raise ValidationError(
            {
                "file": _("%(name)s is %(size)s MB; recordings may have at most %(limit)s MB.")
                % {"name": name, "size": round(size / 2**20, 1), "limit": round(limit / 2**20)}
            }
        )
    found = sniff(fileobj.read(16))
    fileobj.seek(0)
    if found is None:
        raise ValidationError(
            {"file": _("%(name)s does not contain audio in a known format.") % {"name": name}}
        )
    return Audio(found, CONTENT_TYPES[found], size, digest)


def wav_seconds(fileobj) -> int | None:
    """A WAV file's length in whole seconds from its header (stdlib ``wave``
    for PCM; other encodings, e.g. the μ-law and GSM that PBXs write, from
    the byte rate and the data chunk's size). None when it cannot tell."""
    fileobj.seek(0)
    try:
        with wave.open(fileobj, "rb") as reader:
            rate = reader.getframerate()
            return round(reader.getnframes() / rate) if rate else None
    except (wave.Error, EOFError):
        pass
    finally:
        fileobj.seek(0)
    try:
        return _riff_seconds(fileobj)
    finally:
        fileobj.seek(0)


def _riff_seconds(fileobj) -> int | None:
    fileobj.seek(12)
    byte_rate = None
    while header := fileobj.read(8):
        if len(header) < 8:
            return None
        chunk, size = header[:4], struct.unpack("<I", header[4:])[0]
        if chunk == b"fmt ":
            body = fileobj.read(size + size % 2)
            if len(body) < 12:
                return None
            byte_rate = struct.unpack("<I", body[8:12])[0]
        elif chunk == b"data":
            if not byte_rate:
                return None
            start = fileobj.tell()
            end = fileobj.seek(0, 2)
            # A header left unfinished (0 or 0xFFFFFFFF): the rest of the file.
            available = end - start
            length = size if 0 < size <= available else available
            return round(length / byte_rate)
        else:
            fileobj.seek(size + size % 2, 1)
    return None
