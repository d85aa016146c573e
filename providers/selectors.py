"""Every read the provider pages need, always starting from the organization or the user.

A partnership is visible to its two sides only; a listing to every reseller once it is authorised and
shown; requests and invitations to the provider that received or sent them (and requests to the reseller
that sent them).
"""

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet

from accounts.models import Membership, Organization, User
from accounts.roles import Permission, permissions_for
from portal.prepared import PreparedQuery
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

#: The orderings of the keyset lists (portal.lists): every field one way, the last one unique.
DIRECTORY_ORDERING = ("name", "id")
PARTNERSHIP_ORDERING = ("-started_at", "-id")
INVITATION_ORDERING = ("-created_at", "-id")
REQUEST_ORDERING = ("-created_at", "-id")


def reseller_memberships_authorizing(user: User) -> list[Membership]:
    """The user's active memberships in active, approved reseller organizations where they may authorise
    an indirect provider (Global admin or Admin agent)."""
    if not getattr(user, "is_authenticated", False):
        return []
    memberships = (
        Membership.objects.filter(
            user=user,
            status=Membership.Status.ACTIVE,
            organization__kind=Organization.Kind.RESELLER,
            organization__status=Organization.Status.ACTIVE,
        )
        .select_related("organization")
        .prefetch_related("roles")
        .order_by("organization__legal_name", "organization_id")
    )
    return [membership for membership in memberships if membership.can(Permission.PARTNERS_AUTHORIZE)]


def listing_for(organization: Organization) -> ProviderListing | None:
    return (
        ProviderListing.objects.filter(organization=organization)
        .prefetch_related("countries", "languages")
        .first()
    )


def directory_listings(
    *, search: str = "", country: str = "", language: str = "", help_kind: str = ""
) -> QuerySet:
    """Authorised, shown listings matching the filters (each an indexed EXISTS, no join fan-out)."""
    listings = ProviderListing.objects.filter(
        visible=True, authorized_at__isnull=False, organization__status=Organization.Status.ACTIVE
    )
    if search:
        listings = listings.filter(Q(name__icontains=search) | Q(description__icontains=search))
    if country:
        listings = listings.filter(
            Exists(ProviderCountry.objects.filter(listing=OuterRef("pk"), country=country))
        )
    if language:
        listings = listings.filter(
            Exists(ProviderLanguage.objects.filter(listing=OuterRef("pk"), language=language))
        )
    if help_kind:
        listings = listings.filter(**{help_kind: True})
    return listings.prefetch_related(
        Prefetch("countries", queryset=ProviderCountry.objects.order_by("country")),
        Prefetch("languages", queryset=ProviderLanguage.objects.order_by("language")),
    )


def directory_listing_get(public_id) -> ProviderListing | None:
    """One listing a reseller may open: authorised and shown."""
    return directory_listings().select_related("organization").filter(public_id=public_id).first()


def countries_served(listing: ProviderListing) -> set[str]:
    return {str(row.country) for row in listing.countries.all()}


def partnerships_of(organization: Organization, *, status: str = "", search: str = "") -> QuerySet:
    """The organization's partnerships, from its own side (provider: its resellers; reseller: its
    providers)."""
    if organization.kind == Organization.Kind.PROVIDER:
        partnerships = Partnership.objects.filter(provider=organization).select_related("reseller")
        other = "reseller"
    else:
        partnerships = Partnership.objects.filter(reseller=organization).select_related(
            "provider", "provider__provider_listing"
        )
        other = "provider"
    if status:
        partnerships = partnerships.filter(status=status)
    if search:
        partnerships = partnerships.filter(
            Q(**{f"{other}__legal_name__icontains": search}) | Q(**{f"{other}__partner_id": search})
        )
    return partnerships


#: The columns a row of the partnership lists shows (a provider's Indirect resellers, a reseller's Indirect
#: providers): the partnership's own, and the other side's as annotations ``other_<name>`` read in the same
#: join (one model instance a row, and the rest of three wide tables stays unread).
_PARTNERSHIP_ROW = ("public_id", "status", "started_at", "ended_at")
_PARTNERSHIP_ROW_OTHER_SIDE = {
    Organization.Kind.PROVIDER: {
        "other_name": "reseller__legal_name",
        "other_partner_id": "reseller__partner_id",
        "other_country": "reseller__country",
    },
    Organization.Kind.RESELLER: {
        "other_name": "provider__legal_name",
        "other_country": "provider__country",
        "other_contact_email": "provider__provider_listing__contact_email",
        "other_contact_phone": "provider__provider_listing__contact_phone",
    },
}


def partnership_list_rows(organization: Organization, *, status: str = "", search: str = "") -> QuerySet:
    """``partnerships_of`` with only the columns a row of the organization's partnership list shows: the
    other side's as ``other_name``, ``other_country`` (a code) and, by side, ``other_partner_id`` or
    ``other_contact_email`` and ``other_contact_phone`` (None without a listing)."""
    other_side = _PARTNERSHIP_ROW_OTHER_SIDE.get(organization.kind, {})
    return (
        partnerships_of(organization, status=status, search=search)
        .select_related(None)
        .only(*_PARTNERSHIP_ROW)
        .annotate(**{name: F(column) for name, column in other_side.items()})
    )


#: (kind of organization, status, ordering, count) -> the compiled query of ``partnership_list_rows_first``
_partnership_rows_first: dict[tuple, PreparedQuery] = {}


