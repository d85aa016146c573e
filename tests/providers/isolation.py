"""What the isolation matrix needs to know about providers (see tests/isolation.py).

Each tenant gets, where its kind has one: its partnership (the other side named with the tenant's canary),
its partnership request (sent by a reseller, received by a provider; the message is the canary), the
invitation a provider sent and a provider's bulk run (both carrying the canary), and a directory listing:
a provider's own (its description is the canary), or for a reseller one listing of the directory. A
listing is public to every reseller by design, so a reseller tenant's listing carries no canary.

Partner personas: the provider of a reseller and the reseller of a provider, each linked by an active
partnership; a partnership shares no page of either side's organization, so both get 404 everywhere.
"""

import uuid

from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization
from providers.models import (
    BulkInvitationRow,
    BulkInvitationRun,
    Partnership,
    PartnershipInvitation,
    PartnershipRequest,
    ProviderCountry,
    ProviderLanguage,
    ProviderListing,
)
from tests.factories.providers import (
    BulkInvitationRunFactory,
    PartnershipFactory,
    PartnershipInvitationFactory,
    PartnershipRequestFactory,
    ProviderFactory,
    ResellerFactory,
)
from tests.isolation import (
    organization_link,
    partner_builder,
    published_table,
    snapshot_table,
    tenant_object,
    url_parameter,
)

PROVIDER, RESELLER = Organization.Kind.PROVIDER, Organization.Kind.RESELLER


@tenant_object("provider_listing")
def _listing(tenant) -> ProviderListing | None:
    if tenant.kind == PROVIDER:
        listing = ProviderListing.objects.create(
            organization=tenant.organization,
            name=tenant.organization.legal_name,
            description=tenant.canary,
            authorized_at=timezone.now(),
        )
        ProviderCountry.objects.create(listing=listing, country="JP")
        ProviderLanguage.objects.create(listing=listing, language="en")
        return listing
    if tenant.kind == RESELLER:
        return ProviderFactory(countries=["JP"]).provider_listing
    return None


@tenant_object("partnership")
def _partnership(tenant) -> Partnership | None:
    if tenant.kind == PROVIDER:
        return PartnershipFactory(
            provider=tenant.organization, reseller=ResellerFactory(legal_name=f"{tenant.canary} Reseller KK")
        )
    if tenant.kind == RESELLER:
        # Its listing hidden: the directory, which every reseller sees, must not show the canary.
        return PartnershipFactory(
            reseller=tenant.organization,
            provider=ProviderFactory(legal_name=f"{tenant.canary} Provider KK", listing__visible=False),
        )
    return None


@tenant_object("partnership_request")
def _request(tenant) -> PartnershipRequest | None:
    if tenant.kind == PROVIDER:
        return PartnershipRequestFactory(provider=tenant.organization, message=tenant.canary)
    if tenant.kind == RESELLER:
        return PartnershipRequestFactory(reseller=tenant.organization, message=tenant.canary)
    return None


@tenant_object("partnership_invitation")
def _invitation(tenant) -> PartnershipInvitation | None:
    if tenant.kind != PROVIDER:
        return None
    return PartnershipInvitationFactory(
        organization=tenant.organization,
        email=f"{tenant.canary.lower()}-reseller@example.com",
        invited_by=tenant.admin.user,
    )


@tenant_object("bulk_run")
def _bulk_run(tenant) -> BulkInvitationRun | None:
    if tenant.kind != PROVIDER:
        return None
    run = BulkInvitationRunFactory(
        organization=tenant.organization, file_name=f"{tenant.canary}.csv", created_by=tenant.admin.user
    )
    BulkInvitationRow.objects.create(run=run, line=2, email=f"{tenant.canary.lower()}-row@example.com")
    return run


def _public_id(name: str):
    """The tenant's object's public ID; a random one where its kind has no such object (the routes that
    take it are not for that kind, and answer 404 before reading it)."""

    def build(tenant):
        found = tenant.object(name)
        return found.public_id if found is not None else uuid.uuid4()

    return build


url_parameter(
    "listing_id",
    published_why="a listing in the directory is published to every reseller (Find a provider)",
)(_public_id("provider_listing"))
published_table(
    ProviderListing,
    Q(visible=True, authorized_at__isnull=False, organization__status=Organization.Status.ACTIVE),
    why="Find a provider shows every authorised, shown listing to every reseller",
)
url_parameter("partnership_id")(_public_id("partnership"))
url_parameter("request_id")(_public_id("partnership_request"))
url_parameter("partnership_invitation_id")(_public_id("partnership_invitation"))
url_parameter("run_id")(_public_id("bulk_run"))

snapshot_table(
    ProviderListing, "organization_id", "name", "description", "visible", "authorized_at", "updated_at"
)
snapshot_table(ProviderCountry, "listing_id", "country")
snapshot_table(ProviderLanguage, "listing_id", "language")
snapshot_table(Partnership, "status", "provider_id", "reseller_id", "ended_at", "end_reason")
snapshot_table(PartnershipRequest, "status", "provider_id", "reseller_id", "reason")
snapshot_table(PartnershipInvitation, "status", "email", "token_hash", "emailed_at", "expires_at")
snapshot_table(BulkInvitationRun, "status", "processed_rows", "sent", "skipped", "refused")
snapshot_table(BulkInvitationRow, "outcome", "invitation_id")


@partner_builder("provider of reseller", tenant_kinds={RESELLER})
def _provider_of_reseller(tenant) -> Organization:
    return PartnershipFactory(reseller=tenant.organization, provider=ProviderFactory()).provider


@partner_builder("reseller of provider", tenant_kinds={PROVIDER})
def _reseller_of_provider(tenant) -> Organization:
    return PartnershipFactory(provider=tenant.organization, reseller=ResellerFactory()).reseller


@organization_link
def _partners(organization: Organization) -> set[int]:
    """The other side of its active partnerships and of its open partnership requests."""
    linked = set()
    for rows in (
        Partnership.objects.filter(status=Partnership.Status.ACTIVE),
        PartnershipRequest.objects.filter(status=PartnershipRequest.Status.OPEN),
    ):
        for provider_id, reseller_id in rows.filter(
            Q(provider=organization) | Q(reseller=organization)
        ).values_list("provider_id", "reseller_id"):
            linked |= {provider_id, reseller_id}
    linked.discard(organization.pk)
    return linked
