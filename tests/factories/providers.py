"""Providers, resellers, partnerships, partnership invitations and requests.

- ``ProviderFactory(countries=["US", "JP"], languages=["en", "ja"], listing__offers_marketing=True)``: a
  provider organization with its authorised, shown directory listing (``provider.provider_listing``);
  ``listing=False`` for a provider without one.
- ``ResellerFactory()``: an (approved) indirect reseller with a partner ID.
- ``PartnershipFactory(provider=..., reseller=...)``: active unless ``status=Partnership.Status.ENDED``.
- ``PartnershipInvitationFactory``: a pending invitation whose raw token is ``invitation.raw_token``;
  ``partnership_invitation_issued(provider, email)`` goes through the real service instead.
- ``PartnershipRequestFactory``: an open request from a reseller to a provider serving its country.
- ``BulkInvitationRunFactory``: an uploaded file of invitations, queued.
"""

import itertools
import secrets
from datetime import timedelta

import factory
from django.conf import settings
from django.utils import timezone

from accounts.models import Membership, Organization
from accounts.roles import Role
from portal.tokens import token_hash
from providers.models import (
    BulkInvitationRun,
    Partnership,
    PartnershipInvitation,
    PartnershipRequest,
    PartnershipSide,
    ProviderCountry,
    ProviderLanguage,
    ProviderListing,
)
from tests.factories.accounts import MembershipFactory, OrganizationFactory

#: Partner IDs of factory resellers: 7 digits, far from the ones tests and the demo write by hand.
_partner_ids = itertools.count(7_300_001)


class ProviderFactory(OrganizationFactory):
    """A provider authorised in the program, listed in the directory."""

    class Meta:
        model = Organization
        skip_postgeneration_save = True

    kind = Organization.Kind.PROVIDER
    legal_name = factory.Sequence(lambda n: f"Provider {n} KK")

    @factory.post_generation
    def listing(self, create, extracted, **kwargs):
        if not create or extracted is False:
            return
        values = {
            "name": self.legal_name,
            "description": "",
            "contact_email": f"partners@provider{self.pk}.example",
            "website": f"https://provider{self.pk}.example",
            "authorized_at": timezone.now(),
            "visible": True,
            **kwargs,
        }
        ProviderListing.objects.create(organization=self, **values)

    @factory.post_generation
    def countries(self, create, extracted, **kwargs):
        listing = ProviderListing.objects.filter(organization=self).first() if create else None
        if listing is None:
            return
        codes = ["JP"] if extracted is None else extracted
        ProviderCountry.objects.bulk_create(ProviderCountry(listing=listing, country=code) for code in codes)

    @factory.post_generation
    def languages(self, create, extracted, **kwargs):
        listing = ProviderListing.objects.filter(organization=self).first() if create else None
        if listing is None:
            return
        codes = ["en"] if extracted is None else extracted
        ProviderLanguage.objects.bulk_create(
            ProviderLanguage(listing=listing, language=code) for code in codes
        )


class ResellerFactory(OrganizationFactory):
    """An approved indirect reseller (an organization of kind reseller exists only once approved)."""

    kind = Organization.Kind.RESELLER
    legal_name = factory.Sequence(lambda n: f"Reseller {n} KK")
    partner_id = factory.LazyFunction(lambda: str(next(_partner_ids)))


class PartnershipFactory(factory.django.DjangoModelFactory):
    """Active by default; ``status=Partnership.Status.ENDED`` gives an ended one (ended by the provider)."""

    class Meta:
        model = Partnership

    provider = factory.SubFactory(ProviderFactory)
    reseller = factory.SubFactory(ResellerFactory)
    status = Partnership.Status.ACTIVE
    started_at = factory.LazyFunction(timezone.now)
    ended_at = factory.LazyAttribute(
        lambda o: timezone.now() if o.status == Partnership.Status.ENDED else None
    )
    ended_by_side = factory.LazyAttribute(
        lambda o: PartnershipSide.PROVIDER if o.status == Partnership.Status.ENDED else ""
    )
    end_reason = factory.LazyAttribute(
        lambda o: "We no longer work together." if o.status == Partnership.Status.ENDED else ""
    )


class PartnershipInvitationFactory(factory.django.DjangoModelFactory):
    """A pending invitation from a provider, sent by one of its Global admins; its raw token is
    ``invitation.raw_token`` (made here, not through the service: no audit row, no email)."""

    class Meta:
        model = PartnershipInvitation

    organization = factory.SubFactory(ProviderFactory)
    email = factory.Sequence(lambda n: f"reseller{n}@example.com")
    partner_id = ""
    language = "en"
    raw_token = factory.LazyFunction(lambda: secrets.token_urlsafe(32))
    token_hash = factory.LazyAttribute(lambda o: token_hash(o.raw_token))
    invited_by = factory.LazyAttribute(
        lambda o: MembershipFactory(organization=o.organization, roles=[Role.GLOBAL_ADMIN]).user
    )
    expires_at = factory.LazyFunction(
        lambda: timezone.now() + timedelta(days=settings.PARTNERSHIP_INVITATION_DAYS)
    )

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        raw = kwargs.pop("raw_token", None)
        instance = super()._create(model_class, *args, **kwargs)
        instance.raw_token = raw
        return instance


def partnership_invitation_issued(
    provider: Organization,
    email: str,
    partner_id: str = "",
    by: Membership | None = None,
    language: str = "en",
) -> tuple[PartnershipInvitation, str]:
    """An invitation made by the real service (audit row, hourly limit, superseding), by ``by`` or by a
    new Global admin of the provider; returns it with its raw token. No email is sent (the provider then
    sends the draft itself, or through ``partnership_invitation_email``)."""
    from providers.services.invitations import partnership_invitation_create

    if by is None:
        by = MembershipFactory(organization=provider, roles=[Role.GLOBAL_ADMIN])
    return partnership_invitation_create(
        provider=provider, email=email, partner_id=partner_id, language=language, by=by
    )


class PartnershipRequestFactory(factory.django.DjangoModelFactory):
    """An open request from a reseller to a provider that serves the reseller's country."""

    class Meta:
        model = PartnershipRequest

    provider = factory.SubFactory(ProviderFactory)
    reseller = factory.SubFactory(ResellerFactory)
    message = "We would like to work with you."
    status = PartnershipRequest.Status.OPEN
    requested_by = None


class BulkInvitationRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BulkInvitationRun

    organization = factory.SubFactory(ProviderFactory)
    file_name = factory.Sequence(lambda n: f"resellers-{n}.csv")
    created_by = None
