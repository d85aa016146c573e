"""The users of a customer's built-in tenant, on both sides: the reseller inside its customer with the
User administrator delegated role, and the customer's own administrators. List (search, licences held,
constant query count), Add user (set-up email in the chosen language, the link sealed), Disable and
Enable; a partner never disables a Global Administrator. Without the role, with an expired role, without
the relationship, without the permission: denied, and nothing changed (audit and outbox included)."""

import html
import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from accounts.models import DirectoryTenantSource, DirectoryUser
from accounts.roles import Role
from accounts.services.directory import directory_user_setup_find
from commerce.services.users import TENANT_NOT_MANAGED_HERE
from customers.models import (
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedRole,
    RelationshipStatus,
)
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from tests.factories.accounts import DirectoryUserFactory, MembershipFactory
from tests.factories.commerce import LicenceAssignmentFactory, SubscriptionFactory, commerce_linked
from tests.factories.customers import CustomerFactory
from tests.factories.providers import ResellerFactory
from tests.mail import email_text

pytestmark = pytest.mark.django_db

SETUP_LINK = re.compile(r"https?://[^\s\"<]+/directory/setup/([A-Za-z0-9_\-]+)/")


# --- Given ---------------------------------------------------------------------------------------------


@pytest.fixture
def link():
    """Fabrikam KK, a customer of Contoso Japan KK (User and License administrator), with a provider."""
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


