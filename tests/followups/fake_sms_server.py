"""A local fake of Tencent Cloud SMS ``SendSms`` (API 2021-01-11) for tests.

The official SDK posts JSON to ``<scheme>://<endpoint>/`` with a
TC3-HMAC-SHA256 ``Authorization`` header and ``X-TC-Action: SendSms``; the
endpoint may carry a port (``127.0.0.1:8123``, scheme ``http``). This server
answers on 127.0.0.1 in the real response shape (TELEPHONY.md "SMS
providers"):

* ``Response.SendStatusSet[]`` with ``SerialNo``, ``PhoneNumber``, ``Fee``,
  ``SessionContext``, ``Code`` (``"Ok"`` or a per-number failure such as
  ``LimitExceeded.PhoneNumberDailyLimit``), ``Message``, ``IsoCode``, and a
  ``RequestId``;
* or an API-level error: ``Response.Error{Code, Message}`` and ``RequestId``.

Every request (headers and JSON body) is recorded the moment it arrives,
before any scripted delay, in ``server.requests`` and, with ``record_path``,
as one JSON line in a file, so that a test in another process can count what
the provider received. Replies are scripted in order (``Reply``); once the
script is used up every request gets ``default`` (success). A reply can be
delayed, or held until ``release()``, to simulate a slow provider.

Standard library only. In a thread::

    with FakeSmsServer(Reply.api_error("InternalError", "...")) as fake:
        settings.SMS_TENCENT = fake.tencent_settings()
        ...
        fake.wait_for_requests(2)

Or in its own process (prints its port on the first line of stdout)::

    python -m tests.followups.fake_sms_server --record /tmp/sms.jsonl \
        --reply '{"code": "InternalError.Timeout"}'
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import itertools
import json
import signal
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Longest a held reply waits for release() before answering anyway.
HOLD_LIMIT = 60.0


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``error`` set: an API-level ``Response.Error``;
    else a ``SendStatusSet`` whose one status has ``code``/``message``."""

    code: str = "Ok"
    message: str = "send success"
    error: str = ""
    delay: float = 0.0
    hold: bool = False
    http_status: int = 200

    @classmethod
    def ok(cls, *, delay: float = 0.0, hold: bool = False) -> Reply:
        return cls(delay=delay, hold=hold)

    @classmethod
    def failed(cls, code: str, message: str = "", **kwargs) -> Reply:
        """The request succeeds but the number fails (``SendStatusSet[].Code``)."""
        return cls(code=code, message=message or code, **kwargs)

    @classmethod
    def api_error(cls, code: str, message: str = "", **kwargs) -> Reply:
        """The whole request fails (``Response.Error``)."""
        return cls(error=code, message=message or code, **kwargs)

    def body(self, request: dict, serial: int) -> dict:
        request_id = str(uuid.uuid4())
        if self.error:
            return {
                "Response": {
                    "Error": {"Code": self.error, "Message": self.message},
                    "RequestId": request_id,
                }
            }
        ok = self.code == "Ok"
        statuses = [
            {
                "SerialNo": serial_no(serial, index) if ok else "",
                "PhoneNumber": phone,
                "Fee": 1 if ok else 0,
                "SessionContext": request.get("SessionContext", ""),
                "Code": self.code,
                "Message": self.message,
                "IsoCode": "CN" if phone.startswith("+86") else "",
            }
            for index, phone in enumerate(request.get("PhoneNumberSet") or [])
        ]
        return {"Response": {"SendStatusSet": statuses, "RequestId": request_id}}


def serial_no(serial: int, index: int = 0) -> str:
    """The fake's ``SerialNo`` for the ``index``-th number of request ``serial``."""
    return f"2433:{serial:06d}-{index}"


