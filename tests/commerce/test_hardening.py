"""The review's findings, each held by a test: a subscription whose seller links ended stops renewing,
one change of a subscription at a time, a partner neither re-enables a Global administrator nor revives a
set-up link by re-enabling a user, a new set-up link can be sent, a reseller manages only the licences of
what it sells, auto-renew follows the subscription's own partnership, a reseller clears its open requests
after the customer left, and the provider's reason for declining stays between provider and reseller."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import DirectoryUser
from commerce.models import LicenceAssignment, Order, OrderKind, OrderStatus, Subscription, SubscriptionStatus
from commerce.services import licences, orders, subscriptions, users
from customers.models import CustomerRelationship, DelegatedRole, PartnerRole, RelationshipStatus
from portal.audit.models import AuditEvent
from portal.errors import DomainError
from portal.mail.models import OutboxEmail
from providers.models import Partnership
from tests.factories.accounts import DirectoryUserFactory, MembershipFactory
from tests.factories.commerce import OfferFactory, SubscriptionFactory, commerce_linked
from tests.factories.customers import customer_linked
from tests.factories.providers import ResellerFactory

pytestmark = pytest.mark.django_db


def sold(link, **kwargs):
    return SubscriptionFactory(
        customer=link.customer, reseller=link.reseller, provider=link.provider, **kwargs
    )


def refused(code, call):
    with pytest.raises(DomainError) as error:
        call()
    assert error.value.code == code, error.value.message
    return error.value


def test_a_subscription_whose_partnership_ended_ends_at_term_instead_of_renewing():
    link = commerce_linked()
    started = timezone.now() - timedelta(days=31)
    subscription = sold(
        link, started_at=started, term_started_at=started, renews_at=timezone.now() - timedelta(minutes=1)
    )
    Partnership.objects.filter(provider=link.provider, reseller=link.reseller).update(
        status=Partnership.Status.ENDED, ended_at=timezone.now()
    )

    result = subscriptions.subscriptions_run_due()

    subscription.refresh_from_db()
    assert (result["renewed"], result["ended"]) == (0, 1)
    assert subscription.status == SubscriptionStatus.EXPIRED
    row = AuditEvent.objects.get(action="subscription.expired", organization_id=link.customer.pk)
    assert row.after["reason"] == "partnership_missing"
    ended = OutboxEmail.objects.filter(template="subscription_ended")
    assert ended.exists()
    assert (
        "instead of renewing: The partnership between the indirect provider and the reseller is not active."
        in (ended.filter(language="en").first().body_text)
    )


def test_a_subscription_still_sold_renews():
    link = commerce_linked()
    offer = OfferFactory()
    started = timezone.now() - timedelta(days=31)
    subscription = sold(
        link,
        offer=offer,
        started_at=started,
        term_started_at=started,
        renews_at=timezone.now() - timedelta(minutes=1),
    )
    assert subscriptions.subscriptions_run_due()["renewed"] == 1
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE


def test_one_change_of_a_subscription_waits_for_the_other():
    link = commerce_linked()
    subscription = sold(link, seats=5)
    first = orders.order_submit(
        by=link.provider_agent, customer=link.customer, reseller=link.reseller, kind=OrderKind.SEATS,
        subscription=subscription, seats=8, idempotency_key=uuid.uuid4(),
    )  # fmt: skip
    before = Order.objects.count()
    refused(
        "order_pending",
        lambda: orders.order_submit(
            by=link.provider_agent, customer=link.customer, reseller=link.reseller, kind=OrderKind.SEATS,
            subscription=subscription, seats=6, idempotency_key=uuid.uuid4(),
        ),
    )  # fmt: skip
    refused(
        "order_pending",
        lambda: orders.order_request_create(
            by=link.reseller_agent, customer=link.customer, provider=link.provider, kind=OrderKind.CANCEL,
            subscription=subscription, send=True, idempotency_key=uuid.uuid4(),
        ),
    )  # fmt: skip
    assert Order.objects.count() == before
    # once provisioned, the next change is welcome
    assert orders.order_provision(order_id=first.pk) == "provisioned"
    second = orders.order_submit(
        by=link.provider_agent, customer=link.customer, reseller=link.reseller, kind=OrderKind.SEATS,
        subscription=subscription, seats=6, idempotency_key=uuid.uuid4(),
    )  # fmt: skip
    assert second.status == OrderStatus.SUBMITTED


def test_a_partner_neither_disables_nor_enables_a_global_administrator():
    link = commerce_linked()
    tenant = link.customer.directory_tenant
    DirectoryUserFactory(tenant=tenant, is_global_admin=True)
    admin = DirectoryUserFactory(tenant=tenant, is_global_admin=True, status=DirectoryUser.Status.DISABLED)
    before = AuditEvent.objects.count()
    refused(
        "global_admin_protected",
        lambda: users.customer_user_enable(
            by=link.reseller_agent, customer=link.customer, directory_user=admin
        ),
    )
    admin.refresh_from_db()
    assert admin.status == DirectoryUser.Status.DISABLED
    assert AuditEvent.objects.count() == before
    # the customer's own administrator may
    users.customer_user_enable(by=link.customer_admin, customer=link.customer, directory_user=admin)
    admin.refresh_from_db()
    assert admin.status == DirectoryUser.Status.ACTIVE


def test_disabling_a_user_kills_its_set_up_link_and_a_new_one_can_be_sent(django_capture_on_commit_callbacks):
    link = commerce_linked()
    domain = link.customer.directory_tenant.verified_domains[0]
    user = users.customer_user_add(
        by=link.reseller_agent, customer=link.customer, user_principal_name=f"kaito@{domain}",
        display_name="Kaito", contact_email="kaito@example.com", language="ja",
    )  # fmt: skip
    first_hash = DirectoryUser.objects.get(pk=user.pk).setup_token_hash
    assert first_hash
    users.customer_user_disable(by=link.customer_admin, customer=link.customer, directory_user=user)
    users.customer_user_enable(by=link.customer_admin, customer=link.customer, directory_user=user)
    user.refresh_from_db()
    assert (user.setup_token_hash, user.setup_expires_at) == ("", None)  # the old link stays dead

    users.customer_user_setup_link_send(by=link.reseller_agent, customer=link.customer, directory_user=user)

    user.refresh_from_db()
    assert user.setup_token_hash not in ("", first_hash)
    assert OutboxEmail.objects.filter(template="directory_user_setup", to="kaito@example.com").count() == 2
    sent = AuditEvent.objects.get(action="directory_user.setup_sent", organization_id=link.customer.pk)
    assert sent.after == {"contact_email": "kaito@example.com", "acting_partner": link.reseller.legal_name}
    created = AuditEvent.objects.get(action="directory_user.created", organization_id=link.customer.pk)
    assert created.after["contact_email"] == "kaito@example.com"


def test_a_reseller_manages_only_the_licences_of_what_it_sells():
    link = commerce_linked()
    other = ResellerFactory()
    customer_linked(other, link.customer, roles=[DelegatedRole.LICENSE_ADMIN])
    other_agent = MembershipFactory(organization=other, roles=["admin_agent"])
    subscription = sold(link, seats=3)
    user = DirectoryUserFactory(tenant=link.customer.directory_tenant)
    refused(
        "subscription_not_yours",
        lambda: licences.licence_assign(
            by=other_agent, subscription=subscription, user_principal_name=user.user_principal_name
        ),
    )
    assignment = licences.licence_assign(
        by=link.reseller_agent, subscription=subscription, user_principal_name=user.user_principal_name
    )
    refused("subscription_not_yours", lambda: licences.licence_remove(by=other_agent, assignment=assignment))
    assert LicenceAssignment.objects.filter(pk=assignment.pk).exists()


def test_auto_renew_follows_the_partnership_the_subscription_was_sold_on():
    link = commerce_linked()
    subscription = sold(link)
    Partnership.objects.filter(provider=link.provider, reseller=link.reseller).update(
        status=Partnership.Status.ENDED, ended_at=timezone.now()
    )
    # the provider still sees the customer through another reseller
    second = ResellerFactory()
    customer_linked(second, link.customer, provider=link.provider, delegated=False)
    refused(
        "partnership_missing",
        lambda: subscriptions.subscription_auto_renew_set(
            by=link.provider_agent, subscription=subscription, auto_renew=False
        ),
    )
    assert Subscription.objects.get(pk=subscription.pk).auto_renew is True


def test_a_reseller_withdraws_its_open_request_after_the_customer_left():
    link = commerce_linked()
    subscription = sold(link, seats=5)
    request = orders.order_request_create(
        by=link.reseller_agent, customer=link.customer, provider=link.provider, kind=OrderKind.SEATS,
        subscription=subscription, seats=7, send=True, idempotency_key=uuid.uuid4(),
    )  # fmt: skip
    CustomerRelationship.objects.filter(customer=link.customer).update(
        status=RelationshipStatus.ENDED, ended_at=timezone.now()
    )
    assert not CustomerRelationship.objects.filter(
        customer=link.customer, role=PartnerRole.RESELLER, status=RelationshipStatus.ACTIVE
    ).exists()
    withdrawn = orders.order_request_withdraw(by=link.reseller_agent, order=request)
    assert withdrawn.status == OrderStatus.WITHDRAWN


def test_the_reason_for_declining_stays_between_provider_and_reseller():
    link = commerce_linked()
    request = orders.order_request_create(
        by=link.reseller_agent, customer=link.customer, provider=link.provider, kind=OrderKind.NEW,
        offer=OfferFactory(), seats=2, send=True, idempotency_key=uuid.uuid4(),
    )  # fmt: skip
    orders.order_request_decline(by=link.provider_agent, order=request, reason="Margin too thin this quarter")
    customer_row = AuditEvent.objects.get(action="order.declined", organization_id=link.customer.pk)
    reseller_row = AuditEvent.objects.get(action="order.declined", organization_id=link.reseller.pk)
    assert "Margin" not in repr(customer_row.after)
    assert customer_row.after == {"acting_partner": link.provider.legal_name}
    assert reseller_row.after["reason"] == "Margin too thin this quarter"


def test_the_users_page_offers_a_new_set_up_link_and_sends_it(client):
    from django.urls import reverse

    link = commerce_linked()
    domain = link.customer.directory_tenant.verified_domains[0]
    user = users.customer_user_add(
        by=link.customer_admin, customer=link.customer, user_principal_name=f"mei@{domain}",
        display_name="Mei", contact_email="mei@example.com", language="en",
    )  # fmt: skip
    client.force_login(link.customer_admin.user)
    page = client.get(reverse("commerce:users", kwargs={"organization_public_id": link.customer.public_id}))
    body = page.content.decode()
    assert "Set-up link sent; it expires" in body
    assert "Send a new set-up link" in body
    url = reverse(
        "commerce:user_status",
        kwargs={"organization_public_id": link.customer.public_id, "user_id": user.public_id},
    )
    response = client.post(url, {"action": "setup_link"}, follow=True)
    assert "A new set-up link for Mei" in response.content.decode()
    assert OutboxEmail.objects.filter(template="directory_user_setup", to="mei@example.com").count() == 2
