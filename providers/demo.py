"""Demo providers and partnerships, made through the services a person's clicks call where a person exists.

Six providers in the directory: Contoso Distribution KK (accounts' demo provider: Japan, English and
Japanese, every kind of help), Adventure Works Distribution Inc. (the United States and Japan, with its
own login) and four more without logins, whose first administrators were invited by the reviewer and have
not answered yet. Contoso ↔ Fabrikam is an active partnership; Contoso ↔ Litware Japan (the enrollment
demo's approved reseller) an ended one; Adventure Works has a pending invitation out and an open request
from Fabrikam. Idempotent: what exists is left alone. Passwords are for a local demo only.
"""

from django.utils import timezone

from accounts.demo import DEMO_PASSWORD, _user
from accounts.models import Membership, MembershipInvitation, Organization, User
from accounts.services.invitations import membership_invitation_accept
from portal.audit.services import audit_record
from providers.models import (
    Partnership,
    PartnershipInvitation,
    PartnershipRequest,
    ProviderCountry,
    ProviderListing,
)
from providers.services import invitations, listings, partnerships, requests

ALL_HELP = {
    "offers_customer_support": True,
    "offers_technical_support": True,
    "offers_marketing": True,
    "offers_financing": True,
}

CONTOSO_LISTING = {
    "description": (
        "Distributor for Japan since 2009. We support resellers' customers in Japanese and English around "
        "the clock, train your engineers, run joint marketing campaigns and offer 60-day credit terms."
    ),
    "website": "https://contoso-distribution.example",
    "contact_email": "partners@contoso-distribution.example",
    "contact_phone": "+81 3-1234-5678",
    **ALL_HELP,
}

ADVENTURE_WORKS = {
    "legal_name": "Adventure Works Distribution Inc.",
    "country": "US",
    "address_line1": "1 Microsoft Way",
    "city": "Redmond",
    "region": "WA",
    "postal_code": "98052",
    "support_email": "support@adventure-works.example",
    "support_website": "https://adventure-works.example/support",
    "countries_served": ["US", "JP"],
    "languages": ["en", "ja"],
}
ADVENTURE_WORKS_LISTING = {
    "description": (
        "Cloud distribution across the United States and Japan: a bilingual help desk for your customers, "
        "technical onboarding for new resellers and flexible financing for large subscriptions."
    ),
    "website": "https://adventure-works.example",
    "contact_email": "partners@adventure-works.example",
    "contact_phone": "+1 425-555-0100",
    "offers_customer_support": True,
    "offers_technical_support": True,
    "offers_financing": True,
}

#: Providers without a login: (organization and listing details, the listing's own text and help).
MORE_PROVIDERS = [
    (
        {
            "legal_name": "Relecloud Distribution Ltd.",
            "country": "GB",
            "city": "London",
            "countries_served": ["GB", "IE"],
            "languages": ["en"],
        },
        {
            "description": "Marketing programmes and credit lines for resellers in the UK and Ireland.",
            "website": "https://relecloud.example",
            "offers_marketing": True,
            "offers_financing": True,
        },
    ),
    (
        {
            "legal_name": "Tailwind Traders Asia Pte. Ltd.",
            "country": "SG",
            "city": "Singapore",
            "countries_served": ["SG", "MY", "JP"],
            "languages": ["en", "zh-hans", "ja"],
        },
        {
            "description": (
                "Technical enablement and co-marketing for resellers in South-East Asia and Japan."
            ),
            "website": "https://tailwind-traders.example",
            "offers_technical_support": True,
            "offers_marketing": True,
        },
    ),
    (
        {
            "legal_name": "Lamna Distribution GmbH",
            "country": "DE",
            "city": "Berlin",
            "countries_served": ["DE", "AT", "CH"],
            "languages": ["de", "en"],
        },
        {
            "description": "Kundensupport und Finanzierung für Reseller in der DACH-Region.",
            "website": "https://lamna.example",
            "offers_customer_support": True,
            "offers_financing": True,
        },
    ),
    (
        {
            "legal_name": "Wide World Importers Japan KK",
            "country": "JP",
            "city": "Osaka",
            "countries_served": ["JP"],
            "languages": ["ja"],
        },
        {
            "description": "関西の販売パートナー向けに、技術サポートとお客様サポートを日本語で提供します。",
            "website": "https://wideworldimporters.example",
            "offers_customer_support": True,
            "offers_technical_support": True,
        },
    ),
]

PENDING_INVITEE = "owner@tailspin-toys.example"
LITWARE_PARTNER_ID = "4200005"  # the enrollment demo's approved reseller (enrollment/demo_applications.py)


def _member(organization: Organization, email: str) -> Membership | None:
    return (
        Membership.objects.select_related("user", "organization")
        .filter(organization=organization, user__email=email, status=Membership.Status.ACTIVE)
        .first()
    )


def _contoso_listing(contoso: Organization, reviewer: User, admin: Membership) -> ProviderListing:
    """Accounts' demo made Contoso without a listing: the reviewer authorises it here (as provider_create
    would), and its Global admin writes the listing's text through the listing's service."""
    listing = ProviderListing.objects.filter(organization=contoso).first()
    if listing is not None:
        return listing
    listing = ProviderListing.objects.create(
        organization=contoso, name=contoso.legal_name, authorized_at=timezone.now(), authorized_by=reviewer
    )
    ProviderCountry.objects.create(listing=listing, country="JP")
    audit_record(
        action="provider.authorized",
        actor=reviewer,
        organization=contoso,
        target=listing,
        after={"countries_served": ["JP"]},
    )
    return listings.listing_update(listing=listing, by=admin, values=CONTOSO_LISTING, languages=["en", "ja"])


