import logging
import sys
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from followups.backends.base import SmsBackend

logger = logging.getLogger("dcc.sms")


class ConsoleBackend(SmsBackend):
    """The default: prints each message (with its Chinese preview) to stdout."""

    name = "console"

    def send(self, message, *, text: str) -> str:
        sys.stdout.write(f"[SMS] to {message.phone} ({message.kind}): {text}\n")
        sys.stdout.flush()
        return f"console-{message.pk}"


class FileBackend(SmsBackend):
    """Appends each message to ``SMS_FILE_PATH`` (default var/sms.log)."""

    name = "file"

    def send(self, message, *, text: str) -> str:
        path = Path(getattr(settings, "SMS_FILE_PATH", settings.VAR_DIR / "sms.log"))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"{timezone.now().isoformat()}\t{message.phone}\t{message.kind}\t{text}\n")
        return f"file-{message.pk}"


class OutboxOnlyBackend(SmsBackend):
    """Records messages in the outbox and sends nothing (staging, training)."""

    name = "outbox"

    def send(self, message, *, text: str) -> str:
        logger.info("SMS %s kept in the outbox only", message.pk)
        return f"outbox-{message.pk}"
