"""The Customers page and the expiry radar print their rows through ``{% memo %}`` (portal/memo.py, issue 12):
a second request is read from the memo and is the same page, and a row whose data changed (its name, its
delegated admin access, a subscription's seats or status, a role request) shows the new values at once."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from commerce.models import Subscription, SubscriptionStatus
from customers.models import (
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    DelegatedRole,
)
from portal.memo import memo
from tests.factories.accounts import MembershipFactory
from tests.factories.commerce import SubscriptionFactory, commerce_linked
from tests.factories.customers import CustomerFactory, customer_linked
from tests.factories.providers import ProviderFactory, ResellerFactory
from tests.support.pages import body_of

pytestmark = pytest.mark.django_db


def url(name, organization):
    return reverse(f"customers:{name}", kwargs={"organization_public_id": organization.public_id})


def row_of(body: str, name: str) -> str:
    """The markup of the Customers row of the customer named ``name``."""
    [row] = [row for row in body.split('<li class="customer-row')[1:] if f"<bdi>{name}</bdi>" in row]
    return row


@pytest.fixture
def shop():
    """A reseller with three customers shared with one provider, each with a subscription, and the
    people who read the page on each side."""
    reseller = ResellerFactory(legal_name="Contoso Japan KK")
    provider = ProviderFactory(legal_name="Blue Yonder Distribution")
    links = [
        commerce_linked(
            reseller, provider, customer=CustomerFactory(legal_name=name), ends_in=timedelta(days=days)
        )
        for name, days in (("Alpine Ski House KK", 10), ("Fabrikam KK", 200), ("Northwind Traders KK", 90))
    ]
    for link in links:
        SubscriptionFactory(
            customer=link.customer, reseller=reseller, provider=provider, name="Cloud Suite", seats=5
        )
    return links


@pytest.mark.parametrize("side", ["reseller", "provider"])
def test_the_second_request_of_the_customers_page_is_read_from_the_memo_and_is_the_same_page(
    client, shop, side
):
    organization = getattr(shop[0], side)
    client.force_login(MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN]).user)
    first = body_of(client.get(url("list", organization)))
    rows = first.count('<li class="customer-row')
    assert rows == 3

    hits = memo.hits
    second = body_of(client.get(url("list", organization)))

    assert memo.hits - hits >= rows
    assert second == first


def test_a_row_shows_its_changed_data_on_the_next_request(client, shop):
    alpine, fabrikam, northwind = shop
    reseller = alpine.reseller
    client.force_login(MembershipFactory(organization=reseller, roles=[Role.GLOBAL_ADMIN]).user)
    before = body_of(client.get(url("list", reseller)))
    assert "5 seats" in row_of(before, "Alpine Ski House KK")
    assert "Delegated admin ends in 10 days" in row_of(before, "Alpine Ski House KK")
    assert "Role request awaiting approval" not in row_of(before, "Fabrikam KK")
    assert "(needs the" not in row_of(before, "Alpine Ski House KK")

    # a new name, a subscription's seats and status, the access's roles and end, a role request
    CustomerRelationship.objects.filter(pk=northwind.relationship.pk).update(
        customer_name="Northwind Retail KK"
    )
    Subscription.objects.filter(customer=alpine.customer).update(
        seats=12, status=SubscriptionStatus.SUSPENDED
    )
    DelegatedAdminRelationship.objects.filter(pk=alpine.delegated_admin.pk).update(
        roles=[DelegatedRole.GLOBAL_READER], ends_at=timezone.now() + timedelta(days=3, hours=1)
    )
    DelegatedAdminRelationship.objects.create(
        customer=fabrikam.customer,
        partner=reseller,
        roles=[DelegatedRole.USER_ADMIN],
        duration_days=90,
        status=DelegatedAdminStatus.APPROVAL_PENDING,
    )
    after = body_of(client.get(url("list", reseller)))

    assert "Northwind Traders KK" not in after
    assert "<bdi>Northwind Retail KK</bdi>" in after
    alpine_row = row_of(after, "Alpine Ski House KK")
    assert '12 seats</span> · <span class="nowrap">Suspended' in alpine_row
    assert "Delegated admin ends in 4 days" in alpine_row
    assert "<li>Global reader</li>" in alpine_row and "<li>License administrator</li>" not in alpine_row
    assert "(needs the License administrator role)" in alpine_row
    fabrikam_row = row_of(after, "Fabrikam KK")
    assert '<span class="badge badge--pending">Role request awaiting approval</span>' in fabrikam_row
    assert "<dt>Requested roles</dt><dd><ul" in fabrikam_row.replace("\n          ", "")


def test_a_row_reads_in_the_language_of_each_request(client, shop):
    reseller = shop[0].reseller
    client.force_login(MembershipFactory(organization=reseller, roles=[Role.GLOBAL_ADMIN]).user)
    english = body_of(client.get(url("list", reseller)))
    client.cookies["portal_language"] = "ja"
    japanese = body_of(client.get(url("list", reseller)))
    del client.cookies["portal_language"]

    assert "Delegated admin ends in 10 days" in english
    assert "Delegated admin ends in 10 days" not in japanese
    assert "サブスクリプション" in japanese
    assert body_of(client.get(url("list", reseller))) == english


def test_the_second_request_of_the_expiry_radar_is_read_from_the_memo_and_shows_changes(client):
    reseller = ResellerFactory()
    client.force_login(MembershipFactory(organization=reseller, roles=[Role.GLOBAL_ADMIN]).user)
    accesses = [
        customer_linked(reseller, CustomerFactory(legal_name=name), ends_in=timedelta(days=days))[2]
        for name, days in (("Soon KK", 5), ("Later KK", 20))
    ]
    first = body_of(client.get(url("expiring", reseller)))
    assert first.count("<tr") == 3  # the header and two rows

    hits = memo.hits
    assert body_of(client.get(url("expiring", reseller))) == first
    assert memo.hits - hits >= 2

    DelegatedAdminRelationship.objects.filter(pk=accesses[1].pk).update(
        auto_extend=True, ends_at=timezone.now() + timedelta(days=8, hours=1)
    )
    after = body_of(client.get(url("expiring", reseller)))
    later = after.split("<bdi>Later KK</bdi>")[1].split("</tr>")[0]
    assert "in 9 days" in later and "Yes: 180 more days" in later
    assert "in 21 days" not in after


# --- The first page, its query compiled once (customers.partner_selectors.customer_list_first) --------


@pytest.mark.parametrize("count", [0, 2, 50, 51, 53])
@pytest.mark.parametrize("side", ["reseller", "provider"])
def test_the_first_page_is_the_one_keyset_page_gives(side, count):
    from django.http import QueryDict

    from commerce.views.subscriptions import SUBSCRIPTIONS_PER_ROW
    from customers import partner_selectors, selectors
    from customers.views.partner_side import CUSTOMER_ORDERING, customer_rows
    from portal.lists import keyset_first_page, keyset_page

    reseller, provider = ResellerFactory(), ProviderFactory()
    for number in range(count):
        link = commerce_linked(
            reseller, provider, customer=CustomerFactory(legal_name=f"Customer {number % 9:02d}"),
            ends_in=timedelta(days=5 + number), delegated=number % 3 != 0,
        )  # fmt: skip
        for name in ("B Suite", "A Suite", "C Suite", "D Suite")[: number % 5]:
            SubscriptionFactory(customer=link.customer, reseller=reseller, provider=provider, name=name)
    commerce_linked()  # another reseller's and provider's customer
    organization = reseller if side == "reseller" else provider
    query = QueryDict("x=%C3%A9")
    visible = partner_selectors.customer_list_rows(
        selectors.customer_relationships_visible_to(organization), organization
    )
    expected = keyset_page(visible, ordering=CUSTOMER_ORDERING, query=query)

    first = partner_selectors.customer_list_first(organization, ordering=CUSTOMER_ORDERING, count=51)
    page = keyset_first_page(first, ordering=CUSTOMER_ORDERING, query=query)

    assert page == expected
    assert len(page.object_list) == min(count, 50)
    # and what the rows print beside (prepared reads, one array of ids each) is each customer's own
    rows = list(customer_rows(organization, page.object_list))
    for relationship, row in zip(page.object_list, rows, strict=True):
        customer = relationship.customer
        names = sorted(Subscription.objects.filter(customer=customer).values_list("name", flat=True))
        assert [line.name for line in row.subscriptions] == names[:SUBSCRIPTIONS_PER_ROW]
        assert row.subscriptions_more is (len(names) > SUBSCRIPTIONS_PER_ROW)
        live = DelegatedAdminRelationship.objects.filter(customer=customer, partner=organization).first()
        assert (row.delegated_admin is not None) is (live is not None and side == "reseller")
        assert row.provider_names == ((provider.legal_name,) if side == "reseller" else ())
        assert row.reseller_name == ("" if side == "reseller" else reseller.legal_name)
