"""One word for signing in, up and out on every page a user meets, allauth's pages included.

allauth's own Japanese catalogue says ログイン / ログアウト / ユーザー登録; our catalogue overrides those
msgids (listed in ``accounts/allauth_terms.py``) with サインイン / サインアウト / サインアップ."""

import re

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.roles import Role
from tests.factories.accounts import PASSWORD, TOTP_SECRET, MembershipFactory, UserFactory
from tests.support.clock import frozen_clock, totp_code

pytestmark = pytest.mark.django_db

FORBIDDEN = ("ログイン", "ログアウト", "新規登録", "ユーザー登録")


def japanese_client() -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    return client


def page(client, url, pages, name, *, expect=200):
    response = client.get(url)
    assert response.status_code == expect, (name, response.status_code, response.get("Location"))
    body = response.content.decode()
    assert '<html lang="ja">' in body, name
    pages[name] = body
    return body


def words(body: str) -> str:
    """The visible text and attribute values a person reads (no script or style)."""
    return re.sub(r"<script\b.*?</script>", "", body, flags=re.S)


def collect_pages() -> dict[str, str]:
    pages: dict[str, str] = {}

    # A visitor: sign in, sign up, password reset and its follow-ups.
    visitor = japanese_client()
    page(visitor, reverse("account_login"), pages, "sign in")
    page(visitor, reverse("account_signup"), pages, "sign up")
    page(visitor, reverse("account_reset_password"), pages, "password reset")
    page(visitor, reverse("account_reset_password_done"), pages, "password reset sent")
    page(
        visitor,
        reverse("account_reset_password_from_key", kwargs={"uidb36": "1", "key": "set-password"}),
        pages,
        "password reset link",
    )
    page(visitor, reverse("account_reset_password_from_key_done"), pages, "password reset done")
    # A failed sign-in shows allauth's error.
    response = visitor.post(reverse("account_login"), {"login": "nobody@example.com", "password": "wrong"})
    pages["sign in, failed"] = response.content.decode()

    # Signing up leads to the email verification code.
    newcomer = japanese_client()
    response = newcomer.post(
        reverse("account_signup"),
        {
            "email": "newcomer@example.com",
            "password1": "a-long-pass-phrase-42",
            "password2": "a-long-pass-phrase-42",
        },
    )
    assert response.status_code == 302
    page(newcomer, response["Location"], pages, "email verification code")

    # A signed-in user: their account pages, two-factor set-up and sign out.
    user = UserFactory(preferred_language="ja")
    MembershipFactory(user=user, roles=[Role.GLOBAL_ADMIN])
    client = japanese_client()
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD}, follow=True)
    pages["after sign in"] = response.content.decode()
    page(client, reverse("account_reauthenticate"), pages, "reauthenticate")
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    page(client, reverse("account_email"), pages, "email")
    page(client, reverse("account_change_password"), pages, "password change")
    page(client, reverse("mfa_index"), pages, "two-factor index")
    activate = page(client, reverse("mfa_activate_totp"), pages, "two-factor activate")
    secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', activate, re.S)
    secret = secret or re.search(r'value="([A-Z2-7]{16,})"[^>]*id="authenticator_secret"', activate, re.S)
    with frozen_clock():  # the code is made and checked in the same 30 s step
        response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret.group(1))})
    assert response.status_code == 302
    page(client, reverse("mfa_view_recovery_codes"), pages, "recovery codes")
    page(client, reverse("usersessions_list"), pages, "sessions")
    page(client, reverse("account_logout"), pages, "sign out")
    response = client.post(reverse("account_logout"), follow=True)
    pages["after sign out"] = response.content.decode()

    # Signing in with a second factor.
    second = UserFactory(preferred_language="ja")
    TOTP.activate(second, TOTP_SECRET)
    client = japanese_client()
    response = client.post(reverse("account_login"), {"login": second.email, "password": PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")
    page(client, reverse("mfa_authenticate"), pages, "two-factor authenticate")
    return pages


def test_japanese_pages_say_sign_in_sign_up_and_sign_out_one_way():
    pages = collect_pages()
    offending = {
        name: sorted({term for term in FORBIDDEN if term in words(body)}) for name, body in pages.items()
    }
    offending = {name: terms for name, terms in offending.items() if terms}
    assert offending == {}
    assert "サインイン" in pages["sign in"]
    assert "サインアップ" in pages["sign up"]
    assert "サインアウト" in pages["sign out"]


def test_your_roles_reads_as_yours_not_the_customers(client):
    membership = MembershipFactory(user=UserFactory(preferred_language="ja"), roles=[Role.GLOBAL_ADMIN])
    client.force_login(membership.user)
    body = client.get(
        reverse(
            "accounts:organization_dashboard",
            kwargs={"organization_public_id": membership.organization.public_id},
        )
    ).content.decode()
    assert "<h2>あなたのロール</h2>" in body
    assert "お客様" not in body
