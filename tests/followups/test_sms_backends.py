"""SMS backends (``SMS_BACKEND``): console, file and outbox-only, and Tencent
Cloud SendSms through its official SDK against a local fake HTTP server
(tests/followups/fake_sms_server.py), which speaks the real response shape."""

import json
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from followups import services, sms
from followups.backends.base import TransportError
from followups.backends.console import ConsoleBackend, FileBackend, OutboxOnlyBackend
from followups.backends.tencent import TencentBackend
from followups.models import SmsMessage, SmsStatus
from tests.followups.fake_sms_server import (
    FakeSmsServer,
    Reply,
    header,
    read_records,
    serial_no,
    tc3_signature,
    tencent_settings,
)

pytestmark = pytest.mark.django_db

TENCENT = "followups.backends.tencent.TencentBackend"
TEMPLATES = {"booking_customer": "1110001", "booking_receiver": 1110002, "reminder_customer": "3"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake():
    with FakeSmsServer() as server:
        yield server


def tencent(server, **overrides):
    return override_settings(
        SMS_BACKEND=TENCENT,
        SMS_TENCENT=server.tencent_settings(**overrides),
        SMS_TEMPLATE_IDS=TEMPLATES,
    )


@pytest.fixture
def booking(alice, connie, make_lead):
    """An appointment whose booking SMS go to the customer and, typed
    free-form, to the receiving salesperson's mobile."""
    connie.mobile = "139 1111 2222"
    connie.save()
    with override_settings(SMS_BACKEND="followups.backends.console.OutboxOnlyBackend"):
        appointment = services.appointment_book(
            actor=alice,
            lead=make_lead(alice, phone="13912345678", name="王小明"),
            scheduled_at=timezone.now() + timedelta(days=3),
            receiver=connie,
        )
    return {m.kind: m for m in SmsMessage.objects.filter(appointment=appointment)}


def customer_message(booking):
    return booking["booking_customer"]


# ---------------------------------------------------------------- Tencent: success


def test_success_returns_the_serial_number(fake, booking):
    message = customer_message(booking)
    with tencent(fake):
        provider_id = TencentBackend().send(message, text=sms.preview(message))
    (record,) = fake.requests
    assert provider_id == serial_no(record["serial"])
    assert record["reply"]["code"] == "Ok"


def test_the_request_is_a_signed_sendsms_with_template_and_params(fake, booking):
    message = customer_message(booking)
    with tencent(fake):
        TencentBackend().send(message, text=sms.preview(message))
    (record,) = fake.requests
    body = record["json"]
    assert body["TemplateId"] == "1110001"
    assert body["SignName"] == message.signature == "浦东店"
    assert body["TemplateParamSet"] == message.params
    assert body["TemplateParamSet"][0] == "王小明"  # ordered: customer, time, purpose, store
    assert body["TemplateParamSet"][3] == "浦东店"
    assert body["PhoneNumberSet"] == ["+8613912345678"]
    assert body["SmsSdkAppId"] == "1400000001"
    assert body["SessionContext"] == message.idempotency_key
    assert header(record, "X-TC-Action") == "SendSms"
    assert header(record, "X-TC-Version") == "2021-01-11"
    assert header(record, "X-TC-Region") == "ap-guangzhou"
    assert header(record, "Host") == fake.endpoint  # the port is part of the signed host
    authorization = header(record, "Authorization")
    assert authorization.startswith("TC3-HMAC-SHA256 Credential=AKIDfakeSecretId/")
    assert "/sms/tc3_request, SignedHeaders=content-type;host, Signature=" in authorization
    assert authorization.endswith(f"Signature={tc3_signature(record, 'fakeSecretKey')}")


def test_a_free_form_receiver_mobile_goes_out_in_e164(fake, booking):
    message = booking["booking_receiver"]
    assert message.phone == "139 1111 2222"
    with tencent(fake):
        TencentBackend().send(message, text=sms.preview(message))
    (record,) = fake.requests
    assert record["json"]["PhoneNumberSet"] == ["+8613911112222"]
    assert record["json"]["TemplateId"] == "1110002"  # an int in SMS_TEMPLATE_IDS is sent as text


def test_an_invalid_number_or_a_missing_template_is_permanent_and_not_sent(fake, booking):
    message = customer_message(booking)
    message.phone = "12345"
    with tencent(fake), pytest.raises(TransportError) as exc:
        TencentBackend().send(message, text="")
    assert exc.value.permanent
    message = booking["booking_receiver"]
    with (
        tencent(fake),
        override_settings(SMS_TEMPLATE_IDS={}),
        pytest.raises(TransportError) as exc,
    ):
        TencentBackend().send(message, text="")
    assert exc.value.permanent
    assert "no template id" in str(exc.value)
    assert fake.requests == []


# ---------------------------------------------------------------- Tencent: failures


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [
        # The request succeeds, the number fails (SendStatusSet[].Code).
        (Reply.failed("FailedOperation.TemplateIncorrectOrUnapproved", "模板未审核"), True),
        (Reply.failed("InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误"), True),
        (Reply.failed("LimitExceeded.PhoneNumberDailyLimit", "单个手机号日下发条数超限"), True),
        (Reply.failed("FailedOperation.SignatureIncorrectOrUnapproved", "签名未审核"), True),
        (Reply.failed("InternalError.Timeout", "请求下发短信超时"), False),
        (Reply.failed("InternalError.OtherError", "其他错误"), False),
        # The whole request fails (Response.Error).
        (Reply.api_error("AuthFailure.SignatureFailure", "签名错误"), True),
        (Reply.api_error("AuthFailure.SecretIdNotFound", "密钥不存在"), True),
        (Reply.api_error("InternalError", "内部错误"), False),
        (Reply.api_error("RequestLimitExceeded", "请求的次数超过了频率限制"), False),
        # Not even JSON: a gateway in front of the API answering 502.
        (Reply(http_status=502), False),
    ],
    ids=lambda value: (value.error or value.code) if isinstance(value, Reply) else str(value),
)
def test_failures_are_permanent_or_temporary(fake, booking, reply, permanent):
    fake.script(reply)
    message = customer_message(booking)
    with tencent(fake), pytest.raises(TransportError) as exc:
        TencentBackend().send(message, text=sms.preview(message))
    assert exc.value.permanent is permanent
    if reply.http_status == 200:
        assert (reply.error or reply.code) in str(exc.value)
    assert len(fake.requests) == 1