def _provider(details: dict, *, admin_email: str, admin_language: str, reviewer: User) -> Organization:
    """A provider created by the reviewer on the review site (Add provider), once."""
    existing = Organization.objects.filter(
        kind=Organization.Kind.PROVIDER, legal_name=details["legal_name"]
    ).first()
    if existing is not None:
        return existing
    return listings.provider_create(
        admin_email=admin_email, admin_language=admin_language, by=reviewer, **details
    )


def _adventure_works(reviewer: User) -> tuple[Organization, Membership]:
    """The second provider, whose first administrator (a demo login) accepted the reviewer's invitation."""
    admin_user = _user("provider2.admin@demo.example", full_name="Alex Provider")
    provider = _provider(
        ADVENTURE_WORKS, admin_email=admin_user.email, admin_language="en", reviewer=reviewer
    )
    admin = _member(provider, admin_user.email)
    if admin is None:
        invitation = MembershipInvitation.objects.get(
            organization=provider, email=admin_user.email, status=MembershipInvitation.Status.PENDING
        )
        membership_invitation_accept(invitation=invitation, user=admin_user)
        admin = _member(provider, admin_user.email)
        listings.listing_update(
            listing=provider.provider_listing,
            by=admin,
            values=ADVENTURE_WORKS_LISTING,
            languages=ADVENTURE_WORKS["languages"],
        )
    return provider, admin


def _more_providers(reviewer: User) -> None:
    for details, text in MORE_PROVIDERS:
        domain = text["website"].removeprefix("https://")
        provider = _provider(details, admin_email=f"admin@{domain}", admin_language="en", reviewer=reviewer)
        # Nobody has accepted the invitation yet, so nobody could write the listing's text: seeded as it
        # would read once they had.
        ProviderListing.objects.filter(organization=provider, description="").update(**text)


def _authorised(provider_admin: Membership, reseller: Organization, reseller_user: User) -> Partnership:
    """The provider invites the reseller (bound to its partner ID when it has one, else to the user's
    address) and the reseller's admin authorises it: the acceptance page's path."""
    invitation, _raw = invitations.partnership_invitation_create(
        provider=provider_admin.organization,
        email=reseller_user.email,
        partner_id=reseller.partner_id or "",
        by=provider_admin,
    )
    return partnerships.partnership_authorize(
        invitation=invitation, user=reseller_user, reseller=reseller, consent=True
    )


def load() -> list[tuple[str, str, str]]:
    reviewer = User.objects.get(email="reviewer@demo.example")
    contoso = Organization.objects.get(kind=Organization.Kind.PROVIDER, legal_name="Contoso Distribution KK")
    fabrikam = Organization.objects.get(
        kind=Organization.Kind.RESELLER, legal_name="Fabrikam Cloud Solutions"
    )
    contoso_admin = _member(contoso, "provider.admin@demo.example")
    fabrikam_admin = _member(fabrikam, "reseller.admin@demo.example")

    _contoso_listing(contoso, reviewer, contoso_admin)
    adventure_works, adventure_works_admin = _adventure_works(reviewer)
    _more_providers(reviewer)

    # Contoso ↔ Fabrikam: active.
    if not Partnership.objects.filter(provider=contoso, reseller=fabrikam).exists():
        _authorised(contoso_admin, fabrikam, fabrikam_admin.user)

    # Contoso ↔ Litware Japan: authorised, then ended by Contoso.
    litware = Organization.objects.filter(partner_id=LITWARE_PARTNER_ID).first()
    litware_admin = (
        Membership.objects.select_related("user").filter(organization=litware).order_by("pk").first()
        if litware
        else None
    )
    if litware_admin and not Partnership.objects.filter(provider=contoso, reseller=litware).exists():
        partnership = _authorised(contoso_admin, litware, litware_admin.user)
        partnerships.partnership_end(
            partnership=partnership,
            by=contoso_admin,
            reason="Litware now buys directly from another distributor.",
        )

    # Adventure Works: an invitation out (emailed by the portal), and a request from Fabrikam to answer.
    if not PartnershipInvitation.objects.filter(organization=adventure_works, email=PENDING_INVITEE).exists():
        invitation, raw = invitations.partnership_invitation_create(
            provider=adventure_works, email=PENDING_INVITEE, by=adventure_works_admin
        )
        draft = invitations.invitation_draft(invitation=invitation, raw_token=raw)
        invitations.partnership_invitation_email(
            invitation=invitation,
            raw_token=raw,
            subject=draft.subject,
            body=draft.body,
            by=adventure_works_admin,
        )
    if not PartnershipRequest.objects.filter(provider=adventure_works, reseller=fabrikam).exists():
        requests.partnership_request_create(
            reseller=fabrikam,
            listing=adventure_works.provider_listing,
            message="We resell in Tokyo and Osaka and would like a second distributor for US customers.",
            by=fabrikam_admin,
        )

    return [
        (
            adventure_works_admin.user.email,
            DEMO_PASSWORD,
            f"{adventure_works}: Global admin (provider serving the United States and Japan)",
        )
    ]