def state(customer):
    """Everything a denied or refused request must leave as it was."""
    return (
        sorted(
            DirectoryUser.objects.filter(tenant=customer.directory_tenant).values_list(
                "pk", "user_principal_name", "status", "password", "setup_token_hash"
            )
        ),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


def listed(response) -> list[str]:
    return [row.user_principal_name for row in response.context["page"].object_list]


def text(response) -> str:
    return " ".join(html.unescape(strip_tags(response.content.decode())).split())


def flashed(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def add_data(customer, **data):
    return {
        "user_principal_name": f"ann@{domain(customer)}",
        "display_name": "Ann Lee",
        "contact_email": "ann.lee@example.com",
        "language": "ja",
        **data,
    }


# --- The list ------------------------------------------------------------------------------------------


def test_the_reseller_with_user_administrator_lists_the_tenant_users_with_their_licences(client, link):
    ann = tenant_user(link.customer, "ann")
    tenant_user(link.customer, "bob", display_name="Bob Smith", status=DirectoryUser.Status.DISABLED)
    tenant_user(link.customer, "admin", display_name="Chie Admin", is_global_admin=True)
    DirectoryUserFactory(user_principal_name="ann@elsewhere.example")  # another tenant's
    suite = SubscriptionFactory(
        customer=link.customer, reseller=link.reseller, provider=link.provider, name="Office Suite"
    )
    mail = SubscriptionFactory(
        customer=link.customer, reseller=link.reseller, provider=link.provider, name="Mail Plan"
    )
    LicenceAssignmentFactory(subscription=suite, directory_user=ann)
    LicenceAssignmentFactory(subscription=mail, directory_user=ann)
    # A subscription another reseller sold the customer: not this reseller's to show.
    other = SubscriptionFactory(customer=link.customer, provider=link.provider, name="Hidden Plan")
    LicenceAssignmentFactory(subscription=other, directory_user=ann)

    response = signed_in(client, link.reseller_agent).get(partner_url("users", link))

    assert response.status_code == 200
    d = domain(link.customer)
    assert listed(response) == [f"admin@{d}", f"ann@{d}", f"bob@{d}"]
    rows = {row.user_principal_name: row for row in response.context["rows"]}
    assert rows[f"ann@{d}"].licence_names == ("Mail Plan", "Office Suite")
    assert rows[f"bob@{d}"].licence_names == ()
    page = text(response)
    assert (
        "You act in Fabrikam KK's tenant as Contoso Japan KK with the User administrator delegated admin "
        "role." in page
    )
    assert "Hidden Plan" not in page
    body = response.content.decode()
    customer_page = reverse(
        "customers:customer",
        kwargs={"organization_public_id": link.reseller.public_id, "customer_id": link.customer.public_id},
    )
    assert f'href="{customer_page}"' in body
    assert f'href="{partner_url("user_add", link)}"' in body
    # Each row's button names its user; the Global Administrator is marked.
    assert f'Disable<span class="visually-hidden"> ann@{d}</span>' in body
    assert f'Enable<span class="visually-hidden"> bob@{d}</span>' in body
    assert "Chie Admin Global administrator" in page


def test_search_finds_users_by_user_principal_name_or_display_name(client, link):
    tenant_user(link.customer, "ann", display_name="Ann Lee")
    tenant_user(link.customer, "bob", display_name="Bob Leeds")
    tenant_user(link.customer, "carol", display_name="Carol King")
    d = domain(link.customer)
    client = signed_in(client, link.reseller_agent)

    assert listed(client.get(partner_url("users", link), {"q": "LEE"})) == [f"ann@{d}", f"bob@{d}"]
    assert listed(client.get(partner_url("users", link), {"q": "carol@"})) == [f"carol@{d}"]
    response = client.get(partner_url("users", link), {"q": "nobody"})
    assert listed(response) == []
    assert "No user matches." in text(response)
    assert client.get(partner_url("users", link), {"q": "x" * 201}).status_code == 400


@pytest.mark.parametrize("users", [10, 100])
def test_the_users_list_costs_the_same_number_of_queries_whatever_the_number_of_users(
    client, link, django_assert_num_queries, users
):
    subscriptions = [
        SubscriptionFactory(customer=link.customer, reseller=link.reseller, provider=link.provider, seats=200)
        for _ in range(3)
    ]
    for number in range(users):
        directory_user = tenant_user(link.customer, f"user{number:03d}")
        for subscription in subscriptions[: 1 + number % 3]:
            LicenceAssignmentFactory(subscription=subscription, directory_user=directory_user)
    client = signed_in(client, link.reseller_agent)
    client.get(partner_url("users", link))  # the session's first write is not the page's cost

    # the page's users' licences in one statement, of the subscriptions the partner sees (their scope in it)
    with django_assert_num_queries(7):
        response = client.get(partner_url("users", link))

    assert len(listed(response)) == min(users, 50)
    assert all(row.licence_names for row in response.context["rows"])


def test_the_customer_admin_sees_its_own_tenant_users_without_the_partner_banner(client, link):
    tenant_user(link.customer, "ann")

    response = signed_in(client, link.customer_admin).get(customer_url("users", link))

    assert response.status_code == 200
    assert listed(response) == [f"ann@{domain(link.customer)}"]
    assert "You act in" not in text(response)
    assert f'href="{customer_url("user_add", link)}"' in response.content.decode()


def test_an_entra_tenant_says_its_users_are_managed_in_the_entra_admin_center(client, link):
    tenant_user(link.customer, "ann")
    link.customer.directory_tenant.source = DirectoryTenantSource.ENTRA
    link.customer.directory_tenant.save(update_fields=["source"])
    client = signed_in(client, link.reseller_agent)

    response = client.get(partner_url("users", link))

    assert response.status_code == 200
    assert str(TENANT_NOT_MANAGED_HERE) in text(response)
    assert response.context["page"] is None
    body = response.content.decode()
    assert partner_url("user_add", link) not in body
    assert 'name="action"' not in body
    before = state(link.customer)
    assert client.post(partner_url("user_add", link), add_data(link.customer)).status_code == 400
    assert state(link.customer) == before


# --- Add user ------------------------------------------------------------------------------------------


def test_the_reseller_adds_a_user_who_gets_the_set_up_email_in_the_chosen_language(client, link):
    client = signed_in(client, link.reseller_agent)
    form_page = client.get(partner_url("user_add", link))
    assert form_page.status_code == 200
    assert form_page.context["form"]["language"].value() == "en"  # the acting user's language
    assert domain(link.customer) in text(form_page)  # the help names the tenant's domains
    audit_before = AuditEvent.objects.count()

    response = client.post(partner_url("user_add", link), add_data(link.customer))

    assert response.status_code == 302
    assert response["Location"] == partner_url("users", link)
    upn = f"ann@{domain(link.customer)}"
    assert flashed(response) == [
        f"Ann Lee ({upn}) is added to the tenant. A set-up email with a link to choose a password is on its "
        "way to ann.lee@example.com."
    ]
    user = DirectoryUser.objects.get(user_principal_name=upn)
    assert (user.tenant_id, user.display_name, user.contact_email, user.language, user.status) == (
        link.customer.directory_tenant_id,
        "Ann Lee",
        "ann.lee@example.com",
        "ja",
        DirectoryUser.Status.ACTIVE,
    )
    created = AuditEvent.objects.get(action="directory_user.created", organization_id=link.customer.pk)
    assert created.after["acting_partner"] == "Contoso Japan KK"
    assert AuditEvent.objects.get(
        action="directory_user.created", organization_id=link.reseller.pk
    ).after == {
        "customer": "Fabrikam KK",
        "user_principal_name": upn,
    }
    assert AuditEvent.objects.count() == audit_before + 2
    email = OutboxEmail.objects.get(template="directory_user_setup")
    assert (email.to, email.language, email.organization_id) == (
        "ann.lee@example.com",
        "ja",
        link.customer.pk,
    )
    # The link is sealed at rest and restored for delivery; it opens the set-up page of this user.
    assert not SETUP_LINK.search(email.body_text + email.body_html)
    token = SETUP_LINK.search(email_text(email)).group(1)
    assert directory_user_setup_find(token) == user
    assert upn in email_text(email)
    # The list then shows the new user.
    assert listed(client.get(partner_url("users", link))) == [upn]


def test_a_user_name_outside_the_tenant_domains_is_refused_at_the_field_and_nothing_is_saved(client, link):
    tenant_user(link.customer, "ann")
    client = signed_in(client, link.reseller_agent)
    before = state(link.customer)

    outside = client.post(
        partner_url("user_add", link), add_data(link.customer, user_principal_name="ann@contoso.example")
    )
    taken = client.post(partner_url("user_add", link), add_data(link.customer))
    no_language = client.post(partner_url("user_add", link), add_data(link.customer, language="fr"))

    for response in (outside, taken):
        assert response.status_code == 400
        assert response.context["form"].errors["user_principal_name"]
        assert 'id="id_user_principal_name_error"' in response.content.decode()
    assert no_language.status_code == 400
    assert list(no_language.context["form"].errors) == ["language"]
    assert state(link.customer) == before


# --- Disable and enable ------------------------------------------------------------------------------


def test_the_reseller_disables_and_enables_a_user_and_both_audit_rows_name_it(client, link):
    ann = tenant_user(link.customer, "ann")
    upn = ann.user_principal_name
    client = signed_in(client, link.reseller_agent)
    status_url = partner_url("user_status", link, user_id=ann.public_id)

    disabled = client.post(status_url, {"action": "disable"})

    assert disabled.status_code == 302
    assert disabled["Location"] == partner_url("users", link)
    assert flashed(disabled) == [f"Ann ({upn}) is disabled: the user can no longer sign in."]
    listing = client.get(disabled["Location"])  # the message shows on the list, once
    assert f"Ann ({upn}) is disabled: the user can no longer sign in." in text(listing)
    assert "Disabled" in text(listing)
    ann.refresh_from_db()
    assert ann.status == DirectoryUser.Status.DISABLED
    row = AuditEvent.objects.get(action="directory_user.disabled", organization_id=link.customer.pk)
    assert row.after["acting_partner"] == "Contoso Japan KK"

    enabled = client.post(status_url, {"action": "enable"})

    assert flashed(enabled) == [f"Ann ({upn}) is enabled: the user can sign in again."]
    ann.refresh_from_db()
    assert ann.status == DirectoryUser.Status.ACTIVE
    row = AuditEvent.objects.get(action="directory_user.enabled", organization_id=link.customer.pk)
    assert row.after["acting_partner"] == "Contoso Japan KK"


def test_the_reseller_cannot_disable_a_global_administrator_and_sees_why(client, link):
    tenant_user(link.customer, "boss", is_global_admin=True)
    admin = tenant_user(link.customer, "admin", is_global_admin=True)
    client = signed_in(client, link.reseller_agent)
    before = state(link.customer)

    response = client.post(partner_url("user_status", link, user_id=admin.public_id), {"action": "disable"})

    assert response.status_code == 302
    assert flashed(response) == ["A partner cannot change one of the customer's Global administrators."]
    assert state(link.customer) == before


def test_a_status_change_other_than_disable_or_enable_is_a_bad_request(client, link):
    ann = tenant_user(link.customer, "ann")
    before = state(link.customer)

    response = signed_in(client, link.reseller_agent).post(
        partner_url("user_status", link, user_id=ann.public_id), {"action": "delete"}
    )

    assert response.status_code == 400
    assert state(link.customer) == before


def test_the_customer_admin_adds_disables_and_enables_its_own_users_with_no_partner_named(client, link):
    client = signed_in(client, link.customer_admin)
    boss = tenant_user(link.customer, "boss", is_global_admin=True)
    tenant_user(link.customer, "chief", is_global_admin=True)

    added = client.post(customer_url("user_add", link), add_data(link.customer, language="en"))
    assert added.status_code == 302
    assert added["Location"] == customer_url("users", link)
    user = DirectoryUser.objects.get(user_principal_name=f"ann@{domain(link.customer)}")
    assert "acting_partner" not in AuditEvent.objects.get(action="directory_user.created").after
    assert OutboxEmail.objects.get(template="directory_user_setup").language == "en"

    # Its own administrators may disable a Global Administrator (not the last one: the service's rule).
    client.post(customer_url("user_status", link, user_id=boss.public_id), {"action": "disable"})
    client.post(customer_url("user_status", link, user_id=user.public_id), {"action": "disable"})
    client.post(customer_url("user_status", link, user_id=user.public_id), {"action": "enable"})

    boss.refresh_from_db()
    user.refresh_from_db()
    assert (boss.status, user.status) == (DirectoryUser.Status.DISABLED, DirectoryUser.Status.ACTIVE)
    actions = AuditEvent.objects.filter(organization_id=link.customer.pk).order_by("id")
    assert [(row.action, "acting_partner" in (row.after or {})) for row in actions] == [
        ("directory_user.created", False),
        ("directory_user.disabled", False),
        ("directory_user.disabled", False),
        ("directory_user.enabled", False),
    ]
    assert not AuditEvent.objects.filter(organization_id=link.reseller.pk).exists()


# --- Denied ---------------------------------------------------------------------------------------------


def denied_requests(client, link, ann):
    """Every users route of the partner: the list, the add form and its POST, a status change."""
    return [
        client.get(partner_url("users", link)),
        client.get(partner_url("user_add", link)),
        client.post(partner_url("user_add", link), add_data(link.customer)),
        client.post(partner_url("user_status", link, user_id=ann.public_id), {"action": "disable"}),
    ]


def test_a_reseller_without_the_user_administrator_role_gets_403_naming_it_and_nothing_changes(client):
    link = commerce_linked(roles=[DelegatedRole.LICENSE_ADMIN])
    ann = tenant_user(link.customer, "ann")
    before = state(link.customer)

    responses = denied_requests(signed_in(client, link.reseller_agent), link, ann)

    assert [response.status_code for response in responses] == [403, 403, 403, 403]
    page = text(responses[0])
    assert "This needs the User administrator role" in page
    assert "Create, change and delete your users and groups" in page  # what the role allows, in plain words
    request_url = reverse(
        "customers:delegated_admin_request",
        kwargs={"organization_public_id": link.reseller.public_id, "customer_id": link.customer.public_id},
    )
    assert f'href="{request_url}"' in responses[0].content.decode()
    assert state(link.customer) == before


def test_a_global_administrator_role_satisfies_the_user_administrator_and_the_banner_says_so(client):
    link = commerce_linked(roles=[DelegatedRole.GLOBAL_ADMIN])

    response = signed_in(client, link.reseller_agent).get(partner_url("users", link))

    assert response.status_code == 200
    assert "with the Global administrator delegated admin role" in text(response)


def test_an_expired_role_still_marked_active_is_refused(client, link):
    ann = tenant_user(link.customer, "ann")
    now = timezone.now()
    DelegatedAdminRelationship.objects.filter(pk=link.delegated_admin.pk).update(
        starts_at=now - timedelta(days=30), ends_at=now - timedelta(minutes=1)
    )
    assert DelegatedAdminRelationship.objects.get(pk=link.delegated_admin.pk).status == "active"
    before = state(link.customer)

    responses = denied_requests(signed_in(client, link.reseller_agent), link, ann)

    assert [response.status_code for response in responses] == [403, 403, 403, 403]
    assert "This needs the User administrator role" in text(responses[0])
    assert state(link.customer) == before


def test_a_removed_relationship_is_404_and_nothing_changes(client, link):
    ann = tenant_user(link.customer, "ann")
    CustomerRelationship.objects.filter(customer=link.customer, partner=link.reseller).update(
        status=RelationshipStatus.ENDED, ended_at=timezone.now()
    )
    before = state(link.customer)

    responses = denied_requests(signed_in(client, link.reseller_agent), link, ann)

    assert [response.status_code for response in responses] == [404, 404, 404, 404]
    assert state(link.customer) == before


def test_a_reseller_member_who_only_views_customers_gets_the_list_but_not_the_actions(client, link):
    ann = tenant_user(link.customer, "ann")
    helpdesk = MembershipFactory(organization=link.reseller, roles=[Role.HELPDESK_AGENT])
    client = signed_in(client, helpdesk)

    response = client.get(partner_url("users", link))

    assert response.status_code == 200
    assert listed(response) == [ann.user_principal_name]
    body = response.content.decode()
    assert 'name="action"' not in body
    assert partner_url("user_add", link) not in body
    before = state(link.customer)
    assert client.post(partner_url("user_add", link), add_data(link.customer)).status_code == 403
    assert state(link.customer) == before


def test_a_customer_member_without_users_manage_cannot_add_or_change_users(client, link):
    ann = tenant_user(link.customer, "ann")
    billing = MembershipFactory(organization=link.customer, roles=[Role.BILLING_ADMIN])
    client = signed_in(client, billing)
    before = state(link.customer)

    responses = [
        client.get(customer_url("user_add", link)),
        client.post(customer_url("user_add", link), add_data(link.customer)),
        client.post(customer_url("user_status", link, user_id=ann.public_id), {"action": "disable"}),
    ]

    assert [response.status_code for response in responses] == [403, 403, 403]
    assert state(link.customer) == before


def test_another_customers_user_is_404_on_the_status_route(client, link):
    stranger = DirectoryUserFactory(tenant=CustomerFactory().directory_tenant)
    before = state(link.customer)

    response = signed_in(client, link.reseller_agent).post(
        partner_url("user_status", link, user_id=stranger.public_id), {"action": "disable"}
    )

    assert response.status_code == 404
    stranger.refresh_from_db()
    assert stranger.status == DirectoryUser.Status.ACTIVE
    assert state(link.customer) == before
