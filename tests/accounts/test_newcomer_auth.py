"""Newcomer friction around signing up and in: two-factor set-up, the rate-limit page, invitation links
that carry the invited address."""

import html
import re

import pytest
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.urls import reverse

from accounts.views import INVITATION_SESSION_KEY
from tests.factories.accounts import PASSWORD, MembershipInvitationFactory, UserFactory
from tests.support.clock import frozen_clock, totp_code

pytestmark = pytest.mark.django_db


def sign_in(client, user):
    """Sign in, then confirm the password again as allauth asks before any two-factor change."""
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302


def shown_secret(body: str) -> str:
    match = re.search(r'<input[^>]*id="authenticator_secret"[^>]*>', body, re.S)
    assert match, body
    return re.search(r'value="([A-Z2-7]+)"', match.group(0)).group(1)


# --- Two-factor set-up ----------------------------------------------------------------------------------


def test_reloading_the_activation_page_keeps_the_secret_and_its_code_activates(client):
    user = UserFactory()
    sign_in(client, user)
    url = reverse("mfa_activate_totp")
    first = client.get(url)
    assert first.status_code == 200
    secret = shown_secret(first.content.decode())
    # The person scans the QR code, then the page is reloaded (or opened again in another tab).
    second = client.get(url)
    assert shown_secret(second.content.decode()) == secret

    with frozen_clock():  # the code is made and checked in the same 30 s step
        response = client.post(url, {"code": totp_code(secret)})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).count() == 1


@pytest.mark.parametrize(
    ("language", "alt"),
    [("en", "QR code to scan with your authenticator app"), ("ja", "認証アプリでスキャンする QR コード")],
)
def test_the_qr_code_is_described_not_spelled_out(client, language, alt):
    user = UserFactory(preferred_language=language)
    sign_in(client, user)
    body = client.get(reverse("mfa_activate_totp")).content.decode()
    secret = shown_secret(body)
    images = re.findall(r"<img[^>]*>", body)
    assert len(images) == 1
    assert f'alt="{alt}"' in images[0]
    assert secret not in images[0]
    # The secret stays available for typing in, in its labelled field.
    assert re.search(r'<label for="authenticator_secret">\s*\S', body)


@pytest.mark.parametrize(("language", "label"), [("en", "Continue"), ("ja", "続行")])
def test_the_recovery_codes_page_has_a_way_onwards(client, language, label):
    user = UserFactory(preferred_language=language)
    sign_in(client, user)
    secret = shown_secret(client.get(reverse("mfa_activate_totp")).content.decode())
    with frozen_clock():
        response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    body = client.get(reverse("mfa_view_recovery_codes")).content.decode()
    assert f'<a class="button" href="{reverse("dashboard")}">{label}</a>' in body


# --- The rate-limit page --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "heading", "explanation"),
    [
        (
            "en",
            "Too many attempts",
            "There were too many attempts from here in a short time. Wait a while, then try again.",
        ),
        (
            "ja",
            "試行回数が多すぎます",
            "短時間に多くの試行がありました。しばらく待ってから、もう一度お試しください。",
        ),
    ],
)
def test_the_rate_limit_page_is_the_portals_own(client, settings, language, heading, explanation):
    settings.ACCOUNT_RATE_LIMITS = {"signup": "1/h/ip"}
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    form = {
        "email": "first@example.com",
        "password1": "x-long-pass-phrase-1",
        "password2": "x-long-pass-phrase-1",
    }
    assert client.post(reverse("account_signup"), form).status_code in (200, 302)
    response = client.post(reverse("account_signup"), {**form, "email": "second@example.com"})
    assert response.status_code == 429
    body = response.content.decode()
    assert f'<html lang="{language}">' in body
    assert '<link rel="stylesheet" href="/static/css/portal.css">' in body
    assert f"<h1>{heading}</h1>" in body
    assert explanation in body
    assert 'class="error-page__code">429<' in body


# --- Invitation links carry the invited address ---------------------------------------------------------


def test_the_invitation_page_passes_the_invited_address_to_sign_up_and_sign_in(client):
    invitation = MembershipInvitationFactory(email="new.person+csp@example.com")
    session = client.session
    session[INVITATION_SESSION_KEY] = str(invitation.public_id)
    session.save()
    body = client.get(reverse("accounts:invitation")).content.decode()
    query = "?email=new.person%2Bcsp%40example.com&amp;next=/invitations/membership/"
    assert f'href="{reverse("account_signup")}{query}">Sign up</a>' in body
    assert f'href="{reverse("account_login")}{query}">Sign in</a>' in body

    signup = client.get(html.unescape(f"{reverse('account_signup')}{query}")).content.decode()
    assert re.search(r'<input[^>]*name="email"[^>]*value="new\.person\+csp@example\.com"', signup)
    assert 'name="next" value="/invitations/membership/"' in signup


def test_the_real_settings_use_the_prefilling_sign_in_form():
    """Needs ``"login": "accounts.forms.LoginForm"`` in ``ACCOUNT_FORMS`` of portal/settings.py."""
    assert getattr(settings, "ACCOUNT_FORMS", {}).get("login") == "accounts.forms.LoginForm"


def test_the_sign_in_page_prefills_the_invited_address(client, settings):
    settings.ACCOUNT_FORMS = {**getattr(settings, "ACCOUNT_FORMS", {}), "login": "accounts.forms.LoginForm"}
    page = client.get(reverse("account_login"), {"email": "new.person@example.com"}).content.decode()
    assert re.search(r'<input[^>]*name="login"[^>]*value="new\.person@example\.com"', page)
    # Anything that is not an address is ignored.
    page = client.get(reverse("account_login"), {"email": '"><script>'}).content.decode()
    assert not re.search(r'<input[^>]*name="login"[^>]*value=', page)
