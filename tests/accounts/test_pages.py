"""The page shell: public home, login by default, security headers, clear error pages in two languages;
the User management lists."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.http import QueryDict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Membership
from accounts.roles import Role
from accounts.selectors import MEMBERS_ORDERING
from portal.lists import cursor_for
from tests.factories.accounts import (
    MembershipFactory,
    MembershipInvitationFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_home_page_is_public_and_explains_the_portal(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Cloud Solution Provider program" in body
    assert 'href="/accounts/signup/"' in body
    assert 'href="#main"' in body  # skip link for keyboard users


def test_signed_in_user_is_taken_to_the_dashboard(client):
    client.force_login(UserFactory())
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_pages_require_login_by_default(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize(
    ("kind", "partner_page"),
    [("reseller", "Indirect providers"), ("provider", "Indirect resellers"), ("customer", None)],
)
def test_dashboard_navigation_follows_the_organization_kind(client, kind, partner_page):
    membership = MembershipFactory(organization=OrganizationFactory(kind=kind), roles=[Role.GLOBAL_ADMIN])
    client.force_login(membership.user)
    body = client.get(reverse("dashboard"), follow=True).content.decode()
    assert 'aria-label="Main navigation"' in body
    assert '<a href="/o/' in body and 'aria-current="page">Dashboard</a>' in body
    for label in ("Account settings", "Activity log"):
        assert f">{label}</a>" in body
    # Partners have customers; a customer organization has no partner pages at all.
    assert (">Customers</a>" in body) == (kind != "customer")
    for label in ("Indirect providers", "Indirect resellers"):
        assert (f">{label}</a>" in body) == (label == partner_page)


def test_a_user_without_organization_is_offered_enrollment(client):
    client.force_login(UserFactory())
    response = client.get(reverse("dashboard"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("accounts:no_organization")
    assert "Enroll as an indirect reseller" in response.content.decode()


def test_security_headers_are_sent(client):
    response = client.get(reverse("home"))
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.parametrize(("language", "text"), [("en", "Page not found"), ("ja", "ページが見つかりません")])
def test_not_found_page_in_both_languages(client, language, text):
    client.force_login(UserFactory(preferred_language=language))
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert text in response.content.decode()


@pytest.mark.parametrize(("language", "text"), [("en", "Something went wrong"), ("ja", "問題が発生しました")])
def test_server_error_page_in_both_languages(settings, language, text):
    from django.urls import path

    from portal import urls

    def explode(request):
        raise RuntimeError("boom")

    settings.ROOT_URLCONF = type(
        "Urls",
        (),
        {
            "urlpatterns": [path("explode/", explode), *urls.urlpatterns],
            "handler500": urls.handler500,
        },
    )
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(preferred_language=language))
    response = client.get("/explode/")
    assert response.status_code == 500
    assert text in response.content.decode()
    assert "boom" not in response.content.decode()


def test_csrf_failure_page_is_clear(client):
    csrf_client = Client(enforce_csrf_checks=True)
    response = csrf_client.post(reverse("language_set"), {"language": "ja"})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()


def test_static_assets_are_served_locally(client):
    body = client.get(reverse("home")).content.decode()
    assert "/static/css/portal.css" in body
    assert "https://" not in body.split("<body")[0]  # no CDN in the head


def test_navigation_shows_only_pages_the_member_may_open(client):
    membership = MembershipFactory(
        organization=OrganizationFactory(kind="reseller"), roles=["helpdesk_agent"]
    )
    client.force_login(membership.user)
    body = client.get(reverse("dashboard"), follow=True).content.decode()
    for label in ("Dashboard", "Customers", "Account settings"):
        assert f">{label}</a>" in body
    for label in ("Indirect providers", "Activity log", "User management"):
        assert f">{label}</a>" not in body


def test_the_403_page_keeps_the_organization_navigation(client):
    membership = MembershipFactory(roles=["helpdesk_agent"])
    client.force_login(membership.user)
    url = reverse("accounts:users", kwargs={"organization_public_id": membership.organization.public_id})
    response = client.get(url)
    assert response.status_code == 403
    assert 'aria-label="Main navigation"' in response.content.decode()


def test_form_errors_are_tied_to_their_fields(client):
    membership = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    client.force_login(membership.user)
    url = reverse(
        "accounts:user_invite", kwargs={"organization_public_id": membership.organization.public_id}
    )
    body = client.post(url, {"email": "not-an-email", "roles": []}).content.decode()
    assert '<label for="id_email">' in body
    assert 'aria-invalid="true"' in body
    assert 'aria-describedby="id_email_error"' in body
    assert "<legend>Roles" in body
    assert 'id="id_roles_error"' in body


# User management: members and pending invitations as keyset lists (portal/lists.py).


def users_url(organization) -> str:
    return reverse("accounts:users", kwargs={"organization_public_id": organization.public_id})


def members_joined(organization, count: int, start: datetime) -> list[Membership]:
    """``count`` members who joined a minute apart after ``start``, newest last."""
    members = []
    for n in range(count):
        with time_machine.travel(start + timedelta(minutes=n), tick=False):
            members.append(MembershipFactory(organization=organization, roles=[Role.SALES_AGENT]))
    return members


def test_members_are_listed_newest_first_in_pages_that_never_count(client):
    admin = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    joined = members_joined(admin.organization, 60, datetime(2026, 1, 1, tzinfo=UTC))
    newest_first = [admin, *reversed(joined)]
    client.force_login(admin.user)

    with CaptureQueriesContext(connection) as captured:
        first = client.get(users_url(admin.organization))
    page = first.context["page"]
    assert [m.pk for m in page.object_list] == [m.pk for m in newest_first[:50]]
    body = first.content.decode()
    assert '<nav class="pagination" aria-label="Pages of members">' in body
    assert 'rel="next">Next</a>' in body
    for query in captured:
        assert "OFFSET" not in query["sql"].upper() and "COUNT(" not in query["sql"].upper()

    second = client.get(users_url(admin.organization) + "?" + page.next_query)
    assert [m.pk for m in second.context["page"].object_list] == [m.pk for m in newest_first[50:]]
    assert not second.context["page"].has_next
    body = second.content.decode()
    assert ">First page</a>" in body and 'rel="prev">Previous</a>' in body and 'rel="next"' not in body


def test_members_with_the_same_join_time_are_neither_skipped_nor_repeated(client):
    admin = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False):
        same_instant = MembershipFactory.create_batch(55, organization=admin.organization)
    client.force_login(admin.user)
    first = client.get(users_url(admin.organization)).context["page"]
    second = client.get(users_url(admin.organization) + "?" + first.next_query).context["page"]
    listed = [m.pk for m in [*first.object_list, *second.object_list]]
    assert listed == [admin.pk, *sorted((m.pk for m in same_instant), reverse=True)]


def test_user_management_costs_the_same_queries_at_any_size_and_page(client):
    admin = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    MembershipInvitationFactory.create_batch(2, organization=admin.organization, invited_by=admin.user)
    members_joined(admin.organization, 3, datetime(2026, 1, 1, tzinfo=UTC))
    client.force_login(admin.user)
    client.get(users_url(admin.organization))  # the first visit creates the session rows
    with CaptureQueriesContext(connection) as few:
        client.get(users_url(admin.organization))

    members_joined(admin.organization, 70, datetime(2026, 2, 1, tzinfo=UTC))
    MembershipInvitationFactory.create_batch(30, organization=admin.organization, invited_by=admin.user)
    with CaptureQueriesContext(connection) as many:
        first = client.get(users_url(admin.organization))
    page, invitations = first.context["page"], first.context["invitations"]
    both_next = page.next_query + "&" + invitations.next_query.replace(page.next_query, "")
    with CaptureQueriesContext(connection) as many_later:
        later = client.get(users_url(admin.organization) + "?" + both_next)

    assert len(few) == len(many) == len(many_later)
    assert len(page.object_list) == 50 and len(invitations.object_list) == 20
    assert len(later.context["page"].object_list) == 24  # 74 members: 50 + 24
    assert len(later.context["invitations"].object_list) == 12  # 32 invitations: 20 + 12


def test_pending_invitations_are_a_short_alphabetical_list_paged_on_their_own(client):
    admin = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    members_joined(admin.organization, 55, datetime(2026, 1, 1, tzinfo=UTC))
    emails = [f"invitee-{n:02}@example.com" for n in range(25)]
    for email in reversed(emails):
        MembershipInvitationFactory(organization=admin.organization, email=email, invited_by=admin.user)
    MembershipInvitationFactory(
        organization=admin.organization,
        email="a-revoked@example.com",
        status="revoked",
        invited_by=admin.user,
    )
    client.force_login(admin.user)

    # On the members' second page, the invitations' Next link keeps the members where they are.
    members_next = client.get(users_url(admin.organization)).context["page"].next_query
    response = client.get(users_url(admin.organization) + "?" + members_next)
    invitations = response.context["invitations"]
    assert [i.email for i in invitations.object_list] == emails[:20]
    body = response.content.decode()
    assert '<nav class="pagination" aria-label="Pages of pending invitations">' in body
    assert QueryDict(invitations.next_query)["after"] == QueryDict(members_next)["after"]

    rest = client.get(users_url(admin.organization) + "?" + invitations.next_query)
    assert [i.email for i in rest.context["invitations"].object_list] == emails[20:]
    assert not rest.context["invitations"].has_next
    assert len(rest.context["page"].object_list) == 6  # still the members' second page: 56 members
    assert "a-revoked@example.com" not in rest.content.decode()


def test_a_forged_members_cursor_shows_the_first_page(client):
    admin = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    client.force_login(admin.user)
    response = client.get(users_url(admin.organization) + "?after=forged&invitations_before=%FF")
    assert response.status_code == 200
    assert [m.pk for m in response.context["page"].object_list] == [admin.pk]


def test_an_index_serves_every_members_page_without_sorting(client):
    """PostgreSQL answers a later page by a seek in membership_org_created_idx, with no sort step."""
    admin = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    members_joined(admin.organization, 5, datetime(2026, 1, 1, tzinfo=UTC))
    client.force_login(admin.user)
    cursor_query = "?after=" + cursor_for(admin, ordering=MEMBERS_ORDERING)
    with CaptureQueriesContext(connection) as captured:
        assert len(client.get(users_url(admin.organization) + cursor_query).context["page"].object_list) == 5
    seek = '("accounts_membership"."created_at", "accounts_membership"."id") < ('
    [page_sql] = [query["sql"] for query in captured if seek in query["sql"]]
    with connection.cursor() as cursor:
        # Only plans that need no sort are left: the test fails unless an index gives this order.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + page_sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan Backward using membership_org_created_idx" in plan
    assert "ROW(created_at, id) < ROW(" in plan.split("Index Cond:")[1].split("\n")[0]
    assert "Sort" not in plan