def partnership_list_rows_first(
    organization: Organization, *, status: str, ordering: tuple[str, ...], count: int
) -> list[Partnership]:
    """The first ``count`` of ``partnership_list_rows(organization, status=status)`` (no search) in
    ``ordering``: the first page of a partnership list, its SQL compiled once per process for each side
    and status (``portal.prepared``). ``status`` is one of the list's filters, a handful of values: each is
    a query of its own, compiled with the status in its SQL."""
    key = (organization.kind, status, ordering, count)
    query = _partnership_rows_first.get(key)
    if query is None:
        kind = organization.kind
        side = "provider" if kind == Organization.Kind.PROVIDER else "reseller"

        def build(organization_id):
            rows = partnership_list_rows(Organization(pk=organization_id, kind=kind), status=status)
            return rows.order_by(*ordering)[:count]

        query = _partnership_rows_first[key] = PreparedQuery(
            build, organization_id=Partnership._meta.get_field(side)
        )
    return query.objects(organization_id=organization.pk)


def partnership_get(organization: Organization, public_id) -> Partnership | None:
    """One partnership of which ``organization`` is a side; None for anyone else's."""
    return (
        Partnership.objects.filter(Q(provider=organization) | Q(reseller=organization), public_id=public_id)
        .select_related("provider", "reseller", "provider__provider_listing", "ended_by", "authorized_by")
        .first()
    )


def partnership_active_between(provider: Organization, reseller: Organization) -> Partnership | None:
    return Partnership.objects.filter(
        provider=provider, reseller=reseller, status=Partnership.Status.ACTIVE
    ).first()


def invitations_sent(provider: Organization, *, status: str = "", search: str = "") -> QuerySet:
    invitations = PartnershipInvitation.objects.filter(organization=provider).select_related("invited_by")
    if status:
        invitations = invitations.filter(status=status)
    if search:
        invitations = invitations.filter(Q(email__icontains=search) | Q(partner_id=search))
    return invitations


def invitation_list_rows(provider: Organization, *, status: str = "", search: str = "") -> QuerySet:
    """``invitations_sent`` with only the columns a row of the provider's invitations list shows."""
    return invitations_sent(provider, status=status, search=search).only(
        "public_id",
        "email",
        "partner_id",
        "status",
        "emailed_at",
        "created_at",
        "expires_at",
        "invited_by__full_name",
        "invited_by__email",
    )


def invitation_get(provider: Organization, public_id) -> PartnershipInvitation | None:
    return PartnershipInvitation.objects.filter(organization=provider, public_id=public_id).first()


def requests_received(provider: Organization, *, status: str = "") -> QuerySet:
    requests = PartnershipRequest.objects.filter(provider=provider).select_related("reseller", "requested_by")
    return requests.filter(status=status) if status else requests


def requests_received_list_rows(provider: Organization, *, status: str = "") -> QuerySet:
    """``requests_received`` with only the columns a row of the provider's list of requests shows: the
    reseller's as ``reseller_name``, ``reseller_partner_id`` and ``reseller_country`` (a code), the
    requester's address as ``requested_by_email`` (None: nobody)."""
    return (
        requests_received(provider, status=status)
        .select_related(None)
        .only("public_id", "status", "message", "reason", "created_at")
        .annotate(
            reseller_name=F("reseller__legal_name"),
            reseller_partner_id=F("reseller__partner_id"),
            reseller_country=F("reseller__country"),
            requested_by_email=F("requested_by__email"),
        )
    )


def requests_sent(reseller: Organization) -> QuerySet:
    return PartnershipRequest.objects.filter(reseller=reseller).select_related("provider")


def requests_sent_list_rows(reseller: Organization) -> QuerySet:
    """``requests_sent`` with only the columns a row of the reseller's list of its requests shows, the
    provider's name as ``provider_name``."""
    return (
        requests_sent(reseller)
        .select_related(None)
        .only("public_id", "status", "message", "reason", "created_at", "decided_at")
        .annotate(provider_name=F("provider__legal_name"))
    )


#: (ordering, count) -> the compiled query of ``requests_sent_list_rows_first``
_requests_sent_first: dict[tuple, PreparedQuery] = {}


def requests_sent_list_rows_first(
    reseller: Organization, *, ordering: tuple[str, ...], count: int
) -> list[PartnershipRequest]:
    """The first ``count`` of ``requests_sent_list_rows(reseller)`` in ``ordering``, its SQL compiled once
    per process (``portal.prepared``)."""
    query = _requests_sent_first.get((ordering, count))
    if query is None:

        def build(reseller_id):
            return requests_sent_list_rows(Organization(pk=reseller_id)).order_by(*ordering)[:count]

        query = _requests_sent_first[ordering, count] = PreparedQuery(
            build, reseller_id=PartnershipRequest._meta.get_field("reseller")
        )
    return query.objects(reseller_id=reseller.pk)


def request_get(provider: Organization, public_id) -> PartnershipRequest | None:
    return requests_received(provider).filter(public_id=public_id).first()


def request_open_between(reseller: Organization, provider: Organization) -> PartnershipRequest | None:
    return PartnershipRequest.objects.filter(
        reseller=reseller, provider=provider, status=PartnershipRequest.Status.OPEN
    ).first()


def bulk_run_get(provider: Organization, public_id) -> BulkInvitationRun | None:
    return BulkInvitationRun.objects.filter(organization=provider, public_id=public_id).first()


def bulk_run_rows(run: BulkInvitationRun) -> QuerySet:
    return BulkInvitationRow.objects.filter(run=run).order_by("line")


def organization_notified(
    organization: Organization, *, permission: str = Permission.PARTNERS_MANAGE
) -> list[User]:
    """The active members who hear about the organization's partnerships: those who may manage them."""
    members = (
        Membership.objects.filter(
            organization=organization, status=Membership.Status.ACTIVE, user__is_active=True
        )
        .select_related("user")
        .prefetch_related("roles")
        .order_by("id")
    )
    return [member.user for member in members if permission in permissions_for(member.role_names)]
