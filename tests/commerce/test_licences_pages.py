"""Licences, on both sides: the reseller inside its customer with the License administrator delegated role,
and the customer itself. The page (seat-based subscriptions, live first; seats used of total; who holds a
licence, with a constant query count), assign and remove, the refusals (no seat left, a disabled, unknown
or other tenant's user) at the field, the CSV export (formula injection neutralised, only this customer's
rows), lowering seats below the assignments (the order rule names the holders). Denied requests change
nothing."""

import csv
import html
import io
import uuid
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from accounts.models import DirectoryUser
from accounts.organization_views import BYTE_ORDER_MARK
from accounts.roles import Role
from commerce.models import LicenceAssignment, OrderKind, Subscription, SubscriptionStatus
from commerce.services import orders
from customers.models import DelegatedRole
from portal.audit.models import AuditEvent
from portal.errors import DomainError
from portal.mail.models import OutboxEmail
from tests.factories.accounts import DirectoryUserFactory, MembershipFactory
from tests.factories.commerce import (
    LicenceAssignmentFactory,
    OfferFactory,
    SubscriptionFactory,
    commerce_linked,
)
from tests.factories.customers import CustomerFactory
from tests.factories.providers import ResellerFactory

pytestmark = pytest.mark.django_db

EXPORT_HEADER = [
    "subscription",
    "offer_product_code",
    "user_principal_name",
    "display_name",
    "assigned_at_utc",
]


# --- Given ---------------------------------------------------------------------------------------------


@pytest.fixture
def link():
    return commerce_linked(
        ResellerFactory(legal_name="Contoso Japan KK"), customer=CustomerFactory(legal_name="Fabrikam KK")
    )


def domain(customer) -> str:
    return customer.directory_tenant.verified_domains[0]


def tenant_user(customer, name: str, **kwargs) -> DirectoryUser:
    return DirectoryUserFactory(
        tenant=customer.directory_tenant,
        user_principal_name=f"{name}@{domain(customer)}",
        display_name=kwargs.pop("display_name", name.capitalize()),
        **kwargs,
    )


def subscription_of(link, name: str, **kwargs):
    return SubscriptionFactory(
        customer=link.customer, reseller=link.reseller, provider=link.provider, name=name, **kwargs
    )


def partner_url(name: str, link, **kwargs) -> str:
    return reverse(
        f"commerce:customer_{name}",
        kwargs={
            "organization_public_id": link.reseller.public_id,
            "customer_id": link.customer.public_id,
            **kwargs,
        },
    )


def customer_url(name: str, link, **kwargs) -> str:
    return reverse(f"commerce:{name}", kwargs={"organization_public_id": link.customer.public_id, **kwargs})


def signed_in(client, membership):
    client.force_login(membership.user)
    return client


