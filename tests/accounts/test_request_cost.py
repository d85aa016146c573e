"""What every signed-in request costs: the session's "last seen" is written once per interval (or when
the client changes), the page's membership is read once, the switcher reads a few columns of a few rows."""

import re
import time
from datetime import timedelta

import pytest
from allauth.usersessions.models import UserSession
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from accounts.selectors import SWITCHER_SIZE
from tests.factories.accounts import PASSWORD, MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def _signed_in(user, user_agent: str = "Firefox/140.0") -> Client:
    browser = Client(HTTP_USER_AGENT=user_agent)
    assert (
        browser.post(reverse("account_login"), {"login": user.email, "password": PASSWORD}).status_code == 302
    )
    return browser


def _queries(browser: Client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert browser.get(url).status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def test_a_request_within_the_interval_writes_nothing_and_reads_no_session_row():
    user = UserFactory()
    browser = _signed_in(user)
    browser.get(reverse("profile"))
    seen = UserSession.objects.get(user=user).last_seen_at

    queries = _queries(browser, reverse("profile"))

    assert [query for query in queries if WRITE.match(query)] == []
    assert [query for query in queries if "usersessions_usersession" in query] == []
    assert UserSession.objects.get(user=user).last_seen_at == seen


def test_last_seen_is_written_again_once_the_interval_has_passed(settings):
    settings.USERSESSIONS_ACTIVITY_INTERVAL_SECONDS = 1
    user = UserFactory()
    browser = _signed_in(user)
    browser.get(reverse("profile"))
    seen = UserSession.objects.get(user=user).last_seen_at

    browser.get(reverse("profile"))
    assert UserSession.objects.get(user=user).last_seen_at == seen

    time.sleep(1.2)  # the interval lives in the cache (Redis), whose clock no test can move
    browser.get(reverse("profile"))
    assert UserSession.objects.get(user=user).last_seen_at > seen


def test_the_session_is_not_saved_again_so_its_expiry_does_not_slide(settings):
    settings.USERSESSIONS_ACTIVITY_INTERVAL_SECONDS = 1
    user = UserFactory()
    browser = _signed_in(user)
    browser.get(reverse("profile"))
    session_key = browser.cookies[settings.SESSION_COOKIE_NAME].value
    expiry = Session.objects.get(session_key=session_key).expire_date

    time.sleep(1.2)
    response = browser.get(reverse("profile"))

    assert UserSession.objects.get(user=user).last_seen_at > Session.objects.get(
        session_key=session_key
    ).expire_date - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert Session.objects.get(session_key=session_key).expire_date == expiry


def test_a_new_browser_or_address_is_written_at_once():
    user = UserFactory()
    browser = _signed_in(user, user_agent="Firefox/140.0")
    browser.get(reverse("profile"))

    browser.get(reverse("profile"), HTTP_USER_AGENT="Chrome/142.0")
    assert UserSession.objects.get(user=user).user_agent == "Chrome/142.0"

    browser.get(reverse("profile"), HTTP_USER_AGENT="Chrome/142.0", REMOTE_ADDR="192.0.2.44")
    assert UserSession.objects.get(user=user).ip == "192.0.2.44"

    browser.get(reverse("profile"), HTTP_USER_AGENT="Firefox/140.0")  # back to the first client
    assert UserSession.objects.get(user=user).user_agent == "Firefox/140.0"


def test_the_sessions_page_still_lists_every_session_with_its_client():
    user = UserFactory()
    laptop, phone = _signed_in(user, "Firefox/140.0"), _signed_in(user, "Mobile Safari/18.0")
    for browser in (laptop, phone):
        browser.get(reverse("profile"))

    page = laptop.get(reverse("usersessions_list")).content.decode()

    assert sorted(UserSession.objects.filter(user=user).values_list("user_agent", flat=True)) == [
        "Firefox/140.0",
        "Mobile Safari/18.0",
    ]
    assert page.count("<tr") >= 3  # a header row and one row per session


def _member_of(count: int):
    user = UserFactory()
    organizations = [
        OrganizationFactory(kind="reseller", legal_name=f"Org {number:02d} KK") for number in range(count)
    ]
    for organization in organizations:
        MembershipFactory(user=user, organization=organization, roles=[Role.GLOBAL_ADMIN])
    return user, organizations


def test_an_organization_page_costs_the_same_queries_for_1_or_30_organizations():
    counts = []
    for size in (1, 30):
        user, organizations = _member_of(size)
        browser = _signed_in(user)
        url = reverse("accounts:users", kwargs={"organization_public_id": organizations[0].public_id})
        browser.get(url)
        queries = _queries(browser, url)
        counts.append(len(queries))
        # The page's own membership is read once (with its roles), the switcher reads organizations.
        memberships = [
            query for query in queries if query.lstrip().startswith('SELECT "accounts_membership"."id"')
        ]
        assert len(memberships) == 2  # the member's own, and the members listed on the page
    assert counts[0] == counts[1]


def test_the_switcher_lists_the_first_organizations_and_links_to_them_all():
    user, organizations = _member_of(SWITCHER_SIZE + 2)
    browser = _signed_in(user)

    page = browser.get(
        reverse(
            "accounts:organization_dashboard", kwargs={"organization_public_id": organizations[0].public_id}
        )
    ).content.decode()
    start = page.index('aria-label="Switch organization"')
    switcher = page[start : page.index("</ul>", start)]

    assert re.findall(r"Org \d\d KK", switcher) == [f"Org {number:02d} KK" for number in range(SWITCHER_SIZE)]
    assert reverse("accounts:organizations") in switcher

    everything = browser.get(reverse("accounts:organizations")).content.decode()
    assert re.findall(r"<bdi>(Org \d\d KK)</bdi>", everything) == [
        f"Org {number:02d} KK" for number in range(SWITCHER_SIZE + 2)
    ]


def test_the_switcher_has_no_link_to_all_when_it_shows_them_all():
    user, organizations = _member_of(SWITCHER_SIZE)
    browser = _signed_in(user)

    page = browser.get(
        reverse(
            "accounts:organization_dashboard", kwargs={"organization_public_id": organizations[0].public_id}
        )
    ).content.decode()

    assert reverse("accounts:organizations") not in page


def test_your_organizations_lists_only_active_memberships_of_active_organizations():
    user, organizations = _member_of(3)
    organizations[1].status = "suspended"
    organizations[1].save(update_fields=["status"])
    membership = organizations[2].memberships.get(user=user)
    membership.status = "deactivated"
    membership.save(update_fields=["status"])
    MembershipFactory(organization=OrganizationFactory(legal_name="Someone Else KK"))
    browser = _signed_in(user)

    page = browser.get(reverse("accounts:organizations")).content.decode()

    assert re.findall(r"<bdi>([^<]+)</bdi>", page) == ["Org 00 KK"]
