"""The providers' services, without the pages: invitations (create, draft, email, resend, revoke), requests
(create, decline, withdraw), ending a partnership, and the listing services. Every refusal names its
field where a form has one, and changes nothing: no row, no audit event, no email."""

import pytest
from django.utils import translation

from accounts.models import Organization
from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.errors import DomainError, InvalidTransition
from portal.invitations.binding import InvitationUnusable
from portal.invitations.models import LinkInvitationStatus
from portal.invitations.services import link_invitation_lookup
from portal.mail.models import OutboxEmail
from portal.mail.services import outbox_email_content
from portal.tokens import token_hash
from providers.models import (
    Partnership,
    PartnershipInvitation,
    PartnershipRequest,
    ProviderListing,
)
from providers.selectors import directory_listings, partnerships_of
from providers.services import invitations, listings, partnerships, requests
from tests.factories.accounts import MembershipFactory, StaffFactory, UserFactory
from tests.factories.providers import (
    PartnershipFactory,
    PartnershipInvitationFactory,
    PartnershipRequestFactory,
    ProviderFactory,
    ResellerFactory,
)

pytestmark = pytest.mark.django_db

Status = LinkInvitationStatus


def world() -> tuple:
    """Everything a provider service could write."""
    return (
        list(
            PartnershipInvitation.objects.order_by("pk").values_list(
                "pk", "status", "token_hash", "emailed_at"
            )
        ),
        list(PartnershipRequest.objects.order_by("pk").values_list("pk", "status", "reason")),
        list(Partnership.objects.order_by("pk").values_list("pk", "status", "end_reason")),
        list(
            ProviderListing.objects.order_by("pk").values_list(
                "pk", "description", "website", "contact_email", "visible", "updated_at"
            )
        ),
        sorted(ProviderListing.objects.values_list("pk", "countries__country", "languages__language")),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


def refused(call, **kwargs) -> DomainError:
    """Run a service that must refuse; prove that it changed nothing; return its error."""
    before = world()
    with pytest.raises(DomainError) as error:
        call(**kwargs)
    assert world() == before
    return error.value


def admin_of(organization, *, roles=(Role.GLOBAL_ADMIN,), **user):
    return MembershipFactory(organization=organization, user=UserFactory(**user), roles=list(roles))


@pytest.fixture
def provider_admin():
    return admin_of(ProviderFactory(legal_name="Contoso KK"), full_name="Kenji Sato")


@pytest.fixture
def reseller_admin():
    return admin_of(
        ResellerFactory(legal_name="Fabrikam KK", partner_id="1234567"), email="rei@fabrikam.example"
    )


def create(provider_admin, email="rei@fabrikam.example", **kwargs):
    return invitations.partnership_invitation_create(
        provider=provider_admin.organization, email=email, by=provider_admin, **kwargs
    )


# --- Invitations: create ------------------------------------------------------------------------------


def test_an_invitation_is_pending_for_30_days_bound_to_the_address_and_sends_nothing_yet(provider_admin):
    invitation, raw = create(provider_admin, email="  Rei@Fabrikam.EXAMPLE ", language="ja")

    assert (invitation.email, invitation.partner_id, invitation.language) == (
        "rei@fabrikam.example",
        "",
        "ja",
    )
    assert invitation.status == Status.PENDING
    assert invitation.token_hash == token_hash(raw)
    assert invitation.invited_by == provider_admin.user
    assert round((invitation.expires_at - invitation.created_at).total_seconds() / 86400) == 30
    event = AuditEvent.objects.get()
    assert (event.action, event.organization_id, event.actor_id) == (
        "partnership_invitation.sent",
        provider_admin.organization_id,
        provider_admin.user_id,
    )
    assert event.after["email"] == "rei@fabrikam.example"
    assert raw not in str(event.after)
    # The provider sends the draft itself, or asks the portal to: nothing is emailed yet.
    assert not OutboxEmail.objects.exists()


def test_the_invitation_language_defaults_to_the_inviters(provider_admin):
    provider_admin.user.preferred_language = "ja"
    provider_admin.user.save(update_fields=["preferred_language"])

    invitation, _raw = create(provider_admin)

    assert invitation.language == "ja"


def test_a_partner_id_binds_the_invitation_to_that_reseller(provider_admin):
    invitation, _raw = create(provider_admin, partner_id=" 7654321 ")

    assert invitation.partner_id == "7654321"
    assert AuditEvent.objects.get().after["partner_id"] == "7654321"


@pytest.mark.parametrize(
    ("email", "partner_id", "field", "code", "message"),
    [
        ("", "", "email", "required", "Enter the reseller's email address."),
        ("   ", "", "email", "required", "Enter the reseller's email address."),
        ("not-an-email", "", "email", "email_invalid", "Enter a valid email address."),
        ("rei@", "", "email", "email_invalid", "Enter a valid email address."),
        (
            "rei@fabrikam.example",
            "123456",
            "partner_id",
            "partner_id_format",
            "A partner ID is exactly 7 digits.",
        ),
        (
            "rei@fabrikam.example",
            "12345678",
            "partner_id",
            "partner_id_format",
            "A partner ID is exactly 7 digits.",
        ),
        (
            "rei@fabrikam.example",
            "12a4567",
            "partner_id",
            "partner_id_format",
            "A partner ID is exactly 7 digits.",
        ),
    ],
)
def test_bad_addresses_and_partner_ids_are_refused_at_their_field(
    provider_admin, email, partner_id, field, code, message
):
    error = refused(create, provider_admin=provider_admin, email=email, partner_id=partner_id)

    assert (error.field, error.code, str(error.message)) == (field, code, message)


def test_a_reseller_that_is_already_a_partner_is_not_invited_again(provider_admin, reseller_admin):
    PartnershipFactory(provider=provider_admin.organization, reseller=reseller_admin.organization)

    error = refused(create, provider_admin=provider_admin, partner_id="1234567")

    assert (error.field, error.code) == ("partner_id", "already_partners")
    assert str(error.message) == "The reseller with partner ID 1234567 is already your partner."


def test_an_ended_partnership_does_not_stop_a_new_invitation(provider_admin, reseller_admin):
    PartnershipFactory(
        provider=provider_admin.organization, reseller=reseller_admin.organization, status="ended"
    )

    invitation, _raw = create(provider_admin, partner_id="1234567")

    assert invitation.status == Status.PENDING


def test_the_hourly_limit_holds_per_provider(provider_admin, settings):
    settings.INVITATIONS_PER_HOUR = 2
    create(provider_admin, email="a@example.com")
    create(provider_admin, email="b@example.com")

    error = refused(create, provider_admin=provider_admin, email="c@example.com")

    assert error.code == "rate_limited"
    assert str(error.message) == "Too many invitations were sent in the last hour. Try again later."
    # Another provider has its own allowance.
    other = admin_of(ProviderFactory())
    assert create(other, email="c@example.com")[0].status == Status.PENDING


def test_a_new_invitation_to_the_same_address_replaces_the_pending_one(provider_admin):
    first, first_raw = create(provider_admin)

    second, second_raw = create(provider_admin)

    first.refresh_from_db()
    assert (first.status, second.status) == (Status.REVOKED, Status.PENDING)
    assert link_invitation_lookup(PartnershipInvitation, first_raw).status == Status.REVOKED
    assert link_invitation_lookup(PartnershipInvitation, second_raw) == second
    assert AuditEvent.objects.filter(action="partnership_invitation.superseded").count() == 1


@pytest.mark.parametrize("roles", [[Role.ADMIN_AGENT], [Role.SALES_AGENT], [Role.HELPDESK_AGENT]])
def test_members_who_do_not_manage_partners_cannot_invite(roles):
    member = admin_of(ProviderFactory(), roles=roles)

    error = refused(create, provider_admin=member)

    assert error.code == "actor_not_permitted"


def test_an_account_admin_may_invite():
    member = admin_of(ProviderFactory(), roles=[Role.ACCOUNT_ADMIN])

    assert create(member)[0].status == Status.PENDING


def test_a_reseller_cannot_send_partnership_invitations(reseller_admin):
    error = refused(create, provider_admin=reseller_admin)

    assert error.code == "wrong_kind"


def test_a_deactivated_member_or_a_suspended_provider_cannot_invite(provider_admin):
    Organization.objects.filter(pk=provider_admin.organization_id).update(status="suspended")
    provider_admin.organization.refresh_from_db()

    assert refused(create, provider_admin=provider_admin).code == "actor_not_permitted"


# --- Invitations: the draft and the portal's email ------------------------------------------------------


def test_the_draft_holds_the_personal_link_in_the_invitations_language(provider_admin):
    invitation, raw = create(provider_admin, language="en")

    draft = invitations.invitation_draft(invitation=invitation, raw_token=raw)

    assert draft.link == f"https://portal.test/invitations/partnership/{raw}/"
    assert draft.link in draft.body
    assert draft.subject == "Contoso KK invites you to authorise it as your indirect provider"
    assert "Kenji Sato of Contoso KK invites your organization" in draft.body


def test_the_portal_sends_the_edited_draft_with_the_link_sealed(provider_admin):
    invitation, raw = create(provider_admin)
    link = f"https://portal.test/invitations/partnership/{raw}/"
    body = f"Dear Rei,\n\nplease authorise us:\n{link}\n\nKenji"

    invitations.partnership_invitation_email(
        invitation=invitation, raw_token=raw, subject="  Let's   work together ", body=body, by=provider_admin
    )

    email = OutboxEmail.objects.get()
    assert (email.to, email.subject, email.template, email.reply_to, email.organization_id) == (
        "rei@fabrikam.example",
        "Let's work together",
        "partnership_invitation",
        provider_admin.user.email,
        provider_admin.organization_id,
    )
    assert link not in email.body_text and raw not in email.body_text
    assert outbox_email_content(email).body_text == body + "\n"
    invitation.refresh_from_db()
    assert invitation.emailed_at is not None
    assert AuditEvent.objects.filter(action="partnership_invitation.emailed").count() == 1


@pytest.mark.parametrize(
    ("subject", "body", "field", "code"),
    [
        ("Hello", "Please authorise us.", "body", "link_missing"),
        ("Hello", "", "body", "required"),
        ("", "LINK", "subject", "required"),
        ("x" * 201, "LINK", "subject", "too_long"),
        ("Hello", "LINK\u202e", "body", "control_characters"),
    ],
)
def test_a_draft_without_its_link_or_a_subject_is_refused(provider_admin, subject, body, field, code):
    invitation, raw = create(provider_admin)
    link = f"https://portal.test/invitations/partnership/{raw}/"

    error = refused(
        invitations.partnership_invitation_email,
        invitation=invitation,
        raw_token=raw,
        subject=subject,
        body=body.replace("LINK", link),
        by=provider_admin,
    )

    assert (error.field, error.code) == (field, code)
    if code == "link_missing":
        assert str(error.message) == (
            f"Keep the personalised link {link} in the message: without it the recipient cannot accept."
        )


def test_a_draft_of_an_older_link_or_a_closed_invitation_is_not_sent(provider_admin):
    invitation, raw = create(provider_admin)
    link = f"https://portal.test/invitations/partnership/{raw}/"
    send = invitations.partnership_invitation_email
    assert (
        refused(
            send, invitation=invitation, raw_token="forged", subject="s", body=link, by=provider_admin
        ).code
        == "draft_stale"
    )

    invitations.partnership_invitation_revoke(invitation=invitation, by=provider_admin)

    error = refused(send, invitation=invitation, raw_token=raw, subject="s", body=link, by=provider_admin)
    assert error.code == "invitation_closed"


# --- Invitations: resend and revoke ----------------------------------------------------------------------


def test_resend_issues_a_new_link_and_the_old_one_is_dead(provider_admin, reseller_admin):
    old, old_raw = create(provider_admin, partner_id="1234567", language="ja")

    new, new_raw = invitations.partnership_invitation_resend(invitation=old, by=provider_admin)

    assert new.pk != old.pk and new_raw != old_raw
    assert (new.email, new.partner_id, new.language, new.status) == (
        "rei@fabrikam.example",
        "1234567",
        "ja",
        Status.PENDING,
    )
    dead = link_invitation_lookup(PartnershipInvitation, old_raw)
    assert dead.pk == old.pk and dead.status == Status.REVOKED
    with pytest.raises(InvitationUnusable) as error:
        partnerships.partnership_invitation_check(dead, reseller_admin.user)
    assert error.value.code == "invitation_closed"
    partnerships.partnership_invitation_check(
        link_invitation_lookup(PartnershipInvitation, new_raw), reseller_admin.user
    )


def test_an_expired_invitation_can_be_resent(provider_admin):
    old = PartnershipInvitationFactory(organization=provider_admin.organization, status=Status.EXPIRED)

    new, _raw = invitations.partnership_invitation_resend(invitation=old, by=provider_admin)

    assert new.status == Status.PENDING and new.email == old.email


def test_an_accepted_invitation_is_not_resent(provider_admin):
    old = PartnershipInvitationFactory(organization=provider_admin.organization, status=Status.ACCEPTED)

    error = refused(invitations.partnership_invitation_resend, invitation=old, by=provider_admin)

    assert error.code == "invitation_accepted"


def test_an_invitation_to_a_reseller_that_became_a_partner_is_not_resent(provider_admin, reseller_admin):
    old = PartnershipInvitationFactory(
        organization=provider_admin.organization, partner_id="1234567", status=Status.EXPIRED
    )
    PartnershipFactory(provider=provider_admin.organization, reseller=reseller_admin.organization)

    error = refused(invitations.partnership_invitation_resend, invitation=old, by=provider_admin)

    assert error.code == "already_partners"


def test_revoke_closes_the_link_and_twice_is_an_error(provider_admin, reseller_admin):
    invitation, raw = create(provider_admin)

    invitations.partnership_invitation_revoke(invitation=invitation, by=provider_admin)

    invitation.refresh_from_db()
    assert (invitation.status, invitation.decided_by) == (Status.REVOKED, provider_admin.user)
    event = AuditEvent.objects.get(action="partnership_invitation.revoked")
    assert (event.organization_id, event.actor_id) == (provider_admin.organization_id, provider_admin.user_id)
    with pytest.raises(InvitationUnusable):
        partnerships.partnership_invitation_check(
            link_invitation_lookup(PartnershipInvitation, raw), reseller_admin.user
        )

    error = refused(invitations.partnership_invitation_revoke, invitation=invitation, by=provider_admin)
    assert isinstance(error, InvalidTransition)
    assert str(error.message) == "This action is no longer possible: the item is Revoked."


def test_another_providers_member_cannot_revoke_or_resend(provider_admin):
    invitation, _raw = create(provider_admin)
    stranger = admin_of(ProviderFactory())

    for service in (invitations.partnership_invitation_revoke, invitations.partnership_invitation_resend):
        assert refused(service, invitation=invitation, by=stranger).code == "actor_not_permitted"


# --- Invitations: who may use the link ------------------------------------------------------------------


def test_an_address_bound_link_is_for_its_address_only(provider_admin, reseller_admin):
    invitation, _raw = create(provider_admin, email="someone.else@fabrikam.example")

    with pytest.raises(InvitationUnusable) as error:
        partnerships.partnership_invitation_check(invitation, reseller_admin.user)

    assert error.value.code == "invitation_wrong_email"


def test_a_partner_id_bound_link_is_for_any_global_admin_or_admin_agent_of_that_reseller(
    provider_admin, reseller_admin
):
    invitation, _raw = create(provider_admin, email="sales@fabrikam.example", partner_id="1234567")
    agent = admin_of(reseller_admin.organization, roles=[Role.ADMIN_AGENT])
    sales = admin_of(reseller_admin.organization, roles=[Role.SALES_AGENT])
    other_reseller = admin_of(ResellerFactory())

    partnerships.partnership_invitation_check(invitation, reseller_admin.user)
    partnerships.partnership_invitation_check(invitation, agent.user)
    assert partnerships.acceptable_resellers(invitation, agent.user) == [reseller_admin.organization]
    for user in (sales.user, other_reseller.user):
        with pytest.raises(InvitationUnusable) as error:
            partnerships.partnership_invitation_check(invitation, user)
        assert error.value.code == "invitation_wrong_partner"


# --- Requests -------------------------------------------------------------------------------------------


def ask(reseller_admin, listing, message="We resell in Osaka."):
    return requests.partnership_request_create(
        reseller=reseller_admin.organization, listing=listing, message=message, by=reseller_admin
    )


def test_a_reseller_asks_a_provider_and_its_partner_managers_hear_of_it(provider_admin, reseller_admin):
    account_admin = admin_of(provider_admin.organization, roles=[Role.ACCOUNT_ADMIN])
    admin_of(provider_admin.organization, roles=[Role.SALES_AGENT], email="sales@contoso.example")
    japanese = admin_of(provider_admin.organization, preferred_language="ja")

    request = ask(
        reseller_admin, provider_admin.organization.provider_listing, message="  We resell in Osaka. "
    )

    assert (request.status, request.message, request.requested_by) == (
        "open",
        "We resell in Osaka.",
        reseller_admin.user,
    )
    assert sorted(
        AuditEvent.objects.filter(action="partnership_request.created").values_list(
            "organization_id", flat=True
        )
    ) == sorted([reseller_admin.organization_id, provider_admin.organization_id])
    emails = {email.to: email for email in OutboxEmail.objects.filter(template="partnership_request")}
    assert sorted(emails) == sorted(
        [provider_admin.user.email, account_admin.user.email, japanese.user.email]
    )
    assert emails[japanese.user.email].language == "ja"
    text = outbox_email_content(emails[provider_admin.user.email]).body_text
    assert "Fabrikam KK found Contoso KK in the directory" in text
    assert "Partner ID: 1234567" in text
    assert "We resell in Osaka." in text


def test_a_provider_that_does_not_serve_the_resellers_country_cannot_be_asked(reseller_admin):
    listing = ProviderFactory(legal_name="Atlantic Inc.", countries=["US"]).provider_listing

    error = refused(ask, reseller_admin=reseller_admin, listing=listing)

    assert error.code == "country_not_served"
    assert str(error.message) == (
        "Atlantic Inc. does not serve resellers in Japan, so it cannot become your indirect provider. "
        "Find a provider that serves your country."
    )


def test_a_current_partner_or_an_open_request_cannot_be_asked_again(provider_admin, reseller_admin):
    listing = provider_admin.organization.provider_listing
    ask(reseller_admin, listing)

    assert refused(ask, reseller_admin=reseller_admin, listing=listing).code == "request_open"

    PartnershipRequest.objects.update(status="withdrawn")
    PartnershipFactory(provider=provider_admin.organization, reseller=reseller_admin.organization)
    assert refused(ask, reseller_admin=reseller_admin, listing=listing).code == "already_partners"


@pytest.mark.parametrize("change", [{"visible": False}, {"authorized_at": None}])
def test_a_hidden_or_unauthorised_listing_cannot_be_asked(reseller_admin, change):
    listing = ProviderFactory().provider_listing
    ProviderListing.objects.filter(pk=listing.pk).update(**change)

    assert refused(ask, reseller_admin=reseller_admin, listing=listing).code == "not_listed"


@pytest.mark.parametrize(("message", "code"), [("x" * 1001, "too_long"), ("Hello\x00", "control_characters")])
def test_a_bad_message_is_refused_at_its_field(provider_admin, reseller_admin, message, code):
    error = refused(
        ask,
        reseller_admin=reseller_admin,
        listing=provider_admin.organization.provider_listing,
        message=message,
    )

    assert (error.field, error.code) == ("message", code)


def test_only_those_who_manage_partners_may_ask(provider_admin, reseller_admin):
    agent = admin_of(reseller_admin.organization, roles=[Role.ADMIN_AGENT])

    error = refused(ask, reseller_admin=agent, listing=provider_admin.organization.provider_listing)

    assert error.code == "actor_not_permitted"


def test_a_provider_cannot_ask_another_provider(provider_admin):
    listing = ProviderFactory().provider_listing

    assert refused(ask, reseller_admin=provider_admin, listing=listing).code == "wrong_kind"


def test_the_provider_declines_with_a_reason_and_the_reseller_is_told(provider_admin, reseller_admin):
    request = ask(reseller_admin, provider_admin.organization.provider_listing)
    OutboxEmail.objects.all().delete()
    decline = requests.partnership_request_decline
    error = refused(decline, request=request, by=provider_admin, reason="   ")
    assert (error.field, error.code, str(error.message)) == (
        "reason",
        "required",
        "Tell the reseller why you decline.",
    )

    declined = decline(request=request, by=provider_admin, reason="We take no new resellers this year.")

    assert (declined.status, declined.reason, declined.decided_by) == (
        "declined",
        "We take no new resellers this year.",
        provider_admin.user,
    )
    assert sorted(
        AuditEvent.objects.filter(action="partnership_request.declined").values_list(
            "organization_id", flat=True
        )
    ) == sorted([reseller_admin.organization_id, provider_admin.organization_id])
    email = OutboxEmail.objects.get()
    assert (email.to, email.template) == (reseller_admin.user.email, "partnership_request_declined")
    text = outbox_email_content(email).body_text
    assert "Contoso KK declined the request of Fabrikam KK to become its indirect provider." in text
    assert "Reason: We take no new resellers this year." in text
    # Declined once is final; the reseller may ask again.
    assert isinstance(refused(decline, request=request, by=provider_admin, reason="again"), InvalidTransition)
    assert ask(reseller_admin, provider_admin.organization.provider_listing).status == "open"


def test_the_reseller_withdraws_its_request_and_it_can_no_longer_be_answered(provider_admin, reseller_admin):
    request = ask(reseller_admin, provider_admin.organization.provider_listing)

    withdrawn = requests.partnership_request_withdraw(request=request, by=reseller_admin)

    assert (withdrawn.status, withdrawn.decided_by) == ("withdrawn", reseller_admin.user)
    assert AuditEvent.objects.filter(
        action="partnership_request.withdrawn", organization_id=reseller_admin.organization_id
    ).exists()
    error = refused(requests.partnership_request_decline, request=request, by=provider_admin, reason="No")
    assert isinstance(error, InvalidTransition)
    error = refused(requests.partnership_request_withdraw, request=request, by=reseller_admin)
    assert isinstance(error, InvalidTransition)


def test_only_the_requests_own_sides_may_withdraw_or_decline_it(provider_admin, reseller_admin):
    request = ask(reseller_admin, provider_admin.organization.provider_listing)
    other_reseller = admin_of(ResellerFactory())
    other_provider = admin_of(ProviderFactory())

    assert refused(requests.partnership_request_withdraw, request=request, by=other_reseller).code == (
        "actor_not_permitted"
    )
    assert refused(
        requests.partnership_request_decline, request=request, by=other_provider, reason="No"
    ).code == ("actor_not_permitted")


def test_an_invitation_answers_the_request(provider_admin, reseller_admin):
    request = ask(reseller_admin, provider_admin.organization.provider_listing)

    invitation, _raw = create(provider_admin, partner_id="1234567", request=request)

    request.refresh_from_db()
    assert (invitation.request, request.status, request.decided_by) == (
        request,
        "invited",
        provider_admin.user,
    )
    assert AuditEvent.objects.filter(action="partnership_request.invited").count() == 1


def test_an_invitation_cannot_answer_another_providers_request(provider_admin, reseller_admin):
    request = PartnershipRequestFactory(reseller=reseller_admin.organization)

    error = refused(create, provider_admin=provider_admin, request=request)

    assert error.code == "request_unknown"


# --- Ending a partnership -------------------------------------------------------------------------------


@pytest.fixture
def partnership(provider_admin, reseller_admin):
    return PartnershipFactory(provider=provider_admin.organization, reseller=reseller_admin.organization)


def test_ending_needs_a_reason(partnership, provider_admin):
    error = refused(partnerships.partnership_end, partnership=partnership, by=provider_admin, reason=" \n ")

    assert (error.field, error.code, str(error.message)) == (
        "reason",
        "required",
        "Say why the partnership ends.",
    )


def test_the_provider_ends_it_both_sides_are_told_in_their_language_and_it_stays_in_both_histories(
    partnership, provider_admin, reseller_admin
):
    japanese = admin_of(reseller_admin.organization, preferred_language="ja", email="kenta@fabrikam.example")
    admin_of(reseller_admin.organization, roles=[Role.HELPDESK_AGENT], email="help@fabrikam.example")

    ended = partnerships.partnership_end(partnership=partnership, by=provider_admin, reason="Contract over.")

    assert (ended.status, ended.ended_by, ended.ended_by_side, ended.end_reason) == (
        "ended",
        provider_admin.user,
        "provider",
        "Contract over.",
    )
    assert ended.ended_at is not None
    events = AuditEvent.objects.filter(action="partnership.ended")
    assert sorted(events.values_list("organization_id", flat=True)) == sorted(
        [provider_admin.organization_id, reseller_admin.organization_id]
    )
    assert all(event.after["reason"] == "Contract over." for event in events)
    emails = {email.to: email for email in OutboxEmail.objects.filter(template="partnership_ended")}
    assert sorted(emails) == sorted(
        [provider_admin.user.email, reseller_admin.user.email, japanese.user.email]
    )
    assert emails[provider_admin.user.email].subject == "Partnership ended: Contoso KK and Fabrikam KK"
    assert emails[japanese.user.email].language == "ja"
    assert emails[japanese.user.email].subject == "パートナーシップ終了: Contoso KK と Fabrikam KK"
    text = outbox_email_content(emails[reseller_admin.user.email]).body_text
    assert "Contoso KK ended the partnership between Contoso KK (indirect provider) and Fabrikam KK" in text
    assert "Reason: Contract over." in text
    assert list(partnerships_of(provider_admin.organization)) == [partnership]
    assert list(partnerships_of(reseller_admin.organization)) == [partnership]


def test_the_reseller_may_end_it_too(partnership, reseller_admin):
    ended = partnerships.partnership_end(partnership=partnership, by=reseller_admin, reason="We moved on.")

    assert (ended.ended_by_side, ended.ended_by) == ("reseller", reseller_admin.user)


def test_an_ended_partnership_cannot_be_ended_again_and_the_pair_may_partner_anew(
    partnership, provider_admin, reseller_admin
):
    partnerships.partnership_end(partnership=partnership, by=provider_admin, reason="Contract over.")

    error = refused(partnerships.partnership_end, partnership=partnership, by=reseller_admin, reason="Again")

    assert isinstance(error, InvalidTransition)
    again = PartnershipFactory(provider=provider_admin.organization, reseller=reseller_admin.organization)
    assert list(partnerships_of(reseller_admin.organization)) == [again, partnership]


def test_only_the_two_sides_partner_managers_may_end_it(partnership, reseller_admin):
    agent = admin_of(reseller_admin.organization, roles=[Role.ADMIN_AGENT])
    stranger = admin_of(ProviderFactory())

    assert refused(partnerships.partnership_end, partnership=partnership, by=agent, reason="x").code == (
        "actor_not_permitted"
    )
    assert refused(partnerships.partnership_end, partnership=partnership, by=stranger, reason="x").code == (
        "not_a_side"
    )


# --- Listings -------------------------------------------------------------------------------------------

GOOD_LISTING = {
    "description": "  Distributor for Japan.  ",
    "website": "https://contoso.example",
    "contact_email": "Partners@Contoso.example",
    "contact_phone": "+81 3-1234-5678",
    "offers_customer_support": True,
    "offers_marketing": "on",
}


def test_the_provider_edits_its_listing_and_the_audit_names_what_changed(provider_admin):
    listing = provider_admin.organization.provider_listing

    updated = listings.listing_update(
        listing=listing, by=provider_admin, values=GOOD_LISTING, languages=["ja", "en", "ja"]
    )

    assert (updated.description, updated.website, updated.contact_email, updated.contact_phone) == (
        "Distributor for Japan.",
        "https://contoso.example",
        "partners@contoso.example",
        "+81 3-1234-5678",
    )
    assert updated.help_kinds == ["Support for resellers' customers", "Marketing help"]
    assert sorted(listing.languages.values_list("language", flat=True)) == ["en", "ja"]
    event = AuditEvent.objects.get(action="provider_listing.updated")
    assert set(event.after) == {
        "description",
        "website",
        "contact_email",
        "contact_phone",
        "offers_customer_support",
        "offers_marketing",
        "languages",
    }
    assert event.before["languages"] == ["en"] and event.after["languages"] == ["en", "ja"]


@pytest.mark.parametrize(
    ("changes", "languages", "field", "code"),
    [
        ({"website": "ftp://contoso.example"}, ["en"], "website", "invalid"),
        ({"website": "not a url"}, ["en"], "website", "invalid"),
        ({"contact_email": "partners@"}, ["en"], "contact_email", "invalid"),
        ({"description": "x" * 2001}, ["en"], "description", "too_long"),
        ({"contact_phone": "1" * 41}, ["en"], "contact_phone", "too_long"),
        ({}, ["xx"], "languages", "languages_unknown"),
    ],
)
def test_bad_listing_values_are_refused_at_their_field(provider_admin, changes, languages, field, code):
    error = refused(
        listings.listing_update,
        listing=provider_admin.organization.provider_listing,
        by=provider_admin,
        values={**GOOD_LISTING, **changes},
        languages=languages,
    )

    assert (error.field, error.code) == (field, code)


def test_only_the_providers_partner_managers_edit_its_listing(provider_admin):
    listing = provider_admin.organization.provider_listing
    sales = admin_of(provider_admin.organization, roles=[Role.SALES_AGENT])
    stranger = admin_of(ProviderFactory())

    for member in (sales, stranger):
        error = refused(
            listings.listing_update, listing=listing, by=member, values=GOOD_LISTING, languages=[]
        )
        assert error.code == "actor_not_permitted"
        error = refused(listings.listing_visibility_set, listing=listing, by=member, visible=False)
        assert error.code == "actor_not_permitted"


def test_a_hidden_listing_leaves_the_directory_and_comes_back(provider_admin):
    listing = provider_admin.organization.provider_listing

    listings.listing_visibility_set(listing=listing, by=provider_admin, visible=False)

    assert listing not in directory_listings()
    assert AuditEvent.objects.get().action == "provider_listing.hidden"
    # Hiding again changes nothing.
    before = world()
    listings.listing_visibility_set(listing=listing, by=provider_admin, visible=False)
    assert world() == before

    listings.listing_visibility_set(listing=listing, by=provider_admin, visible=True)

    assert listing in directory_listings()
    assert AuditEvent.objects.filter(action="provider_listing.shown").count() == 1


def test_only_staff_create_providers_and_set_the_countries_they_serve():
    not_staff = UserFactory()
    listing = ProviderFactory(countries=["JP"]).provider_listing

    error = refused(
        listings.provider_create,
        legal_name="Blue Yonder KK",
        country="JP",
        countries_served=["JP"],
        admin_email="admin@blueyonder.example",
        admin_language="en",
        by=not_staff,
    )
    assert error.code == "not_staff"
    error = refused(listings.provider_countries_set, listing=listing, countries=["US"], by=not_staff)
    assert error.code == "not_staff"


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"countries_served": []}, "countries_served", "countries_required"),
        ({"countries_served": ["JP", "ZZ"]}, "countries_served", "countries_unknown"),
        ({"country": "ZZ"}, "country", "country_unknown"),
        ({"legal_name": ""}, "legal_name", "required"),
        ({"languages": ["xx"]}, "languages", "languages_unknown"),
        ({"legal_name": "Blue\nYonder"}, "legal_name", "control_characters"),
        ({"admin_email": " "}, "admin_email", "required"),
        ({"admin_email": "admin@"}, "admin_email", "invalid"),
    ],
)
def test_a_provider_with_bad_details_is_not_created(changes, field, code):
    staff = StaffFactory()
    organizations = Organization.objects.count()
    details = {
        "legal_name": "Blue Yonder KK",
        "country": "JP",
        "countries_served": ["JP"],
        "admin_email": "admin@blueyonder.example",
        "admin_language": "en",
        "languages": ["en"],
        **changes,
    }

    error = refused(listings.provider_create, by=staff, **details)

    assert (error.field, error.code) == (field, code)
    assert Organization.objects.count() == organizations


def test_staff_change_the_countries_served_with_an_audit_row():
    staff = StaffFactory()
    listing = ProviderFactory(countries=["JP"]).provider_listing

    listings.provider_countries_set(listing=listing, countries=["us", "JP", "US"], by=staff)

    assert sorted(listing.countries.values_list("country", flat=True)) == ["JP", "US"]
    event = AuditEvent.objects.get(action="provider.countries_changed")
    assert (event.actor_id, event.before, event.after) == (
        staff.pk,
        {"countries_served": ["JP"]},
        {"countries_served": ["JP", "US"]},
    )
    with translation.override("en"):
        assert refused(listings.provider_countries_set, listing=listing, countries=[], by=staff).field == (
            "countries_served"
        )