def test_connection_refused_is_temporary(booking):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conf = {
        "endpoint": f"127.0.0.1:{port}",
        "scheme": "http",
        "secret_id": "id",
        "secret_key": "key",
        "region": "ap-guangzhou",
        "sdk_app_id": "1400000001",
    }
    message = customer_message(booking)
    with (
        override_settings(SMS_BACKEND=TENCENT, SMS_TENCENT=conf, SMS_TEMPLATE_IDS=TEMPLATES),
        pytest.raises(TransportError) as exc,
    ):
        TencentBackend().send(message, text="")
    assert not exc.value.permanent
    assert "ClientNetworkError" in str(exc.value)


def test_a_read_timeout_is_uncertain_and_never_resent(fake, booking, settings):
    """The request went out and the answer never came: Tencent may have sent
    it. Resending could send twice, so the outbox asks a person."""
    fake.script(Reply.ok(delay=3))
    message = customer_message(booking)
    started = time.monotonic()
    with tencent(fake, timeout=0.5), pytest.raises(TransportError) as exc:
        TencentBackend().send(message, text="")
    assert time.monotonic() - started < 2.5
    assert exc.value.uncertain
    assert "ClientNetworkError" in str(exc.value)
    assert len(fake.requests) == 1

    settings.SMS_BACKEND = TENCENT
    settings.SMS_TENCENT = fake.tencent_settings(timeout=0.5)
    settings.SMS_TEMPLATE_IDS = TEMPLATES
    fake.script(Reply.ok(delay=3))
    assert sms.send(message.pk) == "uncertain"
    message.refresh_from_db()
    assert message.status == SmsStatus.UNCERTAIN
    assert sms.send(message.pk) == "skipped"
    assert len(fake.requests) == 2  # the first direct call, then the outbox's one


# ---------------------------------------------------------------- through the outbox