def tencent_settings(endpoint: str, **overrides) -> dict:
    """An ``SMS_TENCENT`` dict pointing the backend at a fake on ``endpoint``."""
    conf = {
        "endpoint": endpoint,
        "scheme": "http",
        "secret_id": "AKIDfakeSecretId",
        "secret_key": "fakeSecretKey",
        "region": "ap-guangzhou",
        "sdk_app_id": "1400000001",
    }
    conf.update(overrides)
    return conf


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8")
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {}
        fake = self.server.fake
        serial, reply = fake._receive(dict(self.headers.items()), raw, payload)
        if reply.hold:
            fake._released.wait(HOLD_LIMIT)
        if reply.delay:
            fake._stopping.wait(reply.delay)
        if reply.http_status == 200:
            data = json.dumps(reply.body(payload, serial), ensure_ascii=False).encode("utf-8")
            # Exactly "application/json": the SDK only parses errors under that type.
            content_type = "application/json"
        else:  # a gateway in front of the API answering for it
            data = f"<html><h1>{reply.http_status}</h1></html>".encode()
            content_type = "text/html"
        try:
            self.send_response(reply.http_status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout) or was killed: nothing to answer
        self.close_connection = True

    def log_message(self, format, *args):
        pass  # keep test output clean


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeSmsServer

    def handle_error(self, request, client_address):
        pass  # a client vanishing mid-request is the point of some tests


class FakeSmsServer:
    """The fake provider, served from a daemon thread on 127.0.0.1."""

    def __init__(
        self,
        *replies: Reply,
        default: Reply | None = None,
        record_path: str | Path | None = None,
        port: int = 0,
    ):
        self._lock = threading.Lock()
        self._script = list(replies)
        self.default = default or Reply.ok()
        self.record_path = Path(record_path) if record_path else None
        self.requests: list[dict] = []
        self._serials = itertools.count(1)
        self._released = threading.Event()
        self._stopping = threading.Event()
        self._arrived = threading.Condition(self._lock)
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> FakeSmsServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeSmsServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ scripting

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def release(self) -> None:
        """Let held replies answer."""
        self._released.set()

    def tencent_settings(self, **overrides) -> dict:
        """An ``SMS_TENCENT`` dict pointing the backend at this server."""
        return tencent_settings(self.endpoint, **overrides)

    # ------------------------------------------------------------ what arrived

    def _receive(self, headers: dict, raw: str, payload: dict) -> tuple[int, Reply]:
        with self._arrived:
            reply = self._script.pop(0) if self._script else self.default
            serial = next(self._serials)
            record = {
                "serial": serial,
                "received_at": time.time(),
                "headers": headers,
                "body": raw,
                "json": payload,
                "reply": asdict(reply),
            }
            self.requests.append(record)
            if self.record_path is not None:
                with self.record_path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                    fh.flush()
            self._arrived.notify_all()
        return serial, reply

    def wait_for_requests(self, count: int, timeout: float = 20.0) -> list[dict]:
        """Block until at least ``count`` requests arrived; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"the fake SMS provider got {len(self.requests)} request(s), "
                        f"expected {count} within {timeout}s"
                    )
                self._arrived.wait(left)
            return list(self.requests)


def read_records(path: str | Path) -> list[dict]:
    """The requests recorded in a ``record_path`` file (by any process)."""
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def header(record: dict, name: str) -> str:
    """A recorded header, case-insensitively."""
    lowered = {key.lower(): value for key, value in record["headers"].items()}
    return lowered.get(name.lower(), "")


def tc3_signature(record: dict, secret_key: str, service: str = "sms") -> str:
    """Recompute the TC3-HMAC-SHA256 signature of a recorded POST (Tencent
    Cloud API 3.0 signing), to compare with its Authorization header."""
    timestamp = header(record, "X-TC-Timestamp")
    date = datetime.fromtimestamp(int(timestamp), tz=UTC).strftime("%Y-%m-%d")
    canonical_request = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{header(record, 'Content-Type')}\nhost:{header(record, 'Host')}\n",
            "content-type;host",
            hashlib.sha256(record["body"].encode("utf-8")).hexdigest(),
        ]
    )
    string_to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            timestamp,
            f"{date}/{service}/tc3_request",
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )

    def _hmac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()

    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--record", required=True, help="append each request here (JSON lines)")
    parser.add_argument(
        "--reply",
        action="append",
        default=[],
        help='a scripted reply as JSON, e.g. {"error": "InternalError", "delay": 5}',
    )
    args = parser.parse_args(argv)
    replies = [Reply(**json.loads(text)) for text in args.reply]
    fake = FakeSmsServer(*replies, record_path=args.record, port=args.port).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sys.stdout.write(f"{fake.port}\n")
    sys.stdout.flush()
    stop.wait()
    fake.stop()


if __name__ == "__main__":
    main()