def state():
    """Everything a denied or refused request must leave as it was."""
    return (
        sorted(LicenceAssignment.objects.values_list("pk", "subscription_id", "directory_user_id")),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


def holders(response) -> list[str]:
    return [row.user_principal_name for row in response.context["page"].object_list]


def text(response) -> str:
    return " ".join(html.unescape(strip_tags(response.content.decode())).split())


def flashed(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def exported(response) -> list[list[str]]:
    content = b"".join(response.streaming_content).decode("utf-8")
    assert content.startswith(BYTE_ORDER_MARK)
    return list(csv.reader(io.StringIO(content[len(BYTE_ORDER_MARK) :])))


# --- The page ------------------------------------------------------------------------------------------


def test_the_reseller_sees_the_seat_based_subscriptions_live_first_and_who_holds_the_chosen_ones(
    client, link
):
    ended = subscription_of(link, "Archive Plan", status=SubscriptionStatus.EXPIRED)
    suite = subscription_of(link, "Office Suite", seats=5)
    mail = subscription_of(link, "Mail Plan", seats=3)
    subscription_of(link, "Support Plan", offer=OfferFactory(seat_based=False))
    SubscriptionFactory(customer=link.customer, provider=link.provider, name="Another Reseller's Plan")
    bob, ann = tenant_user(link.customer, "bob"), tenant_user(link.customer, "ann")
    LicenceAssignmentFactory(subscription=suite, directory_user=bob)
    LicenceAssignmentFactory(subscription=suite, directory_user=ann)
    LicenceAssignmentFactory(subscription=mail, directory_user=ann)
    client = signed_in(client, link.reseller_agent)

    response = client.get(partner_url("licences", link))

    assert response.status_code == 200
    assert [row.name for row in response.context["subscriptions"]] == [
        "Mail Plan",
        "Office Suite",
        "Archive Plan",
    ]
    assert response.context["chosen"] == mail
    assert holders(response) == [ann.user_principal_name]
    page = text(response)
    assert "Seats in use 1 of 3" in page
    assert (
        "You act in Fabrikam KK's tenant as Contoso Japan KK with the License administrator delegated admin "
        "role." in page
    )
    body = response.content.decode()
    assert f'href="{partner_url("licences", link)}?subscription={suite.public_id}"' in body
    assert f'href="{partner_url("licences_export", link)}"' in body
    assert f'Remove<span class="visually-hidden"> {ann.user_principal_name}</span>' in body

    chosen = client.get(partner_url("licences", link), {"subscription": str(suite.public_id)})

    assert chosen.context["chosen"] == suite
    assert holders(chosen) == [ann.user_principal_name, bob.user_principal_name]
    assert "Seats in use 2 of 5" in text(chosen)
    assert (
        client.get(partner_url("licences", link), {"subscription": str(ended.public_id)}).status_code == 200
    )
    # Another reseller's subscription, an unknown one and a malformed id: not a page.
    for unknown in (
        str(SubscriptionFactory(customer=link.customer, provider=link.provider).public_id),
        str(uuid.uuid4()),
        "not-an-id",
    ):
        assert client.get(partner_url("licences", link), {"subscription": unknown}).status_code == 404


@pytest.mark.parametrize("count", [10, 100])
def test_the_licences_page_costs_the_same_number_of_queries_whatever_the_number_of_holders(
    client, link, django_assert_num_queries, count
):
    subscription = subscription_of(link, "Office Suite", seats=200)
    for number in range(count):
        LicenceAssignmentFactory(
            subscription=subscription, directory_user=tenant_user(link.customer, f"u{number:03d}")
        )
    client = signed_in(client, link.reseller_agent)
    client.get(partner_url("licences", link))

    # the relationship selector's checks asked once per request (customers.selectors.PartnerAnswers)
    with django_assert_num_queries(7):
        response = client.get(partner_url("licences", link))

    assert len(holders(response)) == min(count, 50)
    assert response.context["chosen"].assigned == count


def test_a_customer_with_more_subscriptions_than_the_page_lists_gets_a_search_for_them(client, link):
    # 52 seat-based subscriptions of one offer (50 listed, live first, by name), an expired one, and
    # one another offer sells: the page lists 50 and offers the search.
    suite = OfferFactory(name="Cloud Suite", product_code="SUITE-E3")
    for number in range(52):
        subscription_of(link, f"Suite {number:03d}", offer=suite)
    archive = subscription_of(link, "Archive 001", offer=suite, status=SubscriptionStatus.EXPIRED)
    mail = subscription_of(
        link, "Team Mailboxes", offer=OfferFactory(name="Mail Plan", product_code="MAIL-9")
    )
    client = signed_in(client, link.reseller_agent)

    response = client.get(partner_url("licences", link))

    assert response.status_code == 200
    listed = [row.name for row in response.context["subscriptions"]]
    assert listed == [f"Suite {number:03d}" for number in range(50)]
    assert response.context["chosen"].name == "Suite 000"
    assert response.context["find_form"] is not None and response.context["more_subscriptions"]
    page = text(response)
    assert "Only the first 50 subscriptions are listed: search to find the others." in page
    assert "Find a subscription" in page
    body = response.content.decode()
    assert f'<form method="get" action="{partner_url("licences", link)}"' in body

    # By the offer's name, its product code, the subscription's name: the matches, live first.
    by_offer = client.get(partner_url("licences", link), {"q": "mail plan"})
    by_code = client.get(partner_url("licences", link), {"q": "mail-9"})
    by_name = client.get(partner_url("licences", link), {"q": " 001 "})

    assert [row.name for row in by_offer.context["subscriptions"]] == ["Team Mailboxes"]
    assert by_offer.context["chosen"] == mail and not by_offer.context["more_subscriptions"]
    assert [row.name for row in by_code.context["subscriptions"]] == ["Team Mailboxes"]
    assert [row.name for row in by_name.context["subscriptions"]] == ["Suite 001", "Archive 001"]
    # the links of the found subscriptions keep the search
    found = by_name.content.decode()
    archive_link = f"{partner_url('licences', link)}?subscription={archive.public_id}&amp;q=001"
    assert f'href="{archive_link}"' in found
    assert "Clear the search" in text(by_name)

    # A subscription beyond the list is still a page of its own; nothing found says so.
    beyond = Subscription.objects.get(customer=link.customer, name="Suite 051")
    chosen = client.get(partner_url("licences", link), {"subscription": str(beyond.public_id)})
    nothing = client.get(partner_url("licences", link), {"q": "no such plan"})

    assert chosen.status_code == 200 and chosen.context["chosen"] == beyond
    assert "Suite 051" not in [row.name for row in chosen.context["subscriptions"]]
    assert nothing.status_code == 200
    assert nothing.context["subscriptions"] == [] and nothing.context["chosen"] is None
    assert "No subscription matches this search." in text(nothing)


def test_a_one_character_search_is_refused_at_its_field_and_the_list_stays_unfiltered(client, link):
    for number in range(51):
        subscription_of(link, f"Suite {number:03d}")
    client = signed_in(client, link.customer_admin)

    response = client.get(customer_url("licences", link), {"q": " x "})

    assert response.status_code == 400
    assert response.context["find_form"].errors == {"q": ["Type at least 2 characters of the name."]}
    assert 'id="id_q_error"' in response.content.decode()
    # The list below stays (unfiltered), so no "correct the search to see the list"; a way back is offered.
    assert "Correct the search to see the list." not in text(response)
    assert f'<a href="{customer_url("licences", link)}">Clear the search</a>' in response.content.decode()
    assert len(response.context["subscriptions"]) == 50
    assert response.context["chosen"].name == "Suite 000"


@pytest.mark.parametrize("count", [3, 80])
def test_the_licences_page_costs_the_same_number_of_queries_whatever_the_number_of_subscriptions(
    client, link, django_assert_num_queries, count
):
    offer = OfferFactory()
    for number in range(count):
        subscription_of(link, f"Suite {number:03d}", offer=offer)
    client = signed_in(client, link.reseller_agent)
    client.get(partner_url("licences", link))

    with django_assert_num_queries(7):
        response = client.get(partner_url("licences", link))

    assert len(response.context["subscriptions"]) == min(count, 50)
    with django_assert_num_queries(7):
        client.get(partner_url("licences", link), {"q": "suite 00"})


def test_the_customer_sees_all_its_subscriptions_without_the_partner_banner(client, link):
    subscription_of(link, "Office Suite")
    SubscriptionFactory(customer=link.customer, provider=link.provider, name="Another Reseller's Plan")

    response = signed_in(client, link.customer_admin).get(customer_url("licences", link))

    assert response.status_code == 200
    assert [row.name for row in response.context["subscriptions"]] == [
        "Another Reseller's Plan",
        "Office Suite",
    ]
    assert "You act in" not in text(response)


# --- Assign and remove ---------------------------------------------------------------------------------


def test_the_reseller_assigns_a_licence_and_the_audit_row_names_it(client, link):
    subscription = subscription_of(link, "Office Suite", seats=2)
    ann = tenant_user(link.customer, "ann")
    client = signed_in(client, link.reseller_agent)

    response = client.post(
        partner_url("licence_assign", link),
        {"subscription": str(subscription.public_id), "user_principal_name": ann.user_principal_name.upper()},
    )

    assert response.status_code == 302
    assert response["Location"] == f"{partner_url('licences', link)}?subscription={subscription.public_id}"
    assert flashed(response) == [f"{ann.user_principal_name} now holds a licence of Office Suite."]
    assignment = LicenceAssignment.objects.get()
    assert (
        assignment.subscription,
        assignment.directory_user,
        assignment.customer,
        assignment.assigned_by,
    ) == (
        subscription,
        ann,
        link.customer,
        link.reseller_agent.user,
    )
    row = AuditEvent.objects.get(action="licence.assigned", organization_id=link.customer.pk)
    assert row.after == {
        "subscription": "Office Suite",
        "user_principal_name": ann.user_principal_name,
        "customer": "Fabrikam KK",
        "acting_partner": "Contoso Japan KK",
    }
    assert AuditEvent.objects.filter(action="licence.assigned", organization_id=link.reseller.pk).count() == 1
    assert holders(client.get(response["Location"])) == [ann.user_principal_name]


def test_the_reseller_removes_a_licence_and_its_seat_is_free_again(client, link):
    subscription = subscription_of(link, "Office Suite", seats=1)
    ann = tenant_user(link.customer, "ann")
    assignment = LicenceAssignmentFactory(subscription=subscription, directory_user=ann)
    client = signed_in(client, link.reseller_agent)

    response = client.post(partner_url("licence_remove", link, assignment_id=assignment.public_id))

    assert response.status_code == 302
    assert response["Location"] == f"{partner_url('licences', link)}?subscription={subscription.public_id}"
    assert flashed(response) == [
        f"{ann.user_principal_name} no longer holds this licence: its seat is free again."
    ]
    assert not LicenceAssignment.objects.exists()
    row = AuditEvent.objects.get(action="licence.removed", organization_id=link.customer.pk)
    assert row.after == {"acting_partner": "Contoso Japan KK"}
    # The seat is free: another user gets it.
    bob = tenant_user(link.customer, "bob")
    client.post(
        partner_url("licence_assign", link),
        {"subscription": str(subscription.public_id), "user_principal_name": bob.user_principal_name},
    )
    assert list(LicenceAssignment.objects.values_list("directory_user", flat=True)) == [bob.pk]


def test_the_customer_assigns_and_removes_its_own_licences_with_no_partner_named(client, link):
    subscription = subscription_of(link, "Office Suite", seats=2)
    ann = tenant_user(link.customer, "ann")
    client = signed_in(client, link.customer_admin)

    assigned = client.post(
        customer_url("licence_assign", link),
        {"subscription": str(subscription.public_id), "user_principal_name": ann.user_principal_name},
    )
    assert assigned["Location"] == f"{customer_url('licences', link)}?subscription={subscription.public_id}"
    assignment = LicenceAssignment.objects.get()
    removed = client.post(customer_url("licence_remove", link, assignment_id=assignment.public_id))

    assert removed.status_code == 302
    assert not LicenceAssignment.objects.exists()
    rows = AuditEvent.objects.filter(organization_id=link.customer.pk).order_by("id")
    assert [(row.action, "acting_partner" in (row.after or {})) for row in rows] == [
        ("licence.assigned", False),
        ("licence.removed", False),
    ]
    assert not AuditEvent.objects.filter(organization_id=link.reseller.pk).exists()


def test_a_full_subscription_refuses_another_licence_with_the_reason_at_the_field(client, link):
    subscription = subscription_of(link, "Office Suite", seats=1)
    LicenceAssignmentFactory(subscription=subscription, directory_user=tenant_user(link.customer, "ann"))
    bob = tenant_user(link.customer, "bob")
    client = signed_in(client, link.reseller_agent)
    before = state()

    response = client.post(
        partner_url("licence_assign", link),
        {"subscription": str(subscription.public_id), "user_principal_name": bob.user_principal_name},
    )

    assert response.status_code == 400
    message = (
        "All 1 seats of Office Suite are assigned. Remove a licence, or order more seats from the provider."
    )
    assert response.context["assign_form"].errors == {"user_principal_name": [message]}
    assert 'id="id_user_principal_name_error"' in response.content.decode()
    assert response.context["chosen"] == subscription
    assert state() == before


@pytest.mark.parametrize("who", ["disabled", "unknown", "another tenant's", "already holding"])
def test_a_licence_for_a_user_who_cannot_have_it_is_refused_at_the_field(client, link, who):
    subscription = subscription_of(link, "Office Suite", seats=5)
    ann = tenant_user(link.customer, "ann")
    LicenceAssignmentFactory(subscription=subscription, directory_user=ann)
    name, message = {
        "disabled": (
            tenant_user(link.customer, "bob", status=DirectoryUser.Status.DISABLED).user_principal_name,
            f"bob@{domain(link.customer)} is disabled. Enable the user before assigning a licence.",
        ),
        "unknown": (
            f"nobody@{domain(link.customer)}",
            "No user of the customer's tenant has this name. Check the spelling, or add the user first.",
        ),
        "another tenant's": (
            DirectoryUserFactory(tenant=CustomerFactory().directory_tenant).user_principal_name,
            "No user of the customer's tenant has this name. Check the spelling, or add the user first.",
        ),
        "already holding": (
            ann.user_principal_name,
            f"{ann.user_principal_name} already has a licence of Office Suite.",
        ),
    }[who]
    before = state()

    response = signed_in(client, link.reseller_agent).post(
        partner_url("licence_assign", link),
        {"subscription": str(subscription.public_id), "user_principal_name": name},
    )

    assert response.status_code == 400
    assert response.context["assign_form"].errors == {"user_principal_name": [message]}
    assert state() == before


def test_an_empty_assignment_is_refused_at_the_field_and_another_resellers_subscription_is_404(client, link):
    subscription = subscription_of(link, "Office Suite")
    other = SubscriptionFactory(customer=link.customer, provider=link.provider)
    ann = tenant_user(link.customer, "ann")
    client = signed_in(client, link.reseller_agent)
    before = state()

    empty = client.post(partner_url("licence_assign", link), {"subscription": str(subscription.public_id)})
    foreign = client.post(
        partner_url("licence_assign", link),
        {"subscription": str(other.public_id), "user_principal_name": ann.user_principal_name},
    )

    assert empty.status_code == 400
    assert list(empty.context["assign_form"].errors) == ["user_principal_name"]
    assert foreign.status_code == 404
    assert state() == before

    foreign_licence = LicenceAssignmentFactory(subscription=other, directory_user=ann)
    before = state()

    removal = client.post(partner_url("licence_remove", link, assignment_id=foreign_licence.public_id))

    assert removal.status_code == 404
    assert state() == before


# --- Denied ---------------------------------------------------------------------------------------------


def test_a_reseller_without_the_license_administrator_role_gets_403_naming_it_and_nothing_changes(client):
    link = commerce_linked(roles=[DelegatedRole.USER_ADMIN])
    subscription = subscription_of(link, "Office Suite")
    ann = tenant_user(link.customer, "ann")
    bob = tenant_user(link.customer, "bob")
    assignment = LicenceAssignmentFactory(subscription=subscription, directory_user=bob)
    client = signed_in(client, link.reseller_agent)
    before = state()

    responses = [
        client.get(partner_url("licences", link)),
        client.get(partner_url("licences_export", link)),
        client.post(
            partner_url("licence_assign", link),
            {"subscription": str(subscription.public_id), "user_principal_name": ann.user_principal_name},
        ),
        client.post(partner_url("licence_remove", link, assignment_id=assignment.public_id)),
    ]

    assert [response.status_code for response in responses] == [403, 403, 403, 403]
    page = text(responses[0])
    assert "This needs the License administrator role" in page
    assert "Assign and remove licences of your subscriptions to your users." in page
    assert state() == before


def test_an_expired_license_administrator_role_is_refused(client, link):
    subscription = subscription_of(link, "Office Suite")
    ann = tenant_user(link.customer, "ann")
    now = timezone.now()
    type(link.delegated_admin).objects.filter(pk=link.delegated_admin.pk).update(
        starts_at=now - timedelta(days=30), ends_at=now - timedelta(seconds=1)
    )
    client = signed_in(client, link.reseller_agent)
    before = state()

    listing = client.get(partner_url("licences", link))
    assigning = client.post(
        partner_url("licence_assign", link),
        {"subscription": str(subscription.public_id), "user_principal_name": ann.user_principal_name},
    )

    assert (listing.status_code, assigning.status_code) == (403, 403)
    assert state() == before


def test_a_reseller_member_who_only_views_customers_sees_licences_without_the_actions(client, link):
    subscription = subscription_of(link, "Office Suite")
    ann = tenant_user(link.customer, "ann")
    assignment = LicenceAssignmentFactory(subscription=subscription, directory_user=ann)
    client = signed_in(client, MembershipFactory(organization=link.reseller, roles=[Role.HELPDESK_AGENT]))

    response = client.get(partner_url("licences", link))

    assert response.status_code == 200
    assert holders(response) == [ann.user_principal_name]
    assert response.context["assign_form"] is None
    assert (
        partner_url("licence_remove", link, assignment_id=assignment.public_id)
        not in response.content.decode()
    )
    before = state()
    assert (
        client.post(partner_url("licence_remove", link, assignment_id=assignment.public_id)).status_code
        == 403
    )
    assert state() == before


# --- CSV export ----------------------------------------------------------------------------------------


def test_the_export_lists_every_licence_of_this_customer_with_formulas_neutralised(client, link):
    suite = subscription_of(link, "Office Suite", offer=OfferFactory(product_code="OFFICE-E3"))
    mail = subscription_of(link, "=Mail Plan", offer=OfferFactory(product_code="MAIL-01"))
    ann = tenant_user(link.customer, "ann", display_name='=HYPERLINK("http://evil.example")')
    bob = tenant_user(link.customer, "bob", display_name="Bob 佐藤")
    assigned_at = timezone.now().replace(microsecond=0) - timedelta(days=2)
    LicenceAssignmentFactory(subscription=suite, directory_user=bob, assigned_at=assigned_at)
    LicenceAssignmentFactory(subscription=suite, directory_user=ann, assigned_at=assigned_at)
    LicenceAssignmentFactory(subscription=mail, directory_user=ann, assigned_at=assigned_at)
    # Another customer's licence, and one of another reseller's subscription of this customer.
    LicenceAssignmentFactory(subscription=SubscriptionFactory(name="Elsewhere Suite"))
    LicenceAssignmentFactory(
        subscription=SubscriptionFactory(
            customer=link.customer, provider=link.provider, name="Other Reseller Plan"
        ),
        directory_user=bob,
    )
    stamp = assigned_at.isoformat()

    response = signed_in(client, link.reseller_agent).get(partner_url("licences_export", link))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="licences-{link.customer.public_id}.csv"'
    assert exported(response) == [
        EXPORT_HEADER,
        ["'=Mail Plan", "MAIL-01", ann.user_principal_name, '\'=HYPERLINK("http://evil.example")', stamp],
        ["Office Suite", "OFFICE-E3", ann.user_principal_name, '\'=HYPERLINK("http://evil.example")', stamp],
        ["Office Suite", "OFFICE-E3", bob.user_principal_name, "Bob 佐藤", stamp],
    ]


def test_the_customer_exports_all_of_its_licences(client, link):
    suite = subscription_of(link, "Office Suite", offer=OfferFactory(product_code="OFFICE-E3"))
    other = SubscriptionFactory(
        customer=link.customer,
        provider=link.provider,
        name="Other Plan",
        offer=OfferFactory(product_code="OTHER-1"),
    )
    ann = tenant_user(link.customer, "ann", display_name="Ann")
    first = LicenceAssignmentFactory(subscription=suite, directory_user=ann)
    second = LicenceAssignmentFactory(subscription=other, directory_user=ann)
    LicenceAssignmentFactory(subscription=SubscriptionFactory(name="Elsewhere Suite"))

    response = signed_in(client, link.customer_admin).get(customer_url("licences_export", link))

    assert exported(response) == [
        EXPORT_HEADER,
        ["Office Suite", "OFFICE-E3", ann.user_principal_name, "Ann", first.assigned_at.isoformat()],
        ["Other Plan", "OTHER-1", ann.user_principal_name, "Ann", second.assigned_at.isoformat()],
    ]


# --- Lowering seats below the assignments (an order rule) ---------------------------------------------


def test_lowering_seats_below_the_assignments_is_refused_naming_who_holds_them(link):
    subscription = subscription_of(link, "Office Suite", seats=3)
    names = ["carol", "ann", "bob"]
    for name in names:
        LicenceAssignmentFactory(subscription=subscription, directory_user=tenant_user(link.customer, name))
    d = domain(link.customer)
    before = state()

    with pytest.raises(DomainError) as refused:
        orders.order_submit(
            by=link.provider_agent,
            customer=link.customer,
            reseller=link.reseller,
            kind=OrderKind.SEATS,
            subscription=subscription,
            seats=2,
            idempotency_key=uuid.uuid4(),
        )

    assert refused.value.code == "seats_below_assignments"
    assert refused.value.message == (
        f"3 licences of Office Suite are assigned, more than 2 seats, to: ann@{d}, bob@{d}, carol@{d}. "
        "Remove licences first."
    )
    subscription.refresh_from_db()
    assert subscription.seats == 3
    assert state() == before
