"""The catalogue, subscriptions, orders and licences.

- ``OfferFactory(prices={"JP": ("JPY", 1200), "US": ("USD", "12.50")})``: an offer on sale, seat-based,
  monthly without commitment unless told, priced in the countries given (Japan in yen by default).
- ``SubscriptionFactory(customer=, reseller=, provider=, offer=)``: an active subscription as a
  provisioned order leaves it (made directly: no order, no audit, no email).
- ``commerce_linked(reseller, provider)``: a customer shared by ``reseller`` with ``provider`` (live
  partnership, both relationships, the reseller's delegated admin with ``roles``), its Global admin, and
  one member of each partner with the customers.manage permission: a ``SimpleNamespace``.
- ``LicenceAssignmentFactory(subscription=, directory_user=)``.
"""

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import factory
from django.utils import timezone

from accounts.roles import Role
from commerce.models import (
    BillingTerm,
    Commitment,
    LicenceAssignment,
    Offer,
    OfferPrice,
    Subscription,
    SubscriptionStatus,
)
from customers.models import DelegatedRole
from tests.factories.accounts import DirectoryUserFactory, MembershipFactory
from tests.factories.customers import CustomerFactory, customer_linked
from tests.factories.providers import ProviderFactory, ResellerFactory


class OfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offer
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Cloud Suite {n}")
    product_code = factory.Sequence(lambda n: f"CS-{n:04d}")
    seat_based = True
    billing_term = BillingTerm.MONTHLY
    commitment = Commitment.NONE
    min_seats = 1
    max_seats = 300
    is_active = True

    @factory.post_generation
    def prices(self, create, extracted, **kwargs):
        if not create:
            return
        for country, (currency, amount) in (
            extracted if extracted is not None else {"JP": ("JPY", 1200)}
        ).items():
            OfferPrice.objects.create(
                offer=self, country=country, currency=currency, unit_price=Decimal(str(amount))
            )


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    customer = factory.SubFactory(CustomerFactory)
    reseller = factory.SubFactory(ResellerFactory)
    provider = factory.SubFactory(ProviderFactory)
    offer = factory.SubFactory(OfferFactory)
    name = factory.LazyAttribute(lambda o: o.offer.name)
    seats = 5
    billing_term = factory.LazyAttribute(lambda o: o.offer.billing_term)
    commitment = factory.LazyAttribute(lambda o: o.offer.commitment)
    currency = "JPY"
    unit_price = Decimal("1200")
    started_at = factory.LazyFunction(timezone.now)
    term_started_at = factory.LazyAttribute(lambda o: o.started_at)
    renews_at = factory.LazyAttribute(lambda o: o.term_started_at + timedelta(days=30))
    auto_renew = True
    status = SubscriptionStatus.ACTIVE


class LicenceAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LicenceAssignment

    subscription = factory.SubFactory(SubscriptionFactory)
    customer = factory.LazyAttribute(lambda o: o.subscription.customer)
    directory_user = factory.LazyAttribute(
        lambda o: DirectoryUserFactory(tenant=o.subscription.customer.directory_tenant)
    )
    user_principal_name = factory.LazyAttribute(lambda o: o.directory_user.user_principal_name)


def commerce_linked(reseller=None, provider=None, *, customer=None, roles=None, delegated=True, **kwargs):
    """A customer shared by a reseller with a provider, with the people who act on it."""
    reseller = reseller or ResellerFactory()
    provider = provider or ProviderFactory()
    roles = roles if roles is not None else [DelegatedRole.USER_ADMIN, DelegatedRole.LICENSE_ADMIN]
    customer, relationship, delegated_admin = customer_linked(
        reseller, customer, provider=provider, roles=roles, delegated=delegated, **kwargs
    )
    return SimpleNamespace(
        customer=customer,
        reseller=reseller,
        provider=provider,
        relationship=relationship,
        delegated_admin=delegated_admin,
        customer_admin=MembershipFactory(organization=customer, roles=[Role.GLOBAL_ADMIN]),
        reseller_agent=MembershipFactory(organization=reseller, roles=[Role.ADMIN_AGENT]),
        provider_agent=MembershipFactory(organization=provider, roles=[Role.ADMIN_AGENT]),
    )
