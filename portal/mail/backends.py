"""An email backend for the embedded defaults (development only): nothing leaves the machine.

Each delivered message is written, as the recipient would get it, to ``DEV_MAILBOX_DIR`` (under var/),
where the staff-only dev mailbox shows it. The outbox itself keeps no usable secret once an email is
sent, so this folder is the only place a developer reads a verification code or an invitation link.
"""

import logging
import uuid
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

logger = logging.getLogger(__name__)


def mailbox_dir() -> Path:
    return Path(settings.DEV_MAILBOX_DIR)


class CaptureBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        folder = mailbox_dir()
        folder.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            outbox_id = message.extra_headers.get("X-Portal-Outbox-Id") or str(uuid.uuid4())
            name = f"{timezone.now():%Y%m%dT%H%M%S%f}-{outbox_id}.eml"
            temporary = folder / (name + ".part")
            temporary.write_bytes(message.message().as_bytes(linesep="\n"))
            temporary.rename(folder / name)  # readers never see half a message
            logger.info("Captured email for the dev mailbox", extra={"outbox_id": outbox_id})
        return len(email_messages)
