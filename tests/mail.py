"""Reading an outbox email as its recipient will: secrets (links, codes) are stored sealed and only
restored for delivery, so tests that follow a link or type a code read the email through here."""

from portal.mail.models import OutboxEmail
from portal.mail.services import outbox_email_content


def email_text(email: OutboxEmail) -> str:
    """The text body exactly as it will be delivered."""
    return outbox_email_content(email).body_text


def email_html(email: OutboxEmail) -> str:
    return outbox_email_content(email).body_html
