"""Serving a recording's audio, for the pages and the API alike
(``serve_recording``), and the play log (DESIGN §1: scoped like the lead;
issue 5 §4: every play and download logged).

- The recording is fetched through ``Recording.objects.visible_to``: outside
  the user's scope it answers 404, like a recording that does not exist.
- The file is read through Django's storage API (``recording.file.open``),
  never by path, so another storage backend serves the same way.
- HTTP ranges: one range per request (``bytes=a-b``, ``bytes=a-``,
  ``bytes=-n``) answers 206 with ``Content-Range``; every answer says
  ``Accept-Ranges: bytes``. An HTML5 player needs this to seek (Chromium
  does not offer seeking in a file served without it). Several ranges in one
  request are answered with the whole file (allowed by RFC 9110); a range
  past the end answers 416.
- ``?download=1`` answers the file as an attachment.
- ``Cache-Control: private, no-store``: a customer's call is not kept in
  shared or disk caches (and every listening comes back to be logged).

The play log: every byte served belongs to a logged play or download.

- A download (``?download=1``, always the whole file) is one row each time.
- A request from byte 0 (or without a range) starts a play: one "play" row,
  unless the same person's last play of the recording is within
  ``PLAY_DEBOUNCE`` (browsers read the header and then the sound in two
  requests; a player with ``preload="metadata"`` is counted when it reads
  the start: the audio was fetched, so someone could listen).
- A request from a later byte is a seek within a play when the same person
  has a play of the recording within ``SEEK_WINDOW`` plus the recording's
  length (a listener pausing and seeking through one play); otherwise it
  starts a play of its own and makes a row. So ``Range: bytes=1-``, the
  whole recording but its first byte, is never an unlogged download, while
  the many range requests of one play make one row.

HEAD requests and refused ranges (416) serve no audio and are not logged.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.http import content_disposition_header

from telephony.models import Playback, Recording

CHUNK = 64 * 1024
PLAY_DEBOUNCE = timedelta(seconds=10)
SEEK_WINDOW = timedelta(minutes=30)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """``(first, last)`` (inclusive) of a single ``Range`` header; None when
    there is none or it is to be ignored (the whole file is answered); False
    when it cannot be satisfied (416)."""
    header = (header or "").strip()
    if not header:
        return None
    match = _RANGE.match(header.replace(" ", ""))
    if match is None:
        return None  # several ranges, or another unit: the whole file
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last n bytes
        length = int(last)
        if length == 0:
            return False
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return False
    return start, end


class _Chunks:
    """The bytes first..last of an open file, in chunks; closes the file
    when the response is done (or the client went away)."""

    def __init__(self, fileobj, first: int, last: int):
        self.fileobj = fileobj
        self.remaining = last - first + 1
        fileobj.seek(first)

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        if self.remaining <= 0:
            raise StopIteration
        data = self.fileobj.read(min(CHUNK, self.remaining))
        if not data:
            raise StopIteration
        self.remaining -= len(data)
        return data

    def close(self):
        self.fileobj.close()


def log_access(
    *, recording: Recording, user, action: str, via: str, first_byte: int = 0
) -> Playback | None:
    """Write the play-log row, unless the bytes asked for belong to a play
    already logged (the rule in the module's docstring): a request from the
    start within PLAY_DEBOUNCE of the same person's last play of the
    recording, a request from a later byte within the seek window."""
    if action == Playback.Action.PLAY:
        if first_byte == 0:
            window = PLAY_DEBOUNCE
        else:
            window = SEEK_WINDOW + timedelta(seconds=recording.duration or 0)
        recent = Playback.objects.filter(
            recording=recording,
            user=user,
            action=Playback.Action.PLAY,
            at__gte=timezone.now() - window,
        )
        if recent.exists():
            return None
    return Playback.objects.create(recording=recording, user=user, action=action, via=via)


def serve_recording(request, pk, *, user, via: str):
    """The audio of recording ``pk`` for ``user`` (404 outside their scope),
    with ranges, logged. ``request`` is Django's or DRF's."""
    recording = get_object_or_404(Recording.objects.visible_to(user), pk=pk)
    return audio_response(request, recording, user=user, via=via)


def audio_response(request, recording: Recording, *, user, via: str):
    download = request.GET.get("download") in ("1", "true", "yes")
    try:
        fileobj = recording.file.open("rb")
    except (FileNotFoundError, ValueError) as error:
        raise Http404("the recording's file is missing") from error
    size = recording.file.size
    wanted = None if download else parse_range(request.META.get("HTTP_RANGE", ""), size)
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-store",
        "Content-Disposition": content_disposition_header(
            as_attachment=download, filename=recording.original_name
        ),
    }
    if wanted is False:
        fileobj.close()
        response = HttpResponse(status=416, headers=headers)
        response["Content-Range"] = f"bytes */{size}"
        return response
    first, last = wanted if wanted else (0, size - 1)
    if request.method == "HEAD":
        fileobj.close()
        response = HttpResponse(content_type=recording.content_type, headers=headers)
    else:
        action = Playback.Action.DOWNLOAD if download else Playback.Action.PLAY
        log_access(recording=recording, user=user, action=action, via=via, first_byte=first)
        response = StreamingHttpResponse(
            _Chunks(fileobj, first, last), content_type=recording.content_type, headers=headers
        )
    response["Content-Length"] = str(last - first + 1)
    if wanted:
        response.status_code = 206
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    return response
