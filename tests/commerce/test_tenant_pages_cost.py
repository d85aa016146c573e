"""What the Licences and Tenant users pages cost per request (issue 12): the access checks of one request
share the relationship selector's answers (``customers.selectors.PartnerAnswers``: each question asked
once, and again on the next request), and the first page of the customer's own pages reads through
statements compiled once per process (``portal.prepared``), with exactly the rows the querysets give."""

import re

import pytest
import time_machine
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commerce import access, selectors
from commerce.models import LicenceAssignment, SubscriptionStatus
from commerce.views.directory import USER_ORDERING
from commerce.views.licences import ASSIGNMENT_ORDERING, CHOOSER_SIZE
from customers import selectors as customer_selectors
from customers.models import DelegatedAdminRelationship, DelegatedRole
from portal.lists import keyset_first_page, keyset_page
from tests.commerce.test_access import CALLERS, COLUMNS, EXPECTED, PARTNER, SELF, outcome_of
from tests.commerce.test_users_pages import customer_url, partner_url, signed_in, tenant_user
from tests.factories.commerce import (
    LicenceAssignmentFactory,
    OfferFactory,
    SubscriptionFactory,
    commerce_linked,
)
from tests.factories.customers import CustomerFactory
from tests.factories.providers import ResellerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def link():
    return commerce_linked(
        ResellerFactory(legal_name="Contoso Japan KK"), customer=CustomerFactory(legal_name="Fabrikam KK")
    )


@pytest.fixture
def office(link):
    """Office Suite (10 seats), held by ann and bob; Teams (5 seats), held by bob."""
    office = SubscriptionFactory(
        customer=link.customer, reseller=link.reseller, provider=link.provider, name="Office Suite", seats=10
    )
    teams = SubscriptionFactory(
        customer=link.customer, reseller=link.reseller, provider=link.provider, name="Teams", seats=5
    )
    ann, bob = tenant_user(link.customer, "ann"), tenant_user(link.customer, "bob")
    tenant_user(link.customer, "carol")
    LicenceAssignmentFactory(subscription=office, directory_user=ann)
    LicenceAssignmentFactory(subscription=office, directory_user=bob)
    LicenceAssignmentFactory(subscription=teams, directory_user=bob)
    return office


def relationship_reads(queries) -> tuple[int, int]:
    """How many statements read the partner's customer relationships, and its delegated admin roles (the
    table of a statement's first FROM: not the subqueries that scope another read)."""
    tables = [re.match(r'SELECT .*? FROM "(\w+)"', query["sql"], re.DOTALL) for query in queries]
    tables = [match.group(1) for match in tables if match]
    return tables.count("customers_customerrelationship"), tables.count(
        "customers_delegatedadminrelationship"
    )


# --- One answer per question per request ---------------------------------------------------------------


@pytest.mark.parametrize("caller", sorted(EXPECTED))
def test_the_checks_of_one_request_give_each_caller_the_same_answers_as_without_sharing(caller):
    customer, membership, moment = CALLERS[caller]()
    organization = membership.organization

    with time_machine.travel(moment or timezone.now(), tick=False):
        answers = customer_selectors.PartnerAnswers(organization, customer)
        shared = {
            action: outcome_of(
                lambda action=action: access.customer_action_check(
                    organization, membership, customer, action, answers=answers
                )
            )
            for action in COLUMNS
        }
        allowed = {
            action: access.customer_action_allowed(
                organization, membership, customer, action, answers=answers
            )
            for action in COLUMNS
        }

    assert shared == EXPECTED[caller]
    assert allowed == {action: EXPECTED[caller][action] in (SELF, PARTNER) for action in COLUMNS}


def test_the_answers_of_one_partner_and_customer_are_never_used_for_another(link):
    other = commerce_linked(roles=[])  # another reseller and customer, without delegated roles
    answers = customer_selectors.PartnerAnswers(link.reseller, link.customer)
    assert answers.may(DelegatedRole.USER_ADMIN) is True

    with pytest.raises(access.CustomerNotVisible):
        access.customer_action_check(
            link.reseller, link.reseller_agent, other.customer, access.USERS_VIEW, answers=answers
        )
    with pytest.raises(access.DelegatedRoleMissing):
        access.customer_action_check(
            other.reseller, other.reseller_agent, other.customer, access.USERS_VIEW, answers=answers
        )


