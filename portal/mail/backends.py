"""An email backend for the embedded defaults: nothing leaves the machine.

The outbox row already holds the whole message, and the staff-only dev mailbox shows it; this backend
only accepts the message so that the outbox marks it sent, as a real SMTP server would.
"""

import logging

from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger(__name__)


class CaptureBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        for message in email_messages:
            logger.info(
                "Captured email for the dev mailbox",
                extra={"to": ", ".join(message.to), "subject": message.subject},
            )
        return len(email_messages)
