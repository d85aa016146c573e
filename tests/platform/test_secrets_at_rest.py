"""No usable secret at rest: invitation links, password-reset keys and verification codes are sealed in
the outbox, restored only in the message handed to the mail server, erased once sent, and never shown on
a review-site page. The dev mailbox (development only) is the one place a developer reads them."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.roles import Role
from portal.mail import sealing
from portal.mail.models import OutboxEmail
from portal.mail.services import outbox_email_content, outbox_email_deliver
from tests.factories.accounts import MembershipFactory, OrganizationFactory, StaffFactory, UserFactory
from tests.mail import email_text

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-unusual-passphrase-42"
CODE = re.compile(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}\b")
RESET_LINK = re.compile(r"https://portal\.test/accounts/password/reset/key/\S+/")


def every_row_as_text(*, skip=("django_session",)) -> str:
    """The whole database, as a reader of a dump or a backup would see it."""
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if table in skip:
                continue
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from introspection
            dump.append(repr(cursor.fetchall()))
    return "\n".join(dump)


@pytest.fixture
def secrets_sent():
    """One of each: an invitation link, a sign-up verification code, a password-reset link."""
    admin = MembershipFactory(
        organization=OrganizationFactory(legal_name="Fabrikam KK"), roles=[Role.GLOBAL_ADMIN]
    )
    _invitation, raw_token = services.membership_invitation_create(
        organization=admin.organization, email="ann@example.com", roles=[Role.SALES_AGENT], by=admin
    )
    Client().post(
        reverse("account_signup"),
        {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    UserFactory(email="bob@example.com")
    Client().post(reverse("account_reset_password"), {"email": "bob@example.com"})
    invitation_email = OutboxEmail.objects.get(to="ann@example.com")
    code_email = OutboxEmail.objects.get(to="new@example.com")
    reset_email = OutboxEmail.objects.get(to="bob@example.com")
    return {
        "invitation": (invitation_email, f"/invitations/membership/{raw_token}/"),
        "code": (code_email, CODE.search(email_text(code_email)).group(0)),
        "reset": (reset_email, RESET_LINK.search(email_text(reset_email)).group(0)),
    }


def test_secrets_are_sealed_in_the_outbox_and_restored_for_delivery(secrets_sent):
    for email, secret in secrets_sent.values():
        email.refresh_from_db()
        assert secret not in email.subject + email.body_text + email.body_html + email.sealed_secrets
        assert sealing.PLACEHOLDER_PREFIX in email.body_text
        assert email.sealed_secrets  # encrypted
        assert secret in outbox_email_content(email).body_text
    # No table holds a raw secret (the session keeps the pending code for allauth; it is not a table
    # anybody reads, and it is checked separately for invitation tokens in test_invitations).
    dump = every_row_as_text()
    for _email, secret in secrets_sent.values():
        assert secret not in dump


def test_the_recipient_gets_the_secret_and_the_sent_row_keeps_none(secrets_sent, smtp_sink):
    for email, _secret in secrets_sent.values():
        assert outbox_email_deliver(email_id=email.pk) == "sent"
    delivered = smtp_sink.wait_for(3)
    assert len(delivered) == 3
    for message in delivered:
        recipient = message["To"]
        email, secret = next(pair for pair in secrets_sent.values() if pair[0].to == recipient)
        text = message.get_body(preferencelist=("plain",)).get_content()
        assert secret in text
        assert sealing.PLACEHOLDER_PREFIX not in text
        html = message.get_body(preferencelist=("html",))
        if html is not None:
            assert sealing.PLACEHOLDER_PREFIX not in html.get_content()
    for email, secret in secrets_sent.values():
        email.refresh_from_db()
        assert email.status == OutboxEmail.Status.SENT
        assert email.sealed_secrets == ""
        assert secret not in outbox_email_content(email).body_text  # nothing left to restore
    dump = every_row_as_text()
    for _email, secret in secrets_sent.values():
        assert secret not in dump


def test_no_review_site_page_shows_a_usable_secret(client, secrets_sent):
    client.force_login(StaffFactory(is_superuser=True))
    pages = [reverse("admin:mail_outboxemail_changelist")]
    pages += [reverse("admin:mail_outboxemail_change", args=[email.pk]) for email, _ in secrets_sent.values()]
    pages += [reverse("admin:audit_auditevent_changelist")]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        for _email, secret in secrets_sent.values():
            assert secret not in body, url
    detail = client.get(reverse("admin:mail_outboxemail_change", args=[secrets_sent["reset"][0].pk]))
    assert "[hidden: sent only to the recipient]" in detail.content.decode()


def test_a_failed_email_keeps_its_secret_so_staff_can_send_it_again(secrets_sent, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 1
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1
    email, secret = secrets_sent["invitation"]
    assert outbox_email_deliver(email_id=email.pk) == "dead"
    email.refresh_from_db()
    assert email.sealed_secrets
    assert secret in outbox_email_content(email).body_text


def test_a_changed_secret_key_never_sends_placeholders(secrets_sent, settings, mailoutbox):
    email, _secret = secrets_sent["invitation"]
    original_key = settings.SECRET_KEY
    settings.SECRET_KEY = "another-key-" + "x" * 50
    assert outbox_email_deliver(email_id=email.pk) == "dead"
    assert mailoutbox == []
    email.refresh_from_db()
    assert "SealedSecretsUnreadable" in email.last_error
    # With the old key kept as a fallback (a key rotation done right), it goes out.
    settings.SECRET_KEY_FALLBACKS = [original_key]
    email.status, email.attempts = OutboxEmail.Status.PENDING, 0
    email.save(update_fields=["status", "attempts"])
    assert outbox_email_deliver(email_id=email.pk) == "sent"
    assert "/invitations/membership/" in mailoutbox[0].body


def test_html_parts_get_the_secret_escaped_and_text_parts_raw():
    email_id = OutboxEmail.objects.create(
        to="a@example.com",
        subject="s",
        body_text="link: PH\n",
        body_html='<a href="PH">go</a>',
        language="en",
        from_email="x@example.com",
    ).pk
    placeholder = sealing.placeholder_new()
    OutboxEmail.objects.filter(pk=email_id).update(
        body_text=f"link: {placeholder}\n",
        body_html=f'<a href="{placeholder}">go</a>',
        sealed_secrets=sealing.seal({placeholder: "https://portal.test/x?a=1&b=2"}),
    )
    content = outbox_email_content(OutboxEmail.objects.get(pk=email_id))
    assert content.body_text == "link: https://portal.test/x?a=1&b=2\n"
    assert content.body_html == '<a href="https://portal.test/x?a=1&amp;b=2">go</a>'
