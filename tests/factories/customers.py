"""Customers, customer invitations, customer relationships and delegated admin relationships.

- ``CustomerFactory()``: a customer organization (its own directory tenant); add its Global admin with
  ``MembershipFactory(organization=customer, roles=[Role.GLOBAL_ADMIN])``.
- ``CustomerInvitationFactory(organization=reseller)``: a pending reseller-only invitation whose raw token is
  ``invitation.raw_token``; ``with_provider=partnership`` makes it a with-provider one.
- ``customer_linked(reseller, customer=None, provider=None, roles=..., days=...)``: the rows an accepted
  invitation leaves (reseller relationship, provider relationship through a live partnership when
  ``provider`` is given, and an active delegated admin relationship), made directly: no audit, no email.
"""

import secrets
from datetime import timedelta

import factory
from django.conf import settings
from django.utils import timezone

from accounts.models import Organization
from accounts.roles import Role
from customers.models import (
    LEAST_PRIVILEGE_ROLES,
    CustomerInvitation,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    InvitationKind,
    PartnerRole,
)
from portal.tokens import token_hash
from providers.models import Partnership
from tests.factories.accounts import MembershipFactory, OrganizationFactory
from tests.factories.providers import ResellerFactory


class CustomerFactory(OrganizationFactory):
    kind = Organization.Kind.CUSTOMER
    legal_name = factory.Sequence(lambda n: f"Customer {n} Ltd")


class CustomerInvitationFactory(factory.django.DjangoModelFactory):
    """A pending invitation from a reseller (made here, not through the service: no audit row, no email)."""

    class Meta:
        model = CustomerInvitation

    class Params:
        with_provider = None  # a Partnership: a with-provider invitation through it

    organization = factory.SubFactory(ResellerFactory)
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    kind = factory.LazyAttribute(
        lambda o: InvitationKind.WITH_PROVIDER if o.with_provider else InvitationKind.RESELLER_ONLY
    )
    provider = factory.LazyAttribute(lambda o: o.with_provider.provider if o.with_provider else None)
    partnership = factory.LazyAttribute(lambda o: o.with_provider)
    roles = factory.LazyFunction(lambda: [str(role) for role in LEAST_PRIVILEGE_ROLES])
    duration_days = 365
    auto_extend = False
    language = "en"
    raw_token = factory.LazyFunction(lambda: secrets.token_urlsafe(32))
    token_hash = factory.LazyAttribute(lambda o: token_hash(o.raw_token))
    invited_by = factory.LazyAttribute(
        lambda o: MembershipFactory(organization=o.organization, roles=[Role.GLOBAL_ADMIN]).user
    )
    expires_at = factory.LazyFunction(
        lambda: timezone.now() + timedelta(days=settings.CUSTOMER_INVITATION_DAYS)
    )

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        raw = kwargs.pop("raw_token", None)
        instance = super()._create(model_class, *args, **kwargs)
        instance.raw_token = raw
        return instance


def customer_linked(
    reseller: Organization,
    customer: Organization | None = None,
    *,
    provider: Organization | None = None,
    roles=None,
    days: int = 365,
    ends_in: timedelta | None = None,
    status: str = DelegatedAdminStatus.ACTIVE,
    auto_extend: bool = False,
    delegated: bool = True,
):
    """``(customer, reseller_relationship, delegated_admin_or_None)`` as an accepted invitation leaves
    them; with ``provider``, a live partnership (made if missing) and the provider relationship too."""
    customer = customer or CustomerFactory()
    relationship = CustomerRelationship.objects.create(
        customer=customer,
        partner=reseller,
        role=PartnerRole.RESELLER,
        reseller=reseller,
        customer_name=customer.legal_name,
    )
    if provider is not None:
        if not Partnership.objects.filter(provider=provider, reseller=reseller, status="active").exists():
            Partnership.objects.create(provider=provider, reseller=reseller)
        CustomerRelationship.objects.create(
            customer=customer,
            partner=provider,
            role=PartnerRole.PROVIDER,
            reseller=reseller,
            customer_name=customer.legal_name,
        )
    admin = None
    if delegated:
        now = timezone.now()
        ends_at = now + (ends_in if ends_in is not None else timedelta(days=days))
        admin = DelegatedAdminRelationship.objects.create(
            customer=customer,
            partner=reseller,
            roles=[str(role) for role in (roles or LEAST_PRIVILEGE_ROLES)],
            duration_days=days,
            auto_extend=auto_extend,
            status=status,
            starts_at=now,
            ends_at=ends_at,
        )
    return customer, relationship, admin
