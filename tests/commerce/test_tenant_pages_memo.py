"""The Licences and Tenant users pages print their rows through ``{% memo %}`` (portal/memo.py, issue 12),
on the customer's side and on its reseller's: a second request is read from the memo and is the same page
byte for byte (each response's CSRF token apart: the rows' forms keep it outside the memo), and a change of
a row's data shows in the next response."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import DirectoryUser
from accounts.roles import Role
from commerce.models import LicenceAssignment
from portal.memo import memo
from tests.commerce.test_users_pages import customer_url, partner_url, signed_in, tenant_user
from tests.factories.accounts import MembershipFactory
from tests.factories.commerce import LicenceAssignmentFactory, SubscriptionFactory, commerce_linked
from tests.factories.customers import CustomerFactory
from tests.factories.providers import ResellerFactory
from tests.support.pages import CSRF_TOKEN, csrf_masked

pytestmark = pytest.mark.django_db


@pytest.fixture
def link():
    return commerce_linked(
        ResellerFactory(legal_name="Contoso Japan KK"), customer=CustomerFactory(legal_name="Fabrikam KK")
    )


@pytest.fixture
def office(link):
    """Office Suite (10 seats), held by ann, bob (disabled) and carol."""
    subscription = SubscriptionFactory(
        customer=link.customer, reseller=link.reseller, provider=link.provider, name="Office Suite", seats=10
    )
    for name in ("ann", "bob", "carol"):
        status = DirectoryUser.Status.DISABLED if name == "bob" else DirectoryUser.Status.ACTIVE
        holder = tenant_user(link.customer, name, status=status, contact_email=f"{name}@example.com")
        LicenceAssignmentFactory(subscription=subscription, directory_user=holder)
    return subscription


def tokens(response) -> list[str]:
    """The CSRF tokens of the page's table (the shell's own forms apart)."""
    body = response.content.decode()
    return CSRF_TOKEN.findall(body[body.index("<table") : body.index("</table>")])


def masked(response) -> str:
    return csrf_masked(response.content.decode())


def url_of(side: str, name: str, link) -> str:
    return customer_url(name, link) if side == "customer" else partner_url(name, link)


# --- Licences --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["customer", "partner"])
def test_the_second_request_of_the_licences_page_is_read_from_the_memo_and_is_the_same_page(
    client, link, office, side
):
    member = link.customer_admin if side == "customer" else link.reseller_agent
    client = signed_in(client, member)
    url = url_of(side, "licences", link)
    memo.clear()
    first = client.get(url)
    hits = memo.hits

    second = client.get(url)

    assert (first.status_code, second.status_code) == (200, 200)
    assert len(second.context["rows"]) == 3
    assert memo.hits - hits >= 3  # every row (twice: before and after its form's token), the list, the shell
    assert masked(second) == masked(first)
    # the rows' Remove forms carry this response's own token, never one from the memo
    assert len(tokens(second)) == 3
    assert set(tokens(second)).isdisjoint(tokens(first))


def test_a_renamed_disabled_or_removed_holder_shows_in_the_next_licences_page(client, link, office):
    client = signed_in(client, link.customer_admin)
    url = customer_url("licences", link)
    before = client.get(url).content.decode()
    assert "<bdi>Ann</bdi></td>" in before and "Seats in use" in before
    ann = DirectoryUser.objects.get(user_principal_name__startswith="ann@")
    carol = DirectoryUser.objects.get(user_principal_name__startswith="carol@")

    DirectoryUser.objects.filter(pk=ann.pk).update(
        display_name="Ann Lee", status=DirectoryUser.Status.DISABLED
    )
    LicenceAssignment.objects.filter(directory_user=carol).delete()
    after = client.get(url)

    body = after.content.decode()
    assert "<bdi>Ann</bdi></td>" not in body
    assert (
        '<td class="table__name"><bdi>Ann Lee</bdi> <span class="badge badge--disabled">Disabled</span></td>'
        in body
    )
    assert carol.user_principal_name not in body
    assert [row.user_principal_name for row in after.context["rows"]] == [
        ann.user_principal_name,
        DirectoryUser.objects.get(user_principal_name__startswith="bob@").user_principal_name,
    ]
    assert after.context["chosen"].assigned == 2


def test_a_member_who_only_views_licences_gets_the_rows_from_the_memo_without_actions(client, link, office):
    client = signed_in(client, MembershipFactory(organization=link.reseller, roles=[Role.HELPDESK_AGENT]))
    url = partner_url("licences", link)
    memo.clear()
    first = client.get(url)
    hits = memo.hits

    second = client.get(url)

    assert memo.hits - hits >= 3
    assert masked(second) == masked(first)
    assert tokens(second) == []
    assert "Remove" not in second.content.decode()


# --- Tenant users ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["customer", "partner"])
def test_the_second_request_of_the_users_page_is_read_from_the_memo_and_is_the_same_page(
    client, link, office, side
):
    tenant_user(link.customer, "dan", is_global_admin=True, contact_email="dan@example.com")
    DirectoryUser.objects.filter(user_principal_name__startswith="carol@").update(
        setup_token_hash="pending", setup_expires_at=timezone.now() + timedelta(days=3)
    )
    member = link.customer_admin if side == "customer" else link.reseller_agent
    client = signed_in(client, member)
    url = url_of(side, "users", link)
    memo.clear()
    first = client.get(url)
    hits = memo.hits

    second = client.get(url)

    assert (first.status_code, second.status_code) == (200, 200)
    assert len(second.context["rows"]) == 4
    assert memo.hits - hits >= 4
    assert masked(second) == masked(first)
    # Disable or Enable for each of the four; a new set-up link for ann and carol (active, with a contact
    # email), and for the Global Administrator dan on the customer's side only
    assert len(tokens(second)) == (7 if side == "customer" else 6)
    assert set(tokens(second)).isdisjoint(tokens(first))
    assert "Set-up link sent; it expires" in second.content.decode()


def test_a_renamed_disabled_or_newly_licensed_user_shows_in_the_next_users_page(client, link, office):
    client = signed_in(client, link.customer_admin)
    url = customer_url("users", link)
    before = client.get(url)
    ann = DirectoryUser.objects.get(user_principal_name__startswith="ann@")
    rows = {row.user_principal_name: row for row in before.context["rows"]}
    assert (rows[ann.user_principal_name].display_name, rows[ann.user_principal_name].status) == (
        "Ann",
        "active",
    )
    mail = SubscriptionFactory(
        customer=link.customer, reseller=link.reseller, provider=link.provider, name="Mail Plan", seats=5
    )

    DirectoryUser.objects.filter(pk=ann.pk).update(
        display_name="Ann Lee", status=DirectoryUser.Status.DISABLED
    )
    LicenceAssignmentFactory(subscription=mail, directory_user=ann)
    after = client.get(url)

    body = after.content.decode()
    assert '<th scope="row" class="table__name"><bdi>Ann Lee</bdi></th>' in body
    assert "<bdi>Ann</bdi>" not in body
    assert (
        '<td class="table__licences"><ul class="customer-plain-list"><li><bdi>Mail Plan</bdi></li>'
        "<li><bdi>Office Suite</bdi></li></ul></td>" in body
    )
    assert f'Enable<span class="visually-hidden"> {ann.user_principal_name}</span>' in body
    assert f'Disable<span class="visually-hidden"> {ann.user_principal_name}</span>' not in body
    rows = {row.user_principal_name: row for row in after.context["rows"]}
    assert rows[ann.user_principal_name].licence_names == ("Mail Plan", "Office Suite")
    assert rows[ann.user_principal_name].status == "disabled"
