import pytest
from django.urls import reverse

from tests.factories.accounts import StaffFactory, UserFactory
from tests.factories.mail import OutboxEmailFactory

pytestmark = pytest.mark.django_db


def test_staff_read_captured_email_in_the_browser(client):
    email = OutboxEmailFactory(
        subject="Confirm your email", body_text="Open https://portal.test/confirm/abc to confirm.\n"
    )
    client.force_login(StaffFactory())
    listing = client.get(reverse("mail:mailbox"))
    assert listing.status_code == 200
    assert "Confirm your email" in listing.content.decode()

    detail = client.get(reverse("mail:mailbox_email", args=[email.pk]))
    assert detail.status_code == 200
    assert '<a href="https://portal.test/confirm/abc"' in detail.content.decode()

    html = client.get(reverse("mail:mailbox_email_html", args=[email.pk]))
    assert html.status_code == 200
    assert html.content.decode() == "<p>Hello</p>"
    assert "sandbox" in html["Content-Security-Policy"]


def test_the_mailbox_is_closed_to_non_staff(client):
    email = OutboxEmailFactory(subject="Secret code 123456")
    client.force_login(UserFactory())
    for url in (
        reverse("mail:mailbox"),
        reverse("mail:mailbox_email", args=[email.pk]),
        reverse("mail:mailbox_email_html", args=[email.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert "Secret code" not in response.content.decode()


def test_the_mailbox_does_not_exist_when_disabled(client, settings):
    settings.DEV_MAILBOX_ENABLED = False
    client.force_login(StaffFactory())
    assert client.get(reverse("mail:mailbox")).status_code == 404
