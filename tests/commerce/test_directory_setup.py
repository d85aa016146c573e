"""The public set-up page of a user added to a customer's built-in tenant: the emailed link lands, moves on
to the page without the token (no referrer, never cached), shows the user principal name and a password
form; a good password is set and uses the link up; a weak one is refused at the field and keeps the
link; a used, expired, replaced or made-up link shows a page without a form (404). The token never
reaches a log line."""

import html
import logging
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from accounts.directory_views import SESSION_KEY
from accounts.models import DirectoryUser
from accounts.services.directory import directory_user_setup_find
from commerce.services.users import customer_user_add
from portal.audit.models import AuditEvent
from portal.logging import TextFormatter
from portal.mail.models import OutboxEmail
from tests.factories.commerce import commerce_linked
from tests.factories.customers import CustomerFactory
from tests.factories.providers import ResellerFactory
from tests.mail import email_text

pytestmark = pytest.mark.django_db

SETUP_LINK = re.compile(r"https?://[^\s\"<]+(/directory/setup/([A-Za-z0-9_\-]+)/)")
FORM_PAGE = "/directory/setup/set-password/"
PASSWORD = "quiet-harbour-lantern-47"
INVALID = (
    "This set-up link is not valid: it was already used, it expired, or a newer one replaced it. Ask your "
    "administrator to send a new one."
)


@pytest.fixture
def new_user():
    """Ann, added by the reseller to Fabrikam's tenant: the user, and the path of its emailed link."""
    link = commerce_linked(
        ResellerFactory(legal_name="Contoso Japan KK"), customer=CustomerFactory(legal_name="Fabrikam KK")
    )
    domain = link.customer.directory_tenant.verified_domains[0]
    user = customer_user_add(
        by=link.reseller_agent,
        customer=link.customer,
        user_principal_name=f"ann@{domain}",
        display_name="Ann Lee",
        contact_email="ann.lee@example.com",
        language="en",
    )
    path, token = SETUP_LINK.search(
        email_text(OutboxEmail.objects.get(template="directory_user_setup"))
    ).groups()
    assert path == reverse("accounts:directory_user_setup", args=[token])
    return user, path, token


def text(response) -> str:
    return " ".join(html.unescape(strip_tags(response.content.decode())).split())


def has_password_form(response) -> bool:
    return 'name="password"' in response.content.decode()


def assert_never_cached(response):
    assert "no-store" in response["Cache-Control"]
    assert "max-age=0" in response["Cache-Control"]


def test_the_link_moves_on_to_a_page_without_the_token_that_shows_the_user_and_a_form(client, new_user):
    user, path, token = new_user

    landing = client.get(path)

    assert landing.status_code == 302
    assert landing["Location"] == FORM_PAGE
    assert landing["Referrer-Policy"] == "no-referrer"
    assert_never_cached(landing)
    page = client.get(landing["Location"])
    assert page.status_code == 200
    assert_never_cached(page)
    assert has_password_form(page)
    assert user.user_principal_name in text(page)
    assert "Ann Lee" in text(page)
    assert token not in page.content.decode()
    # The form posts to its own address: no token in it.
    assert '<form method="post" class="form card" novalidate>' in page.content.decode()


def test_a_good_password_is_set_and_the_link_is_used_up(client, new_user):
    user, path, _ = new_user
    client.get(path)

    response = client.post(FORM_PAGE, {"password": PASSWORD, "password_confirmation": PASSWORD})

    assert response.status_code == 200
    assert response["Referrer-Policy"] == "no-referrer"
    assert_never_cached(response)
    assert "Your password is set" in text(response)
    assert (
        f"From now on, sign in with your user principal name, {user.user_principal_name}, and the password "
        "you just chose." in text(response)
    )
    assert not has_password_form(response)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert (user.setup_token_hash, user.setup_expires_at) == ("", None)
    assert AuditEvent.objects.filter(action="directory_user.setup_completed").count() == 1
    assert SESSION_KEY not in client.session


def test_a_link_used_once_shows_the_invalid_page_the_second_time(client, new_user):
    user, path, _ = new_user
    client.get(path)
    client.post(FORM_PAGE, {"password": PASSWORD, "password_confirmation": PASSWORD})
    user.refresh_from_db()
    password_hash = user.password

    again = client.get(path)
    form_page = client.get(FORM_PAGE)
    replay = client.post(
        FORM_PAGE, {"password": "another-" + PASSWORD, "password_confirmation": "another-" + PASSWORD}
    )

    for response in (again, form_page, replay):
        assert response.status_code == 404
        assert INVALID in text(response)
        assert not has_password_form(response)
        assert response["Referrer-Policy"] == "no-referrer"
        assert_never_cached(response)
    user.refresh_from_db()
    assert user.password == password_hash


def test_an_expired_link_shows_the_invalid_page(client, new_user):
    user, path, _ = new_user
    DirectoryUser.objects.filter(pk=user.pk).update(setup_expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get(path)

    assert response.status_code == 404
    assert INVALID in text(response)
    assert not has_password_form(response)


def test_the_link_expiring_while_the_form_is_open_shows_the_invalid_page_and_sets_nothing(client, new_user):
    user, path, _ = new_user
    client.get(path)
    DirectoryUser.objects.filter(pk=user.pk).update(setup_expires_at=timezone.now() - timedelta(seconds=1))

    response = client.post(FORM_PAGE, {"password": PASSWORD, "password_confirmation": PASSWORD})

    assert response.status_code == 404
    user.refresh_from_db()
    assert not user.check_password(PASSWORD)


def test_a_made_up_link_and_the_form_page_without_a_link_are_invalid(client, new_user):
    assert client.get(reverse("accounts:directory_user_setup", args=["not-a-real-token"])).status_code == 404
    response = client.get(FORM_PAGE)
    assert response.status_code == 404
    assert not has_password_form(response)


def test_a_weak_password_is_refused_at_the_field_and_the_link_stays_valid(client, new_user):
    user, path, token = new_user
    client.get(path)
    before = user.password

    weak = client.post(FORM_PAGE, {"password": "12345678", "password_confirmation": "12345678"})
    different = client.post(FORM_PAGE, {"password": PASSWORD, "password_confirmation": PASSWORD + "x"})

    assert weak.status_code == 400
    assert list(weak.context["form"].errors) == ["password"]
    assert 'id="id_password_error"' in weak.content.decode()
    assert 'aria-describedby="id_password_helptext id_password_error"' in weak.content.decode()
    assert different.status_code == 400
    assert different.context["form"].errors == {
        "password_confirmation": ["The two passwords are different. Type the same password twice."]
    }
    user.refresh_from_db()
    assert user.password == before
    assert directory_user_setup_find(token) == user
    # The same link still works.
    done = client.post(FORM_PAGE, {"password": PASSWORD, "password_confirmation": PASSWORD})
    assert done.status_code == 200
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_the_token_never_reaches_a_log_line(client, new_user, caplog):
    _, path, token = new_user
    DirectoryUser.objects.update(setup_expires_at=timezone.now() - timedelta(seconds=1))
    formatter = TextFormatter("%(levelname)s %(name)s %(message)s")

    with caplog.at_level(logging.INFO):
        assert client.get(path).status_code == 404

    lines = [formatter.format(record) for record in caplog.records]
    assert any("/directory/setup/[redacted]/" in line for line in lines), lines
    assert not any(token in line for line in lines)