def test_outbox_rows_follow_the_provider(fake, booking, settings):
    settings.SMS_BACKEND = TENCENT
    settings.SMS_TENCENT = fake.tencent_settings()
    settings.SMS_TEMPLATE_IDS = TEMPLATES
    fake.script(Reply.failed("InternalError.Timeout"), Reply.ok())
    message = customer_message(booking)
    assert sms.send(message.pk) == "retry"
    message.refresh_from_db()
    assert (message.status, message.attempts, message.backend) == ("pending", 1, "tencent")
    assert message.last_error.startswith("InternalError.Timeout")
    assert message.send_after == message.claimed_at + timedelta(seconds=sms.RETRY_BACKOFF[0])
    assert sms.send(message.pk, now=message.send_after) == "sent"
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, "")
    assert message.provider_id.startswith("2433:")

    fake.script(Reply.failed("InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误"))
    receiver = booking["booking_receiver"]
    assert sms.send(receiver.pk) == "failed"
    receiver.refresh_from_db()
    assert receiver.status == SmsStatus.FAILED
    assert receiver.last_error == "InvalidParameterValue.IncorrectPhoneNumber: 手机号格式错误"
    assert len(fake.requests) == 3


def test_a_broken_backend_setting_leaves_the_message_pending(booking, settings):
    settings.SMS_BACKEND = TENCENT
    settings.SMS_TENCENT = {}
    message = customer_message(booking)
    with pytest.raises(KeyError):
        sms.send(message.pk)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (SmsStatus.PENDING, 0)


# ---------------------------------------------------------------- the fake in its own process


def test_the_fake_provider_runs_in_another_process_and_records_to_a_file(tmp_path, booking):
    record = tmp_path / "requests.jsonl"
    reply = json.dumps({"error": "InternalError", "message": "内部错误"})
    command = [sys.executable, "-m", "tests.followups.fake_sms_server", "--record", str(record)]
    server = subprocess.Popen(
        [*command, "--reply", reply],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(server.stdout.readline())
        message = customer_message(booking)
        conf = tencent_settings(f"127.0.0.1:{port}")
        with override_settings(SMS_TENCENT=conf, SMS_TEMPLATE_IDS=TEMPLATES):
            with pytest.raises(TransportError) as exc:
                TencentBackend().send(message, text="")
            assert not exc.value.permanent
            assert TencentBackend().send(message, text="").startswith("2433:")
        records = read_records(record)
        assert [r["reply"]["error"] or r["reply"]["code"] for r in records] == [
            "InternalError",
            "Ok",
        ]
        assert {r["json"]["SessionContext"] for r in records} == {message.idempotency_key}
    finally:
        server.terminate()
        server.wait(10)
        server.stdout.close()


# ---------------------------------------------------------------- the simple backends


def test_console_backend_prints_the_preview(booking, capsys):
    message = customer_message(booking)
    provider_id = ConsoleBackend().send(message, text=sms.preview(message))
    assert provider_id == f"console-{message.pk}"
    out = capsys.readouterr().out
    assert f"[SMS] to {message.phone} (booking_customer): 【浦东店】王小明您好" in out


def test_file_backend_appends_to_the_file(booking, tmp_path):
    path = tmp_path / "sub" / "sms.log"
    message = customer_message(booking)
    with override_settings(SMS_FILE_PATH=path):
        assert FileBackend().send(message, text=sms.preview(message)) == f"file-{message.pk}"
        FileBackend().send(message, text="second")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert lines[0].split("\t")[1:] == [message.phone, "booking_customer", sms.preview(message)]


def test_outbox_only_backend_sends_nothing_and_returns_an_id(booking):
    message = customer_message(booking)
    assert OutboxOnlyBackend().send(message, text="") == f"outbox-{message.pk}"


@pytest.mark.parametrize(
    ("backend", "name"),
    [
        ("followups.backends.console.ConsoleBackend", "console"),
        ("followups.backends.console.FileBackend", "file"),
        ("followups.backends.console.OutboxOnlyBackend", "outbox"),
    ],
)
def test_each_simple_backend_sends_through_the_outbox(booking, backend, name, tmp_path, capsys):
    message = customer_message(booking)
    with override_settings(SMS_BACKEND=backend, SMS_FILE_PATH=tmp_path / "sms.log"):
        assert sms.send(message.pk) == "sent"
    message.refresh_from_db()
    assert (message.status, message.backend) == (SmsStatus.SENT, name)
    assert message.provider_id == f"{name}-{message.pk}"


def test_console_is_the_default_backend():
    if "SMS_BACKEND" in os.environ:
        pytest.skip("SMS_BACKEND is set in the environment")
    assert settings.SMS_BACKEND == "followups.backends.console.ConsoleBackend"
