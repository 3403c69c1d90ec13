"""Tencent Cloud SMS (SendSms, API 2021-01-11) through the official SDK.

The request can succeed while a number fails, so each ``SendStatusSet[].Code``
is checked (TELEPHONY.md). Errors that a later attempt may cure (network,
timeouts, the provider's internal errors) are temporary; everything else
(authentication, an unapproved template, a bad number, a daily limit) is
permanent. A network error after the request went out (a read timeout, the
connection dropped while waiting for the answer) is neither: the provider
may have sent the message, so it is reported as uncertain and never resent
by itself; only errors before anything was sent (no connection) are retried.

``SMS_TENCENT["endpoint"]`` is a host, optionally with a port
(``127.0.0.1:8123`` with scheme ``http`` reaches a local test server): the SDK
sends to ``<scheme>://<endpoint>/`` and signs that host. An optional
``"timeout"`` (seconds, default 15) bounds each request.
"""

from django.conf import settings
from django.utils.translation import gettext as _
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from followups.backends.base import SmsBackend, TransportError
from leads.phones import try_normalize

TEMPORARY_CODES = (
    "InternalError",
    "RequestLimitExceeded",
    "ClientNetworkError",
    "ServerNetworkError",
    "RequestTimeout",
)
DEFAULT_TIMEOUT = 15
# requests' messages for network errors before the request was sent: safe to
# retry. Any other ClientNetworkError may have happened after it was sent.
NOT_SENT = (
    "Failed to establish a new connection",
    "Connection refused",
    "NameResolutionError",
    "Name or service not known",
    "ConnectTimeout",
    "connect timeout",
)


class TencentBackend(SmsBackend):
    name = "tencent"

    def __init__(self):
        conf = settings.SMS_TENCENT
        http = HttpProfile(
            endpoint=conf["endpoint"],
            protocol=conf["scheme"],
            reqTimeout=conf.get("timeout", DEFAULT_TIMEOUT),
        )
        self.client = sms_client.SmsClient(
            credential.Credential(conf["secret_id"], conf["secret_key"]),
            conf["region"],
            ClientProfile(httpProfile=http),
        )
        self.app_id = str(conf["sdk_app_id"])
        self.templates = settings.SMS_TEMPLATE_IDS

    def send(self, message, *, text: str) -> str:
        # A campaign message carries its own template (the campaign's).
        template_id = message.template_id or self.templates.get(message.kind)
        if not template_id:
            raise TransportError(f"no template id configured for {message.kind}", permanent=True)
        # PhoneNumberSet wants E.164; a receiver's mobile is typed free-form.
        phone = try_normalize(message.phone)
        if phone is None:
            raise TransportError(
                _("Not a valid phone number: %(phone)s") % {"phone": message.phone},
                permanent=True,
            )
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [phone]
        request.SmsSdkAppId = self.app_id
        request.SignName = message.signature
        request.TemplateId = str(template_id)
        request.TemplateParamSet = [str(value) for value in message.params]
        request.SessionContext = message.idempotency_key
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            code = exc.get_code() or ""
            detail = str(exc.get_message())
            if code == "ClientNetworkError" and not any(text in detail for text in NOT_SENT):
                raise TransportError(f"{code}: {detail}", uncertain=True) from exc
            raise TransportError(
                f"{code}: {detail}", permanent=not code.startswith(TEMPORARY_CODES)
            ) from exc
        statuses = response.SendStatusSet or []
        if not statuses:
            raise TransportError("empty SendStatusSet", permanent=False)
        status = statuses[0]
        if status.Code != "Ok":
            raise TransportError(
                f"{status.Code}: {status.Message}",
                permanent=not (status.Code or "").startswith(TEMPORARY_CODES),
            )
        return status.SerialNo or ""
