"""Tencent Cloud SMS (SendSms, API 2021-01-11) through the official SDK.

The request can succeed while a number fails, so each ``SendStatusSet[].Code``
is checked (TELEPHONY.md). Errors that a later attempt may cure (network,
timeouts, the provider's internal errors) are temporary; everything else
(authentication, an unapproved template, a bad number) is permanent.
"""

from django.conf import settings
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from followups.backends.base import SmsBackend, TransportError

TEMPORARY_CODES = (
    "InternalError",
    "RequestLimitExceeded",
    "ClientNetworkError",
    "ServerNetworkError",
    "RequestTimeout",
)


class TencentBackend(SmsBackend):
    name = "tencent"

    def __init__(self):
        conf = settings.SMS_TENCENT
        http = HttpProfile(endpoint=conf["endpoint"], protocol=conf["scheme"], reqTimeout=15)
        self.client = sms_client.SmsClient(
            credential.Credential(conf["secret_id"], conf["secret_key"]),
            conf["region"],
            ClientProfile(httpProfile=http),
        )
        self.app_id = conf["sdk_app_id"]
        self.templates = settings.SMS_TEMPLATE_IDS

    def send(self, message, *, text: str) -> str:
        template_id = self.templates.get(message.kind)
        if not template_id:
            raise TransportError(f"no template id configured for {message.kind}", permanent=True)
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [message.phone]
        request.SmsSdkAppId = self.app_id
        request.SignName = message.signature
        request.TemplateId = template_id
        request.TemplateParamSet = [str(value) for value in message.params]
        request.SessionContext = message.idempotency_key
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            code = exc.get_code() or ""
            raise TransportError(
                f"{code}: {exc.get_message()}", permanent=not code.startswith(TEMPORARY_CODES)
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
