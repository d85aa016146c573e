"""The providers' demo: six providers in the directory, two of them with logins, and a partnership in
each state a person can look at; loading it twice changes nothing."""

import pytest
from django.core.management import call_command

from accounts.models import Membership, Organization
from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.invitations.models import LinkInvitationStatus
from portal.mail.models import OutboxEmail
from providers.models import Partnership, PartnershipInvitation, PartnershipRequest, ProviderListing
from providers.selectors import directory_listings

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {
        "organizations": Organization.objects.count(),
        "memberships": Membership.objects.count(),
        "listings": ProviderListing.objects.count(),
        "partnerships": Partnership.objects.count(),
        "invitations": PartnershipInvitation.objects.count(),
        "requests": PartnershipRequest.objects.count(),
        "audit": AuditEvent.objects.count(),
        "emails": OutboxEmail.objects.count(),
    }


def test_the_demo_has_providers_and_partnerships_in_every_state_and_loads_twice(capsys):
    call_command("load_demo")
    printed = capsys.readouterr().out

    listed = {listing.name: listing for listing in directory_listings()}
    assert len(listed) == 6
    contoso = listed["Contoso Distribution KK"]
    assert sorted(str(row.country) for row in contoso.countries.all()) == ["JP"]
    assert sorted(row.language for row in contoso.languages.all()) == ["en", "ja"]
    assert len(contoso.help_kinds) == 4
    adventure_works = listed["Adventure Works Distribution Inc."]
    assert sorted(str(row.country) for row in adventure_works.countries.all()) == ["JP", "US"]
    assert len({str(row.country) for listing in listed.values() for row in listing.countries.all()}) >= 8

    # The second provider's admin is a demo login, Global admin of it.
    admin = Membership.objects.get(user__email="provider2.admin@demo.example")
    assert admin.organization.legal_name == "Adventure Works Distribution Inc."
    assert admin.role_names == [Role.GLOBAL_ADMIN]
    assert "provider2.admin@demo.example" in printed

    # Contoso ↔ Fabrikam active, Contoso ↔ Litware Japan ended; a pending invitation and an open request.
    partnerships = {
        (p.provider.legal_name, p.reseller.legal_name): p.status
        for p in Partnership.objects.select_related("provider", "reseller")
    }
    assert partnerships == {
        ("Contoso Distribution KK", "Fabrikam Cloud Solutions"): "active",
        ("Contoso Distribution KK", "Litware Japan KK"): "ended",
    }
    pending = PartnershipInvitation.objects.get(status=LinkInvitationStatus.PENDING)
    assert (pending.organization.legal_name, pending.emailed_at is not None) == (
        "Adventure Works Distribution Inc.",
        True,
    )
    request = PartnershipRequest.objects.get()
    assert (request.reseller.legal_name, request.provider.legal_name, request.status) == (
        "Fabrikam Cloud Solutions",
        "Adventure Works Distribution Inc.",
        "open",
    )
    first = counts()

    call_command("load_demo")

    assert counts() == first