def test_a_relationship_of_another_pair_does_not_answer_whether_the_partner_sees_the_customer(link):
    other = commerce_linked()
    relationship = customer_selectors.customer_relationship_for(other.reseller, other.customer.public_id)

    answers = customer_selectors.PartnerAnswers(link.reseller, other.customer, visible=relationship)

    assert answers.sees is False
    assert answers.may("view") is False


@pytest.mark.parametrize("page", ["users", "licences"])
def test_a_resellers_page_reads_the_relationship_and_the_roles_once(client, link, office, page):
    client = signed_in(client, link.reseller_agent)
    client.get(partner_url(page, link))

    with CaptureQueriesContext(connection) as queries:
        response = client.get(partner_url(page, link))

    assert response.status_code == 200
    assert relationship_reads(queries.captured_queries) == (1, 1)
    # the banner names the role from the same answers; the actions the member may take are offered
    body = response.content.decode()
    role = "User administrator" if page == "users" else "License administrator"
    assert f"with the {role} delegated admin role" in body
    assert ("Disable<span" if page == "users" else "Remove<span") in body


@pytest.mark.parametrize("page", ["users", "licences"])
def test_a_role_the_customer_removes_is_gone_on_the_next_request(client, link, office, page):
    client = signed_in(client, link.reseller_agent)
    assert client.get(partner_url(page, link)).status_code == 200
    role = DelegatedRole.USER_ADMIN if page == "users" else DelegatedRole.LICENSE_ADMIN
    relationship = DelegatedAdminRelationship.objects.get(partner=link.reseller, customer=link.customer)
    relationship.roles = [other for other in relationship.roles if other != role]
    relationship.save(update_fields=["roles"])
    held = LicenceAssignment.objects.count()

    response = client.get(partner_url(page, link))

    assert response.status_code == 403
    assert LicenceAssignment.objects.count() == held


# --- The customer's first pages, compiled once --------------------------------------------------------


def test_the_customers_pages_cost_a_constant_number_of_queries(
    client, link, office, django_assert_num_queries
):
    client = signed_in(client, link.customer_admin)
    client.get(customer_url("users", link))
    client.get(customer_url("licences", link))

    # the session, the user with the membership (accounts.authentication); then the page's own reads
    with django_assert_num_queries(4):
        users = client.get(customer_url("users", link))
    with django_assert_num_queries(5):
        licences = client.get(customer_url("licences", link))

    assert [(row.user_principal_name.split("@")[0], row.licence_names) for row in users.context["rows"]] == [
        ("ann", ("Office Suite",)),
        ("bob", ("Office Suite", "Teams")),
        ("carol", ()),
    ]
    assert licences.context["chosen"].name == "Office Suite"
    assert licences.context["chosen"].assigned == 2
    assert [row.user_principal_name.split("@")[0] for row in licences.context["rows"]] == ["ann", "bob"]


@pytest.mark.parametrize("count", [0, 3, 50, 51, 120])
def test_the_first_page_of_tenant_users_is_the_one_keyset_page_gives(link, count):
    subscriptions = [
        SubscriptionFactory(customer=link.customer, reseller=link.reseller, provider=link.provider, name=name)
        for name in ("Teams", "Office Suite", "Office Suite")
    ]
    for number in range(count):
        user = tenant_user(link.customer, f"user{number % 7}-{number:03d}")
        for subscription in subscriptions[: number % 4]:
            LicenceAssignmentFactory(subscription=subscription, directory_user=user)
    # another customer's licences never show
    other = commerce_linked()
    LicenceAssignmentFactory(
        subscription=SubscriptionFactory(customer=other.customer),
        directory_user=tenant_user(other.customer, "x"),
    )
    query = QueryDict("x=%C3%A9")
    expected = keyset_page(selectors.tenant_user_rows(link.customer), ordering=USER_ORDERING, query=query)
    rows = selectors.own_tenant_user_rows_first(link.customer, ordering=USER_ORDERING, count=51)
    page = keyset_first_page(rows, ordering=USER_ORDERING, query=query)

    assert page == expected
    assert [(u.pk, u.display_name, u.status, u.setup_expires_at) for u in page.object_list] == [
        (u.pk, u.display_name, u.status, u.setup_expires_at) for u in expected.object_list
    ]


