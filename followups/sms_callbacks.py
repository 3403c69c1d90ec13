"""What the SMS provider pushes back: customers' replies and delivery
receipts (Tencent Cloud SMS callbacks, docs/sms-callbacks.md).

* Reply push ("短信回复", API 382/5809): one JSON object
  ``{"extend", "mobile", "nationcode", "sign", "text", "time"}`` (``time``:
  Unix seconds).
* Status report ("短信下发状态通知", API 382/43547): a JSON *array* of
  ``{"user_receive_time" ("2015-10-17 08:03:04", local time), "nationcode",
  "mobile", "report_status" ("SUCCESS"/"FAIL"), "errmsg" ("DELIVRD" or an
  error code), "description", "sid"}``; ``sid`` is the ``SerialNo`` that
  SendSms returned (``SmsMessage.provider_id``).

Both are answered ``{"result": 0, "errmsg": "OK"}``. A push may come twice:
a reply is stored once (``SmsReply.dedup_key``), a receipt sets the same
fields again.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from followups import events
from followups.models import DeliveryStatus, FollowupPolicy, SmsMessage, SmsReply, SmsStatus
from leads import owners, phones
from leads.models import OptOutReason

PROVIDER = "tencent"
# A reply that asks to hear no more (carriers' and providers' convention:
# 回复TD退订). The whole text is "TD"/"T"/"N" or it contains 退订.
_OPT_OUT = re.compile(r"^\s*(TD|T|N|UNSUBSCRIBE|STOP)\s*$", re.IGNORECASE)


class CallbackError(ValueError):
    """The body is not the provider's documented shape."""


def is_opt_out(text: str) -> bool:
    return "退订" in (text or "") or bool(_OPT_OUT.match(text or ""))


def _number(mobile: str, nationcode: str) -> str:
    mobile = str(mobile or "").strip()
    nationcode = str(nationcode or "86").strip().lstrip("+") or "86"
    raw = mobile if mobile.startswith("+") else f"+{nationcode}{mobile}"
    return phones.try_normalize(raw) or raw[:20]


def _store_for(number: str, sign: str):
    """The store a reply belongs to: whoever last sent to that number, else
    the store whose signature it carries."""
    last = (
        SmsMessage.objects.filter(phone=number)
        .exclude(status__in=[SmsStatus.PENDING, SmsStatus.CANCELLED])
        .order_by("-sent_at", "-pk")
        .first()
    )
    if last is not None:
        return last.store_id, last
    if sign:
        store_id = (
            FollowupPolicy.objects.filter(sms_signature=sign)
            .values_list("store_id", flat=True)
            .first()
        )
        if store_id is None:
            from dcc.models import Store

            store_id = Store.objects.filter(name=sign).values_list("pk", flat=True).first()
        return store_id, None
    return None, None


def record_reply(payload) -> SmsReply | None:
    """Store one reply push; opt the number out if it asks to; announce it
    (``followups.events.sms_replied``). None when no store sent to that
    number (nothing to attach it to)."""
    if isinstance(payload, list):  # tolerate a batch of pushes
        replies = [record_reply(item) for item in payload]
        return next((r for r in replies if r is not None), None)
    if not isinstance(payload, dict) or "mobile" not in payload or "text" not in payload:
        raise CallbackError("a reply push has mobile and text")
    number = _number(payload.get("mobile"), payload.get("nationcode"))
    text = str(payload.get("text") or "")
    try:
        received_at = datetime.fromtimestamp(int(payload.get("time")), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        received_at = timezone.now()
    sign = str(payload.get("sign") or "")[:30]
    store_id, message = _store_for(number, sign)
    if store_id is None:
        return None
    key = hashlib.sha256(
        f"{PROVIDER}|{number}|{int(received_at.timestamp())}|{text}".encode()
    ).hexdigest()
    opt_out = is_opt_out(text)
    try:
        with transaction.atomic():
            reply = SmsReply.objects.create(
                store_id=store_id,
                phone=number,
                text=text,
                received_at=received_at,
                provider=PROVIDER,
                sign=sign,
                extend=str(payload.get("extend") or "")[:30],
                payload=payload,
                sms=message,
                dedup_key=key,
            )
            if opt_out:
                owners.opt_out(store=store_id, phone=number, reason=OptOutReason.REPLY, note=text)
            events.sms_replied.send(sender=SmsReply, reply=reply, opt_out=opt_out)
    except IntegrityError:
        return SmsReply.objects.get(dedup_key=key)  # the same push again
    return reply


def record_receipts(payload) -> int:
    """Apply a status report (a list of receipts) to the messages by their
    provider id; announce each (``followups.events.sms_delivered``).
    Returns how many messages it matched."""
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        raise CallbackError("a status report is a list")
    matched = 0
    tz = timezone.get_current_timezone()
    for item in payload:
        if not isinstance(item, dict) or not item.get("sid"):
            raise CallbackError("each receipt has a sid")
        delivered = str(item.get("report_status", "")).upper() == "SUCCESS"
        when = parse_datetime(str(item.get("user_receive_time") or ""))
        if when is not None and timezone.is_naive(when):
            when = when.replace(tzinfo=tz)
        with transaction.atomic():
            message = (
                SmsMessage.objects.select_for_update().filter(provider_id=str(item["sid"])).first()
            )
            if message is None:
                continue
            matched += 1
            message.delivery_status = (
                DeliveryStatus.DELIVERED if delivered else DeliveryStatus.FAILED
            )
            message.delivered_at = (when or timezone.now()) if delivered else None
            message.delivery_error = (
                ""
                if delivered
                else f"{item.get('errmsg', '')} {item.get('description', '')}".strip()[:200]
            )
            message.save(update_fields=["delivery_status", "delivered_at", "delivery_error"])
            events.sms_delivered.send(sender=SmsMessage, message=message, delivered=delivered)
    return matched
