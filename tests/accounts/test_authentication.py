"""Sign-up, verification by code, sign-in, rate limits, MFA for staff, organization switching."""

import re

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.roles import Role
from portal.mail.models import OutboxEmail
from tests.factories.accounts import PASSWORD, TOTP_SECRET, MembershipFactory, StaffFactory, UserFactory
from tests.mail import email_text
from tests.support.clock import frozen_clock, totp_code

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-and-unusual-passphrase-42"
SECRET = TOTP_SECRET


def test_sign_up_verify_by_code_then_sign_in(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "Rei@Example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(email__iexact="rei@example.com")
    # Not signed in until the address is verified.
    assert client.get(reverse("dashboard"))["Location"].startswith(reverse("account_login"))

    body = email_text(OutboxEmail.objects.get(to__iexact="rei@example.com"))
    code = re.search(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}\b", body).group(0)
    wrong = client.post(reverse("account_email_verification_sent"), {"code": "AAAA-AAAA"})
    assert wrong.status_code == 200
    assert "code" in wrong.context["form"].errors
    response = client.post(reverse("account_email_verification_sent"), {"code": code})
    assert response.status_code == 302
    assert client.get(reverse("dashboard"))["Location"] == reverse("accounts:no_organization")
    assert user.emailaddress_set.get().verified

    client.logout()
    response = client.post(reverse("account_login"), {"login": "rei@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_weak_password_is_refused_at_the_field(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "weak@example.com", "password1": "password", "password2": "password"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    assert not User.objects.filter(email="weak@example.com").exists()
    assert not OutboxEmail.objects.exists()


def test_failed_logins_are_rate_limited(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/m/ip,3/5m/key"}
    UserFactory(email="ann@example.com")
    errors = [
        client.post(reverse("account_login"), {"login": "ann@example.com", "password": "wrong"})
        .context["form"]
        .non_field_errors()
        for _ in range(5)
    ]
    wrong = ["The email address and/or password you specified are not correct."]
    limited = ["Too many failed login attempts. Try again later."]
    assert errors == [wrong, wrong, wrong, limited, limited]
    # Even the right password waits while the limit holds, and no session is made.
    response = client.post(reverse("account_login"), {"login": "ann@example.com", "password": PASSWORD})
    assert response.context["form"].non_field_errors() == limited
    assert "_auth_user_id" not in client.session


def test_sign_up_is_rate_limited(settings):
    settings.ACCOUNT_RATE_LIMITS = {"signup": "2/h/ip"}
    statuses = [
        Client()
        .post(
            reverse("account_signup"),
            {"email": f"n{i}@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
        .status_code
        for i in range(3)
    ]
    assert statuses == [302, 302, 429]
    assert User.objects.count() == 2


def test_staff_must_set_up_two_factor_authentication(client):
    reviewer = StaffFactory(is_superuser=True, mfa=False)
    client.force_login(reviewer)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_activate_totp"))
    TOTP.activate(reviewer, SECRET)
    assert client.get(reverse("admin:index")).status_code == 200


def test_review_site_login_goes_through_allauth(client):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_sign_in_with_two_factor_code(client):
    user = UserFactory(email="totp@example.com")
    TOTP.activate(user, SECRET)
    response = client.post(reverse("account_login"), {"login": "totp@example.com", "password": PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    with frozen_clock():  # the code is made and checked in the same 30 s step
        response = client.post(reverse("mfa_authenticate"), {"code": totp_code(SECRET)})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    assert Authenticator.objects.filter(user=user, type="totp").exists()


def test_dashboard_opens_the_last_organization_and_the_switcher_lists_all(client):
    first = MembershipFactory(roles=[Role.SALES_AGENT])
    second = MembershipFactory(user=first.user, roles=[Role.GLOBAL_ADMIN])
    client.force_login(first.user)
    second_url = reverse(
        "accounts:organization_dashboard", kwargs={"organization_public_id": second.organization.public_id}
    )
    page = client.get(second_url)
    body = page.content.decode()
    assert first.organization.legal_name in body and second.organization.legal_name in body
    assert client.get(reverse("dashboard"))["Location"] == second_url


def test_email_change_is_verified_and_the_old_address_is_told(client):
    user = UserFactory(email="old@example.com", preferred_language="ja")
    client.force_login(user)
    response = client.post(reverse("account_email"), {"action_add": "", "email": "new@example.com"})
    assert response["Location"] == reverse("account_email_verification_sent")
    user.refresh_from_db()
    assert user.email == "old@example.com"  # unchanged until the new address is proven

    verification = OutboxEmail.objects.get(to="new@example.com")
    code = re.search(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}\b", email_text(verification)).group(0)
    client.post(reverse("account_email_verification_sent"), {"code": code})

    user.refresh_from_db()
    assert user.email == "new@example.com"
    assert list(user.emailaddress_set.values_list("email", "verified")) == [("new@example.com", True)]
    notice = OutboxEmail.objects.get(to="old@example.com")
    assert notice.language == "ja"
    assert "new@example.com" in notice.body_text


def test_password_reset_requests_are_rate_limited(settings):
    settings.ACCOUNT_RATE_LIMITS = {"reset_password": "2/m/ip"}
    UserFactory(email="ann@example.com")
    statuses = [
        Client().post(reverse("account_reset_password"), {"email": "ann@example.com"}).status_code
        for _ in range(3)
    ]
    assert statuses == [302, 302, 429]
    assert OutboxEmail.objects.filter(to="ann@example.com").count() == 2


def test_a_user_signs_out_their_other_sessions():
    from allauth.usersessions.models import UserSession

    user = UserFactory()
    laptop, phone = Client(), Client()
    for browser in (laptop, phone):
        browser.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
        browser.get(reverse("profile"))
    assert UserSession.objects.filter(user=user).count() == 2

    page = laptop.get(reverse("usersessions_list"))
    assert page.status_code == 200
    laptop.post(reverse("usersessions_list"))

    assert UserSession.objects.filter(user=user).count() == 1
    assert laptop.get(reverse("profile")).status_code == 200
    assert phone.get(reverse("profile"))["Location"].startswith(reverse("account_login"))


def test_verification_code_guessing_is_cut_off(client):
    client.post(
        reverse("account_signup"),
        {"email": "guess@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    body = email_text(OutboxEmail.objects.get(to="guess@example.com"))
    code = re.search(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}\b", body).group(0)
    for _ in range(3):
        client.post(reverse("account_email_verification_sent"), {"code": "AAAA-AAAA"})
    # After three wrong guesses the code is dead, even the right one.
    response = client.post(reverse("account_email_verification_sent"), {"code": code})
    assert "_auth_user_id" not in client.session
    assert not User.objects.get(email="guess@example.com").emailaddress_set.get().verified
    assert response.status_code in (200, 302)


@pytest.fixture
def hash_count(settings):
    """How many password hashes a request costs (encoding or checking a password is one hash)."""
    from tests.hashers import CountingHasher

    settings.PASSWORD_HASHERS = ["tests.hashers.CountingHasher"]
    UserFactory(email="registered@example.com")  # hashed with the counting hasher

    def measure(request) -> int:
        CountingHasher.hashes = 0
        request()
        return CountingHasher.hashes

    return measure


def test_sign_up_costs_one_password_hash_whether_or_not_the_address_is_registered(hash_count):
    def sign_up(email):
        def request():
            response = Client().post(
                reverse("account_signup"),
                {"email": email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
            )
            # Both answers look the same: on to "enter the code we sent".
            assert response["Location"] == reverse("account_email_verification_sent")

        return request

    assert hash_count(sign_up("newcomer@example.com")) == 1
    assert hash_count(sign_up("registered@example.com")) == 1
    assert User.objects.filter(email="registered@example.com").count() == 1


@pytest.mark.parametrize("login", ["registered@example.com", "nobody@example.com"])
def test_a_failed_sign_in_costs_one_password_hash(hash_count, login):
    def request():
        response = Client().post(reverse("account_login"), {"login": login, "password": "wrong-password-1"})
        assert response.status_code == 200
        assert response.context["form"].non_field_errors() == [
            "The email address and/or password you specified are not correct."
        ]

    assert hash_count(request) == 1


def test_the_real_settings_rate_limit_sign_up(settings):
    """The test settings switch rate limits off; the shipped ones must keep the sign-up limit."""
    from portal import settings as shipped

    assert shipped.ACCOUNT_RATE_LIMITS["signup"] == "10/h/ip"
    settings.ACCOUNT_RATE_LIMITS = shipped.ACCOUNT_RATE_LIMITS
    statuses = [
        Client()
        .post(
            reverse("account_signup"),
            {"email": f"limit{i}@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
        .status_code
        for i in range(11)
    ]
    assert statuses == [302] * 10 + [429]
    assert User.objects.filter(email__startswith="limit").count() == 10


def test_staff_mfa_redirect_encodes_where_to_go_next(client):
    reviewer = StaffFactory(is_superuser=True, mfa=False)
    client.force_login(reviewer)
    response = client.get("/review/accounts/user/?q=a&o=1")
    assert response.status_code == 302
    assert response["Location"] == (
        reverse("mfa_activate_totp") + "?next=%2Freview%2Faccounts%2Fuser%2F%3Fq%3Da%26o%3D1"
    )
