"""Plain-text email is plain text: nothing HTML-escaped in subjects or text bodies (the HTML part is
escaped), and names, which go into subjects and bodies, cannot carry line breaks or control characters."""

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Organization, User
from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.errors import DomainError
from portal.mail.models import OutboxEmail
from tests.factories.accounts import MembershipFactory, OrganizationFactory, UserFactory
from tests.mail import email_html, email_text

pytestmark = pytest.mark.django_db


def test_names_arrive_as_typed_in_the_text_and_escaped_in_the_html():
    organization = OrganizationFactory(legal_name="Smith & Jones <Cloud> KK")
    admin = MembershipFactory(
        organization=organization,
        user=UserFactory(full_name="Seán O'Brien & Sons"),
        roles=[Role.GLOBAL_ADMIN],
    )
    services.membership_invitation_create(
        organization=organization, email="ann@example.com", roles=[Role.SALES_AGENT], by=admin
    )
    email = OutboxEmail.objects.get(to="ann@example.com")
    assert email.subject == "Seán O'Brien & Sons invited you to Smith & Jones <Cloud> KK"
    text = email_text(email)
    assert "Seán O'Brien & Sons invited you to join Smith & Jones <Cloud> KK" in text
    assert "&amp;" not in text and "&#x27;" not in text and "&lt;" not in text
    html = email_html(email)
    assert "Seán O&#x27;Brien &amp; Sons" in html
    assert "Smith &amp; Jones &lt;Cloud&gt; KK" in html
    assert "<Cloud>" not in html


def test_allauth_text_emails_are_not_escaped_either():
    from accounts.adapter import PortalAccountAdapter

    message = PortalAccountAdapter().render_mail(
        "account/email/email_changed",
        "o'brien@example.com",
        {
            "from_email": "o'brien@example.com",
            "to_email": "o'brien&co@example.com",
            "ip": "198.51.100.7",
            "user_agent": 'Browser "X" & Co',
            "timestamp": "2026-11-24",
            "current_site": type("Site", (), {"name": "Portal", "domain": "portal.test"})(),
        },
    )
    assert "o'brien@example.com to o'brien&co@example.com" in message.body
    assert 'Browser "X" & Co' in message.body
    assert "&amp;" not in message.body and "&#x27;" not in message.body


BAD_NAMES = ["Ann\nBcc: victim@example.com", "Ann\r\nX", "Ann\tB", "A\x00B", "Ann\u2028Two", "\u202eevil"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_full_name_refuses_control_characters_at_the_field(client, name):
    user = UserFactory(full_name="Ann")
    client.force_login(user)
    audit_before = AuditEvent.objects.count()
    response = client.post(reverse("profile"), {"full_name": name, "preferred_language": "en"})
    assert response.status_code == 200
    # Django's form field already refuses NUL with its own words; everything else is ours.
    expected = (
        "Null characters are not allowed."
        if "\x00" in name
        else "Use one line of ordinary text: line breaks and control characters are not allowed."
    )
    assert expected in response.context["form"].errors["full_name"]
    user.refresh_from_db()
    assert user.full_name == "Ann"
    assert AuditEvent.objects.count() == audit_before


@pytest.mark.parametrize("name", BAD_NAMES)
def test_the_services_refuse_control_characters_in_names_too(name):
    user = UserFactory(full_name="Ann")
    with pytest.raises(DomainError) as error:
        services.user_profile_update(user=user, full_name=name, preferred_language="en")
    assert (error.value.code, error.value.field) == ("control_characters", "full_name")
    assert User.objects.get(pk=user.pk).full_name == "Ann"
    organizations_before = Organization.objects.count()
    with pytest.raises(DomainError) as error:
        services.organization_create(kind="reseller", legal_name=name, country="JP", global_admin=user)
    assert (error.value.code, error.value.field) == ("control_characters", "legal_name")
    assert Organization.objects.count() == organizations_before


def test_ordinary_names_in_any_script_are_fine(client):
    user = UserFactory(full_name="Ann")
    client.force_login(user)
    for name in ("山田 太郎", "Zoë Ångström-O'Neil", "محمد", "👩‍💻 Dev"):
        response = client.post(reverse("profile"), {"full_name": name, "preferred_language": "ja"})
        assert response.status_code == 302, name
        user.refresh_from_db()
        assert user.full_name == name