@pytest.mark.parametrize("count", [0, 3, 50, 51, 120])
def test_the_first_page_of_licence_holders_is_the_one_keyset_page_gives(link, count):
    subscription = SubscriptionFactory(
        customer=link.customer, reseller=link.reseller, provider=link.provider, seats=200
    )
    for number in range(count):
        LicenceAssignmentFactory(
            subscription=subscription,
            directory_user=tenant_user(link.customer, f"u{number % 9}-{number:03d}"),
        )
    query = QueryDict("subscription=x")
    expected = keyset_page(
        selectors.licence_holder_rows(subscription), ordering=ASSIGNMENT_ORDERING, query=query
    )

    rows = selectors.licence_holder_rows_first(subscription, ordering=ASSIGNMENT_ORDERING, count=51)
    page = keyset_first_page(rows, ordering=ASSIGNMENT_ORDERING, query=query)

    assert page == expected
    assert [(row.pk, row.display_name, row.user_status, row.assigned_at) for row in page.object_list] == [
        (row.pk, row.display_name, row.user_status, row.assigned_at) for row in expected.object_list
    ]
    assert selectors.licences_assigned_of(subscription) == selectors.licences_assigned(subscription) == count


@pytest.mark.parametrize("count", [0, 3, CHOOSER_SIZE + 1, 80])
def test_the_customers_list_of_subscriptions_is_the_one_the_queryset_gives(link, count):
    seat_based, by_usage = OfferFactory(seat_based=True), OfferFactory(seat_based=False)
    statuses = [SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELLED, SubscriptionStatus.SUSPENDED]
    for number in range(count):
        SubscriptionFactory(
            customer=link.customer, reseller=link.reseller, provider=link.provider,
            offer=by_usage if number % 5 == 4 else seat_based, name=f"Suite {number % 6:03d}",
            status=statuses[number % 3],
        )  # fmt: skip
    SubscriptionFactory(offer=seat_based)  # another customer's
    expected = list(
        selectors.licence_chooser(
            selectors.licence_subscriptions_of(link.customer, link.customer), count=CHOOSER_SIZE + 1
        )
    )

    rows = selectors.own_licence_chooser(link.customer, count=CHOOSER_SIZE + 1)

    assert [(row.pk, row.name, row.status, row.seats, row.public_id) for row in rows] == [
        (row.pk, row.name, row.status, row.seats, row.public_id) for row in expected
    ]
    assert len(rows) == min(count - count // 5, CHOOSER_SIZE + 1)


def licence_names_as_the_queryset_reads_them(organization, customer, user_ids) -> list[tuple[int, str]]:
    return list(
        selectors.licence_assignments_visible_to(organization, customer)
        .filter(directory_user_id__in=user_ids)
        .order_by("directory_user_id", "subscription__name", "subscription_id")
        .values_list("directory_user_id", "subscription__name")
    )


@pytest.mark.parametrize("count", [0, 1, 3, 51])
def test_the_licences_of_a_page_of_users_are_the_ones_the_queryset_gives_on_each_side(link, count):
    # the customer's subscriptions through this reseller, through another reseller, and one that ended
    other_reseller = commerce_linked(customer=link.customer).reseller
    subscriptions = [
        SubscriptionFactory(customer=link.customer, reseller=link.reseller, provider=link.provider, name=name)
        for name in ("Teams", "Office Suite", "Office Suite")
    ] + [SubscriptionFactory(customer=link.customer, reseller=other_reseller, name="Another reseller's")]
    users = []
    for number in range(count + 2):
        user = tenant_user(link.customer, f"user{number:03d}")
        users.append(user)
        for subscription in subscriptions[number % 3 :]:
            LicenceAssignmentFactory(subscription=subscription, directory_user=user)
    # another customer's licences never show, even for ids asked for
    other = commerce_linked(link.reseller)
    stranger = tenant_user(other.customer, "x")
    LicenceAssignmentFactory(
        subscription=SubscriptionFactory(customer=other.customer, reseller=link.reseller),
        directory_user=stranger,
    )
    user_ids = [user.pk for user in users[:count]] + [stranger.pk]

    for organization in (link.customer, link.reseller):
        expected = licence_names_as_the_queryset_reads_them(organization, link.customer, user_ids)
        assert selectors.licence_names_of_users(organization, link.customer, user_ids) == expected
    # the reseller sees only the subscriptions it is reseller of record of
    if count:
        names = {
            name for _user, name in selectors.licence_names_of_users(link.reseller, link.customer, user_ids)
        }
        assert names == {"Teams", "Office Suite"}
        names = {
            name for _user, name in selectors.licence_names_of_users(link.customer, link.customer, user_ids)
        }
        assert names == {"Teams", "Office Suite", "Another reseller's"}
    assert selectors.licence_names_of_users(link.reseller, link.customer, []) == []


def test_the_licences_of_a_page_of_users_are_one_statement_whatever_the_number_of_users(link, office):
    users = list(selectors.tenant_user_rows(link.customer).order_by("user_principal_name"))
    statements: dict[str, set] = {}
    for side, organization in (("customer", link.customer), ("reseller", link.reseller)):
        found = statements[side] = set()

        def recorded(execute, sql, params, many, context, found=found):
            found.add((sql, len(params)))
            return execute(sql, params, many, context)

        for page in (users[:1], users):
            with connection.execute_wrapper(recorded):
                selectors.licence_names_of_users(organization, link.customer, [user.pk for user in page])

    # one statement a side, the same for one user and for three: the ids are one array parameter
    assert {side: len(found) for side, found in statements.items()} == {"customer": 1, "reseller": 1}


def test_a_resellers_users_page_costs_a_constant_number_of_queries(client, link, office):
    client = signed_in(client, link.reseller_agent)
    client.get(partner_url("users", link))
    with CaptureQueriesContext(connection) as few:
        client.get(partner_url("users", link))
    for number in range(30):
        LicenceAssignmentFactory(
            subscription=office, directory_user=tenant_user(link.customer, f"n{number:02d}")
        )

    with CaptureQueriesContext(connection) as many:
        response = client.get(partner_url("users", link))

    assert len(response.context["rows"]) == 33
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.parametrize("count", [0, 3, CHOOSER_SIZE + 1])
def test_the_resellers_list_of_subscriptions_is_the_one_the_queryset_gives(link, count):
    seat_based, by_usage = OfferFactory(seat_based=True), OfferFactory(seat_based=False)
    statuses = [SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELLED, SubscriptionStatus.SUSPENDED]
    for number in range(count):
        SubscriptionFactory(
            customer=link.customer, reseller=link.reseller, provider=link.provider,
            offer=by_usage if number % 5 == 4 else seat_based, name=f"Suite {number % 6:03d}",
            status=statuses[number % 3],
        )  # fmt: skip
    # the customer's subscription through another reseller, and another customer's through this one
    SubscriptionFactory(customer=link.customer, reseller=commerce_linked(customer=link.customer).reseller)
    SubscriptionFactory(
        customer=commerce_linked(link.reseller).customer, reseller=link.reseller, offer=seat_based
    )
    expected = list(
        selectors.licence_chooser(
            selectors.licence_subscriptions_of(link.reseller, link.customer), count=CHOOSER_SIZE + 1
        )
    )

    rows = selectors.licence_chooser_first(link.reseller, link.customer, count=CHOOSER_SIZE + 1)

    assert [(row.pk, row.name, row.status, row.seats, row.public_id) for row in rows] == [
        (row.pk, row.name, row.status, row.seats, row.public_id) for row in expected
    ]
    assert len(rows) == min(count - count // 5, CHOOSER_SIZE + 1)
    assert selectors.licence_chooser_first(link.customer, link.customer, count=CHOOSER_SIZE + 1) == list(
        selectors.licence_chooser(
            selectors.licence_subscriptions_of(link.customer, link.customer), count=CHOOSER_SIZE + 1
        )
    )
