"""The whole partnership flow through the services alone, as the pages drive it: staff create a
provider, its first admin joins, the provider invites a reseller, edits the draft and has the portal send
it, the reseller authorises, and the provider ends the partnership."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Membership, MembershipInvitation, Organization
from accounts.roles import Role
from accounts.services.invitations import membership_invitation_accept
from portal.audit.models import AuditEvent
from portal.errors import DomainError
from portal.invitations.binding import InvitationUnusable
from portal.invitations.services import link_invitation_lookup
from portal.mail.models import OutboxEmail
from portal.mail.services import outbox_email_content
from providers.models import Partnership, PartnershipInvitation, ProviderListing
from providers.services.invitations import (
    invitation_draft,
    partnership_invitation_create,
    partnership_invitation_email,
)
from providers.services.listings import provider_create
from providers.services.partnerships import partnership_authorize, partnership_end
from tests.factories.accounts import MembershipFactory, OrganizationFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def _verified(user):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return user


def test_from_a_new_provider_to_an_ended_partnership(django_capture_on_commit_callbacks):
    staff = StaffFactory()
    provider = provider_create(
        legal_name="Blue Yonder Distribution",
        country="JP",
        countries_served=["JP", "US"],
        admin_email="Admin@BlueYonder.example",
        admin_language="ja",
        by=staff,
        languages=["en", "ja"],
    )
    listing = ProviderListing.objects.get(organization=provider)
    assert provider.kind == Organization.Kind.PROVIDER
    assert listing.is_listed
    assert sorted(listing.countries.values_list("country", flat=True)) == ["JP", "US"]
    first_admin_invitation = MembershipInvitation.objects.get(organization=provider)
    assert first_admin_invitation.email == "admin@blueyonder.example"
    assert first_admin_invitation.roles == [Role.GLOBAL_ADMIN]

    admin_user = _verified(UserFactory(email="admin@blueyonder.example"))
    admin = membership_invitation_accept(invitation=first_admin_invitation, user=admin_user)
    assert admin.role_names == [Role.GLOBAL_ADMIN]

    reseller = OrganizationFactory(kind=Organization.Kind.RESELLER, country="JP", partner_id="1234567")
    reseller_admin = MembershipFactory(organization=reseller, roles=[Role.GLOBAL_ADMIN])

    invitation, raw_token = partnership_invitation_create(
        provider=provider, email="Owner@Reseller.example", partner_id="1234567", language="en", by=admin
    )
    draft = invitation_draft(invitation=invitation, raw_token=raw_token)
    assert draft.link in draft.body
    assert "Blue Yonder Distribution" in draft.body

    edited = "Hello from Blue Yonder!\n\n" + draft.body
    with pytest.raises(DomainError) as error:
        partnership_invitation_email(
            invitation=invitation, raw_token=raw_token, subject="Join us", body="no link here", by=admin
        )
    assert error.value.field == "body"
    assert not OutboxEmail.objects.filter(template="partnership_invitation").exists()

    partnership_invitation_email(
        invitation=invitation, raw_token=raw_token, subject="Join us", body=edited, by=admin
    )
    stored = OutboxEmail.objects.get(template="partnership_invitation")
    assert raw_token not in stored.body_text
    delivered = outbox_email_content(stored)
    assert delivered.body_text.startswith("Hello from Blue Yonder!")
    assert draft.link in delivered.body_text

    # A partner-ID-bound link: the reseller's Global admin accepts without owning the invited address.
    assert link_invitation_lookup(PartnershipInvitation, raw_token) == invitation
    with pytest.raises(DomainError) as error:
        partnership_authorize(
            invitation=invitation, user=reseller_admin.user, reseller=reseller, consent=False
        )
    assert error.value.field == "consent"
    assert not Partnership.objects.exists()

    with django_capture_on_commit_callbacks(execute=False):
        partnership = partnership_authorize(
            invitation=invitation, user=reseller_admin.user, reseller=reseller, consent=True
        )
    assert partnership.status == Partnership.Status.ACTIVE
    assert (partnership.provider, partnership.reseller) == (provider, reseller)
    assert set(
        AuditEvent.objects.filter(action="partnership.created").values_list("organization_id", flat=True)
    ) == {provider.pk, reseller.pk}
    assert OutboxEmail.objects.filter(template="partnership_accepted", to=admin_user.email).exists()

    with pytest.raises(InvitationUnusable):
        partnership_authorize(
            invitation=invitation, user=reseller_admin.user, reseller=reseller, consent=True
        )
    assert Partnership.objects.count() == 1

    with pytest.raises(DomainError) as error:
        partnership_end(partnership=partnership, by=admin, reason="  ")
    assert error.value.field == "reason"

    ended = partnership_end(partnership=partnership, by=admin, reason="We no longer serve this segment.")
    assert ended.status == Partnership.Status.ENDED
    assert ended.ended_by_side == "provider"
    ended_emails = OutboxEmail.objects.filter(template="partnership_ended")
    assert set(ended_emails.values_list("to", flat=True)) == {admin_user.email, reseller_admin.user.email}
    assert set(
        AuditEvent.objects.filter(action="partnership.ended").values_list("organization_id", flat=True)
    ) == {provider.pk, reseller.pk}
    assert Membership.objects.filter(organization=provider).count() == 1


def test_a_reseller_the_provider_does_not_serve_is_told_and_nothing_changes():
    provider = OrganizationFactory(kind=Organization.Kind.PROVIDER, country="US")
    ProviderListing.objects.create(
        organization=provider, name=provider.legal_name, authorized_at="2026-01-01T00:00Z"
    )
    ProviderListing.objects.get(organization=provider).countries.create(country="US")
    admin = MembershipFactory(organization=provider, roles=[Role.GLOBAL_ADMIN])
    reseller = OrganizationFactory(kind=Organization.Kind.RESELLER, country="JP")
    reseller_admin = _verified(MembershipFactory(organization=reseller, roles=[Role.ADMIN_AGENT]).user)
    invitation, _raw = partnership_invitation_create(provider=provider, email=reseller_admin.email, by=admin)
    events = AuditEvent.objects.count()
    with pytest.raises(DomainError) as error:
        partnership_authorize(invitation=invitation, user=reseller_admin, reseller=reseller, consent=True)
    assert error.value.code == "country_not_served"
    invitation.refresh_from_db()
    assert invitation.is_pending
    assert AuditEvent.objects.count() == events
    assert not Partnership.objects.exists()


def test_the_directory_reads_a_constant_number_of_queries():
    from django.http import QueryDict

    from portal.lists import keyset_page
    from providers.selectors import DIRECTORY_ORDERING, directory_listings

    def build(count):
        for index in range(count):
            provider = OrganizationFactory(kind=Organization.Kind.PROVIDER)
            listing = ProviderListing.objects.create(
                organization=provider, name=f"P{index:03}", authorized_at="2026-01-01T00:00Z"
            )
            listing.countries.create(country="JP")
            listing.languages.create(language="ja")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            page = keyset_page(
                directory_listings(country="JP"), ordering=DIRECTORY_ORDERING, query=QueryDict()
            )
            for listing in page:
                list(listing.countries.all()), list(listing.languages.all())
        return len(captured), len(page)

    build(3)
    few = queries()
    build(60)
    many = queries()
    assert few[1] == 3 and many[1] == 50
    assert few[0] == many[0]
