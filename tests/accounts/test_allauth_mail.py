"""allauth's emails go through the outbox, in the recipient's language, with links from SITE_URL."""

import re

import pytest
from django.urls import reverse

from portal.mail.models import OutboxEmail
from tests.factories.accounts import UserFactory
from tests.mail import email_text

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-unusual-passphrase-42"


def test_signup_verification_code_is_stored_in_the_outbox(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("account_signup"),
            {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD},
            HTTP_ACCEPT_LANGUAGE="ja",
        )
    assert response.status_code == 302
    email = OutboxEmail.objects.get(to="new@example.com")
    assert email.language == "ja"
    assert email.status == OutboxEmail.Status.PENDING
    assert re.search(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}\b", email_text(email))
    assert "メール確認コード" in email_text(email)
    assert len(callbacks) == 1  # published to Celery only after the signup committed


def test_password_reset_link_uses_site_url_not_the_host_header(client, settings):
    settings.ALLOWED_HOSTS = ["evil.example", "testserver"]
    UserFactory(email="ann@example.com", preferred_language="en")
    client.post(reverse("account_reset_password"), {"email": "ann@example.com"}, HTTP_HOST="evil.example")
    email = OutboxEmail.objects.get(to="ann@example.com")
    assert "https://portal.test/accounts/password/reset/key/" in email_text(email)
    assert "evil.example" not in email_text(email)
    assert email.language == "en"
