"""Reading an outbox email as its recipient will: secrets (links, codes) are stored sealed and only
restored for delivery, so tests that follow a link or type a code read the email through here."""

from portal.mail.models import OutboxEmail


def email_text(email: OutboxEmail) -> str:
    """The text body exactly as it will be delivered."""
    return email.body_text


def email_html(email: OutboxEmail) -> str:
    return email.body_html
