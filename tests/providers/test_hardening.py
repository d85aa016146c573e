"""Defects found by trying the partnership pages as a user and as an attacker, each kept fixed."""

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse

from accounts.models import Membership
from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.errors import DomainError
from portal.mail.models import OutboxEmail
from providers.models import BulkInvitationRow, BulkInvitationRun, PartnershipInvitation, PartnershipRequest
from providers.services.bulk import bulk_run_create, bulk_run_process
from providers.services.invitations import invitation_draft, partnership_invitation_email
from providers.services.partnerships import partnership_invitation_decline
from providers.services.requests import partnership_request_withdraw
from tests.factories.accounts import MembershipFactory, UserFactory
from tests.factories.providers import (
    PartnershipRequestFactory,
    ProviderFactory,
    ResellerFactory,
    partnership_invitation_issued,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider():
    return ProviderFactory(legal_name="Blue Yonder KK", countries=["JP"])


@pytest.fixture
def admin(provider):
    return MembershipFactory(organization=provider, roles=[Role.GLOBAL_ADMIN])


def upload(provider, admin, text: str) -> BulkInvitationRun:
    return bulk_run_create(provider=provider, by=admin, file_name="f.csv", data=text.encode(), language="en")


def outcomes(run) -> list[tuple[int, str]]:
    return list(BulkInvitationRow.objects.filter(run=run).order_by("line").values_list("line", "outcome"))


def test_an_address_longer_than_the_column_is_refused_and_the_run_goes_on(provider, admin):
    long_address = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".example"
    run = upload(provider, admin, f"email\nann@x.example\n{long_address}\nbob@x.example\n")

    run = bulk_run_process(run_id=run.pk)

    assert run.status == BulkInvitationRun.Status.DONE
    assert outcomes(run) == [(2, "sent"), (3, "refused"), (4, "sent")]


@pytest.mark.parametrize(
    "text",
    [
        "email\nbob@x.example,1234567\n",
        "email,partner_id\nbob@x.example,1234567,extra\n",
        "email\na\x00b@x.example\n",
    ],
    ids=["partner-id-without-its-column", "extra-column", "nul"],
)
def test_a_file_with_values_under_no_column_or_a_nul_is_a_field_error(provider, admin, text):
    with pytest.raises(DomainError) as error:
        upload(provider, admin, text)
    assert error.value.field == "file"
    assert not BulkInvitationRun.objects.exists()


def test_an_address_refused_on_an_earlier_line_is_still_invited_by_a_later_good_line(provider, admin):
    run = upload(provider, admin, "email,partner_id\nann@x.example,12\nann@x.example,\n")

    bulk_run_process(run_id=run.pk)

    assert outcomes(run) == [(2, "refused"), (3, "sent")]


def test_a_nul_in_the_edited_draft_is_a_400_not_a_500(client, provider, admin):
    invitation, raw = partnership_invitation_issued(provider, "ann@x.example", by=admin)
    client.force_login(admin.user)
    url = reverse(
        "providers:invitation_send",
        kwargs={
            "organization_public_id": provider.public_id,
            "partnership_invitation_id": invitation.public_id,
        },
    )

    response = client.post(url, {"subject": "Hi", "body": "Hello\x00", "token": raw})

    assert response.status_code == 400
    assert not OutboxEmail.objects.exists()
    assert "no-store" in response["Cache-Control"]  # the draft shows the link: never cached


def test_the_token_is_sealed_wherever_the_sender_copied_it(provider, admin):
    invitation, raw = partnership_invitation_issued(provider, "ann@x.example", by=admin)
    draft = invitation_draft(invitation=invitation, raw_token=raw)

    partnership_invitation_email(
        invitation=invitation, raw_token=raw, subject="Hi", body=f"{draft.body}\nYour code: {raw}\n", by=admin
    )

    stored = OutboxEmail.objects.get(template="partnership_invitation")
    assert raw not in stored.body_text and raw not in stored.subject


def test_a_draft_is_emailed_by_the_portal_once(provider, admin):
    invitation, raw = partnership_invitation_issued(provider, "ann@x.example", by=admin)
    draft = invitation_draft(invitation=invitation, raw_token=raw)
    partnership_invitation_email(
        invitation=invitation, raw_token=raw, subject="Hi", body=draft.body, by=admin
    )
    events = AuditEvent.objects.count()

    with pytest.raises(DomainError) as error:
        partnership_invitation_email(
            invitation=invitation, raw_token=raw, subject="Again", body=draft.body, by=admin
        )

    assert error.value.code == "already_emailed"
    assert OutboxEmail.objects.filter(template="partnership_invitation").count() == 1
    assert AuditEvent.objects.count() == events


def test_a_sender_who_left_hears_nothing_more(provider, admin):
    invitation, _raw = partnership_invitation_issued(provider, "ann@x.example", by=admin)
    Membership.objects.filter(pk=admin.pk).delete()
    other_admin = MembershipFactory(organization=provider, roles=[Role.GLOBAL_ADMIN])
    recipient = UserFactory(email="ann@x.example")

    EmailAddress.objects.update_or_create(
        user=recipient, email=recipient.email, defaults={"verified": True, "primary": True}
    )

    partnership_invitation_decline(
        invitation=PartnershipInvitation.objects.get(pk=invitation.pk), user=recipient
    )

    told = set(OutboxEmail.objects.filter(template="partnership_declined").values_list("to", flat=True))
    assert told == {other_admin.user.email}


def test_a_withdrawn_request_is_in_both_activity_logs(provider):
    reseller = ResellerFactory()
    member = MembershipFactory(organization=reseller, roles=[Role.GLOBAL_ADMIN])
    request = PartnershipRequestFactory(reseller=reseller, provider=provider)

    partnership_request_withdraw(request=request, by=member)

    assert PartnershipRequest.objects.get(pk=request.pk).status == PartnershipRequest.Status.WITHDRAWN
    logged = set(
        AuditEvent.objects.filter(action="partnership_request.withdrawn").values_list(
            "organization_id", flat=True
        )
    )
    assert logged == {reseller.pk, provider.pk}


def test_a_provider_renamed_by_staff_is_found_by_its_new_name(provider):
    from accounts.services.review import organization_details_update
    from providers.selectors import directory_listings
    from tests.factories.accounts import StaffFactory

    organization_details_update(
        organization=provider, changes={"legal_name": "Red Sky KK"}, by=StaffFactory()
    )

    assert [listing.name for listing in directory_listings(search="Red Sky")] == ["Red Sky KK"]
    assert list(directory_listings(search="Blue Yonder")) == []
