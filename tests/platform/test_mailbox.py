"""The dev mailbox: in development, staff read what the capture backend delivered; in production the
route does not exist at all."""

import json

import pytest
from django.urls import reverse

from accounts import services
from accounts.roles import Role
from portal.mail.models import OutboxEmail
from portal.mail.services import email_enqueue, outbox_email_deliver
from tests.factories.accounts import MembershipFactory, StaffFactory, UserFactory
from tests.support.processes import PRODUCTION, run_python

pytestmark = pytest.mark.django_db


@pytest.fixture
def capture(settings, tmp_path):
    settings.EMAIL_BACKEND = "portal.mail.backends.CaptureBackend"
    settings.DEV_MAILBOX_DIR = tmp_path / "mailbox"
    return settings.DEV_MAILBOX_DIR


def test_staff_read_delivered_email_with_its_link_in_the_browser(client, capture):
    admin = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    _invitation, raw = services.membership_invitation_create(
        organization=admin.organization, email="ann@example.com", roles=[Role.SALES_AGENT], by=admin
    )
    email = OutboxEmail.objects.get(to="ann@example.com")
    assert outbox_email_deliver(email_id=email.pk) == "sent"
    assert len(list(capture.glob("*.eml"))) == 1

    client.force_login(StaffFactory())
    listing = client.get(reverse("mail:mailbox"))
    assert listing.status_code == 200
    assert email.subject in listing.content.decode()

    detail = client.get(reverse("mail:mailbox_email", args=[email.pk]))
    assert detail.status_code == 200
    link = f"https://portal.test/invitations/membership/{raw}/"
    assert f'<a href="{link}"' in detail.content.decode()

    html = client.get(reverse("mail:mailbox_email_html", args=[email.pk]))
    assert html.status_code == 200
    assert link in html.content.decode()
    assert "sandbox" in html["Content-Security-Policy"]
    # The outbox row itself keeps no usable link once sent.
    email.refresh_from_db()
    assert raw not in email.body_text + email.body_html + email.sealed_secrets


def test_an_email_not_yet_delivered_is_not_in_the_mailbox(client, capture):
    email = email_enqueue(to="a@example.com", template="test_message", context={}, language="en")
    client.force_login(StaffFactory())
    assert client.get(reverse("mail:mailbox_email", args=[email.pk])).status_code == 404
    assert "No email has been delivered yet" in client.get(reverse("mail:mailbox")).content.decode()


def test_the_mailbox_is_closed_to_non_staff(client, capture):
    email = email_enqueue(to="a@example.com", template="test_message", context={}, language="en")
    outbox_email_deliver(email_id=email.pk)
    client.force_login(UserFactory())
    for url in (
        reverse("mail:mailbox"),
        reverse("mail:mailbox_email", args=[email.pk]),
        reverse("mail:mailbox_email_html", args=[email.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert "Test email" not in response.content.decode()


def test_the_mailbox_does_not_answer_when_disabled(client, settings, capture):
    settings.DEV_MAILBOX_ENABLED = False
    client.force_login(StaffFactory())
    assert client.get(reverse("mail:mailbox")).status_code == 404


def test_in_production_the_mailbox_route_does_not_exist_even_when_asked_for(tmp_path):
    code = """
import json, django
django.setup()
from django.conf import settings
from django.urls import Resolver404, resolve, reverse, NoReverseMatch
try:
    resolve("/dev/mailbox/")
    resolved = True
except Resolver404:
    resolved = False
try:
    reverse("mail:mailbox")
    reversed_ = True
except NoReverseMatch:
    reversed_ = False
print(json.dumps({"enabled": settings.DEV_MAILBOX_ENABLED, "resolved": resolved, "reversed": reversed_}))
"""
    result = run_python(code, {**PRODUCTION, "DEV_MAILBOX_ENABLED": "true"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"enabled": False, "resolved": False, "reversed": False}
