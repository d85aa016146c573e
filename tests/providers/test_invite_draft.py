"""A provider invites a reseller from its Indirect resellers pages: the invite form, the editable email
draft (rendered in the POST's response, never behind a redirect, never cached), sending it through the
portal, resend and revoke; and who may do what."""

import html
import re
from urllib.parse import quote

import pytest
from django.urls import reverse

from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.invitations.services import link_invitation_lookup
from portal.mail import sealing
from portal.mail.models import OutboxEmail
from portal.mail.services import outbox_email_content
from providers.models import PartnershipInvitation, PartnershipRequest
from providers.services.invitations import invitation_link
from tests.factories.accounts import MembershipFactory, UserFactory
from tests.factories.providers import (
    PartnershipInvitationFactory,
    PartnershipRequestFactory,
    ProviderFactory,
    ResellerFactory,
    partnership_invitation_issued,
)

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https://portal\.test/invitations/partnership/([A-Za-z0-9_\-]+)/")


def url(name, provider, **kwargs):
    return reverse(f"providers:{name}", kwargs={"organization_public_id": provider.public_id, **kwargs})


@pytest.fixture
def provider():
    return ProviderFactory(legal_name="Blue Yonder Distribution")


@pytest.fixture
def admin(provider):
    return MembershipFactory(
        organization=provider,
        roles=[Role.GLOBAL_ADMIN],
        user=UserFactory(full_name="Aiko Tanaka", email="aiko@blueyonder.example"),
    )


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin.user)
    return client


def state():
    """Everything a denied or failed request must leave as it was."""
    return (
        sorted(PartnershipInvitation.objects.values_list("pk", "status", "token_hash", "emailed_at")),
        sorted(PartnershipRequest.objects.values_list("pk", "status")),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


def draft_fields(response) -> dict[str, str]:
    """The draft page's subject, message, hidden token and read-only link, as the browser holds them."""
    body = response.content.decode()
    subject = re.search(r'<input type="text" name="subject" value="([^"]*)"', body).group(1)
    message = re.search(r'<textarea name="body"[^>]*>\n?(.*?)</textarea>', body, re.S).group(1)
    token = re.search(r'<input type="hidden" name="token" value="([^"]*)"', body).group(1)
    link = re.search(r'<input type="text" id="invitation-link" value="([^"]*)"', body).group(1)
    return {
        "subject": html.unescape(subject),
        "body": html.unescape(message),
        "token": token,
        "link": html.unescape(link),
    }


def invite(client, provider, **data):
    return client.post(url("invite", provider), {"language": "en", **data})


# --- The invite form ------------------------------------------------------------------------------


def test_the_invite_form_asks_for_the_email_an_optional_partner_id_and_the_language(client, provider):
    member = MembershipFactory(
        organization=provider, roles=[Role.GLOBAL_ADMIN], user=UserFactory(preferred_language="ja")
    )
    client.force_login(member.user)
    response = client.get(url("invite", provider))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="email"' in body
    assert 'name="partner_id"' in body
    assert '<html lang="ja">' in body
    assert "キャンセル" in body
    assert '<option value="ja" selected>' in body  # the user's own language by default
    assert 'name="request"' in body and 'type="hidden"' in body


def test_the_invite_form_in_english_explains_the_partner_id(admin_client, provider):
    body = admin_client.get(url("invite", provider)).content.decode()
    assert "It binds the link to that reseller" in body
    assert '<option value="en" selected>' in body
    assert "The link stays valid for 30 days." in body


def test_answering_a_request_prefills_the_requester_and_the_resellers_partner_id(admin_client, provider):
    requester = UserFactory(email="kenji@reseller.example")
    reseller = ResellerFactory(legal_name="Contoso Japan KK", partner_id="7654321")
    request = PartnershipRequestFactory(provider=provider, reseller=reseller, requested_by=requester)
    response = admin_client.get(url("invite", provider) + f"?request={request.public_id}")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'value="kenji@reseller.example"' in body
    assert 'value="7654321"' in body
    assert f'value="{request.public_id}"' in body
    assert "You are answering the request from Contoso Japan KK." in body


def test_another_providers_request_cannot_be_answered(admin_client, provider):
    foreign = PartnershipRequestFactory(provider=ProviderFactory())
    before = state()
    assert admin_client.get(url("invite", provider) + f"?request={foreign.public_id}").status_code == 404
    assert admin_client.get(url("invite", provider) + "?request=not-a-uuid").status_code == 404
    response = invite(admin_client, provider, email="ann@example.com", request=str(foreign.public_id))
    assert response.status_code == 404
    assert state() == before


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": ""}, "email", "Enter the reseller&#x27;s email address."),
        ({"email": "not-an-address"}, "email", "Enter a valid email address."),
        (
            {"email": "ann@example.com", "partner_id": "123456"},
            "partner_id",
            "A partner ID is exactly 7 digits.",
        ),
        (
            {"email": "ann@example.com", "partner_id": "12345678"},
            "partner_id",
            "A partner ID is exactly 7 digits.",
        ),
    ],
)
def test_bad_input_is_refused_at_its_field_and_nothing_is_saved(admin_client, provider, data, field, message):
    before = state()
    response = invite(admin_client, provider, **data)
    assert response.status_code == 400
    body = response.content.decode()
    assert f'id="id_{field}_error"' in body
    assert message in body
    assert state() == before


def test_a_current_partner_is_not_invited_again(admin_client, provider):
    from tests.factories.providers import PartnershipFactory

    PartnershipFactory(provider=provider, reseller=ResellerFactory(partner_id="7000001"))
    before = state()
    response = invite(admin_client, provider, email="ann@example.com", partner_id="7000001")
    assert response.status_code == 400
    assert 'id="id_partner_id_error"' in response.content.decode()
    assert "The reseller with partner ID 7000001 is already your partner." in response.content.decode()
    assert state() == before


# --- The draft ------------------------------------------------------------------------------------


def test_inviting_renders_the_draft_holding_the_link_and_never_redirects(admin_client, provider):
    response = invite(admin_client, provider, email="Owner@Reseller.example", partner_id="7654321")
    assert response.status_code == 200
    assert "Location" not in response
    invitation = PartnershipInvitation.objects.get()
    assert (invitation.organization, invitation.email, invitation.partner_id) == (
        provider,
        "owner@reseller.example",
        "7654321",
    )
    assert invitation.status == PartnershipInvitation.Status.PENDING
    assert invitation.emailed_at is None
    fields = draft_fields(response)
    raw_token = fields["token"]
    assert link_invitation_lookup(PartnershipInvitation, raw_token) == invitation
    assert fields["link"] == invitation_link(raw_token)
    assert fields["link"] in fields["body"]
    assert "Blue Yonder Distribution" in fields["subject"]
    assert "Aiko Tanaka of Blue Yonder Distribution" in fields["body"]
    # The page that holds the link is never stored by a browser or a proxy.
    cache_control = response["Cache-Control"]
    assert "no-store" in cache_control and "private" in cache_control
    body = response.content.decode()
    # Open in mail app: the unedited draft, addressed to the recipient, link included.
    assert 'href="mailto:owner@reseller.example?subject=' in body
    assert quote(raw_token) in re.search(r'href="(mailto:[^"]*)"', body).group(1)
    # Copy to clipboard: a script of our own (CSP: no inline script), a status region for "Copied".
    assert '<script src="/static/js/invitation-draft.js"></script>' in body
    assert 'role="status" aria-live="polite"' in body
    assert "data-copied=" in body
    # Send through the portal posts to the invitation's send URL; Done goes back to the list.
    assert (
        f'action="{url("invitation_send", provider, partnership_invitation_id=invitation.public_id)}"' in body
    )
    assert f'href="{url("invitations", provider)}">Done</a>' in body
    assert raw_token not in url("invitation_send", provider, partnership_invitation_id=invitation.public_id)


def test_an_invitation_answering_a_request_moves_the_request_on(admin_client, provider):
    request = PartnershipRequestFactory(provider=provider, reseller=ResellerFactory(partner_id="7111111"))
    response = invite(
        admin_client,
        provider,
        email="kenji@reseller.example",
        partner_id="7111111",
        request=request.public_id,
    )
    assert response.status_code == 200
    request.refresh_from_db()
    assert request.status == PartnershipRequest.Status.INVITED
    assert PartnershipInvitation.objects.get().request == request


def test_sending_through_the_portal_emails_the_edited_draft_once_with_the_link_sealed(admin_client, provider):
    fields = draft_fields(invite(admin_client, provider, email="owner@reseller.example"))
    invitation = PartnershipInvitation.objects.get()
    edited = "Dear Contoso team,\n\nWe would be glad to work with you.\n\n" + fields["body"]
    response = admin_client.post(
        url("invitation_send", provider, partnership_invitation_id=invitation.public_id),
        {"subject": "Let us work together", "body": edited, "token": fields["token"]},
    )
    assert response.status_code == 302
    assert response["Location"] == url("invitations", provider)
    assert fields["token"] not in response["Location"]
    stored = OutboxEmail.objects.get()
    assert (stored.to, stored.template, stored.organization_id) == (
        "owner@reseller.example",
        "partnership_invitation",
        provider.pk,
    )
    assert stored.reply_to == "aiko@blueyonder.example"
    # At rest: no raw token anywhere in the row, a sealed placeholder instead.
    for part in (stored.subject, stored.body_text, stored.body_html, stored.sealed_secrets):
        assert fields["token"] not in part
    assert sealing.PLACEHOLDER_PREFIX in stored.body_text
    # Delivered: exactly the provider's edited text, with the link.
    delivered = outbox_email_content(stored)
    assert delivered.subject == "Let us work together"
    assert delivered.body_text == edited.replace("\r\n", "\n").strip() + "\n"
    assert fields["link"] in delivered.body_text
    invitation.refresh_from_db()
    assert invitation.emailed_at is not None
    assert (
        AuditEvent.objects.filter(
            action="partnership_invitation.emailed", organization_id=provider.pk
        ).count()
        == 1
    )
    listing = admin_client.get(response["Location"]).content.decode()
    assert "The invitation was emailed to owner@reseller.example." in listing
    assert "Emailed by the portal" in listing


def test_a_draft_without_its_link_comes_back_with_the_error_at_the_message(admin_client, provider):
    fields = draft_fields(invite(admin_client, provider, email="owner@reseller.example"))
    invitation = PartnershipInvitation.objects.get()
    before = state()
    without_link = fields["body"].replace(fields["link"], "")
    response = admin_client.post(
        url("invitation_send", provider, partnership_invitation_id=invitation.public_id),
        {"subject": fields["subject"], "body": without_link, "token": fields["token"]},
    )
    assert response.status_code == 400
    assert "Location" not in response
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    assert 'id="id_body_error"' in body
    assert "Keep the personalised link" in body
    # The draft is back as the provider left it, with the link still shown to put back.
    again = draft_fields(response)
    assert again["body"] == without_link
    assert again["link"] == fields["link"]
    assert again["token"] == fields["token"]
    assert state() == before
    assert not OutboxEmail.objects.exists()


def test_an_empty_subject_is_refused_at_its_field(admin_client, provider):
    fields = draft_fields(invite(admin_client, provider, email="owner@reseller.example"))
    invitation = PartnershipInvitation.objects.get()
    before = state()
    response = admin_client.post(
        url("invitation_send", provider, partnership_invitation_id=invitation.public_id),
        {"subject": "  ", "body": fields["body"], "token": fields["token"]},
    )
    assert response.status_code == 400
    assert 'id="id_subject_error"' in response.content.decode()
    assert "Write a subject." in response.content.decode()
    assert state() == before


def test_a_draft_with_a_wrong_token_is_not_sent_and_shows_no_link(admin_client, provider):
    fields = draft_fields(invite(admin_client, provider, email="owner@reseller.example"))
    invitation = PartnershipInvitation.objects.get()
    before = state()
    response = admin_client.post(
        url("invitation_send", provider, partnership_invitation_id=invitation.public_id),
        {"subject": fields["subject"], "body": fields["body"], "token": "forged-token"},
    )
    assert response.status_code == 302
    assert response["Location"] == url("invitations", provider)
    assert state() == before
    page = admin_client.get(response["Location"]).content.decode()
    assert "This draft belongs to an older link." in page


# --- Resend and revoke ----------------------------------------------------------------------------


def test_resend_gives_a_new_link_and_kills_the_old_one(admin_client, provider, admin):
    old, old_token = partnership_invitation_issued(provider, "owner@reseller.example", by=admin)
    response = admin_client.post(url("invitation_resend", provider, partnership_invitation_id=old.public_id))
    assert response.status_code == 200
    assert "Location" not in response
    assert "no-store" in response["Cache-Control"]
    fields = draft_fields(response)
    assert fields["token"] != old_token
    new = link_invitation_lookup(PartnershipInvitation, fields["token"])
    assert new.pk != old.pk
    assert (new.email, new.status) == ("owner@reseller.example", PartnershipInvitation.Status.PENDING)
    assert fields["link"] in fields["body"]
    # The old link points to a closed invitation: nobody can use it any more.
    dead = link_invitation_lookup(PartnershipInvitation, old_token)
    assert dead.pk == old.pk
    assert dead.status == PartnershipInvitation.Status.REVOKED
    assert (
        AuditEvent.objects.filter(
            action="partnership_invitation.superseded", target_id=str(old.public_id)
        ).count()
        == 1
    )


def test_an_accepted_invitation_is_not_resent(admin_client, provider):
    accepted = PartnershipInvitationFactory(
        organization=provider, status=PartnershipInvitation.Status.ACCEPTED
    )
    before = state()
    response = admin_client.post(
        url("invitation_resend", provider, partnership_invitation_id=accepted.public_id)
    )
    assert response.status_code == 302
    assert state() == before
    assert "This invitation was accepted" in admin_client.get(response["Location"]).content.decode()


def test_revoke_closes_a_pending_invitation(admin_client, provider, admin):
    invitation, raw_token = partnership_invitation_issued(provider, "owner@reseller.example", by=admin)
    response = admin_client.post(
        url("invitation_revoke", provider, partnership_invitation_id=invitation.public_id)
    )
    assert response.status_code == 302
    assert response["Location"] == url("invitations", provider)
    invitation.refresh_from_db()
    assert invitation.status == PartnershipInvitation.Status.REVOKED
    assert invitation.decided_by == admin.user
    assert (
        link_invitation_lookup(PartnershipInvitation, raw_token).status
        == PartnershipInvitation.Status.REVOKED
    )
    assert (
        AuditEvent.objects.filter(
            action="partnership_invitation.revoked", organization_id=provider.pk
        ).count()
        == 1
    )
    page = admin_client.get(response["Location"]).content.decode()
    assert "The invitation to owner@reseller.example was revoked." in page

    before = state()
    again = admin_client.post(
        url("invitation_revoke", provider, partnership_invitation_id=invitation.public_id)
    )
    assert again.status_code == 302
    assert state() == before


# --- Who may ----------------------------------------------------------------------------------------


def test_a_sales_agent_may_not_invite_send_resend_or_revoke(client, provider, admin):
    invitation, raw_token = partnership_invitation_issued(provider, "owner@reseller.example", by=admin)
    sales = MembershipFactory(organization=provider, roles=[Role.SALES_AGENT])
    client.force_login(sales.user)
    before = state()
    one = {"partnership_invitation_id": invitation.public_id}
    assert client.get(url("invite", provider)).status_code == 403
    assert invite(client, provider, email="ann@example.com").status_code == 403
    send = {"subject": "Hi", "body": invitation_link(raw_token), "token": raw_token}
    assert client.post(url("invitation_send", provider, **one), send).status_code == 403
    assert client.post(url("invitation_resend", provider, **one)).status_code == 403
    assert client.post(url("invitation_revoke", provider, **one)).status_code == 403
    assert state() == before
    # The list is open to them, without the buttons that change things.
    listing = client.get(url("invitations", provider))
    assert listing.status_code == 200
    body = listing.content.decode()
    assert "owner@reseller.example" in body
    assert url("invitation_resend", provider, **one) not in body
    assert url("invitation_revoke", provider, **one) not in body
    assert url("invite", provider) not in body


def test_another_providers_invitation_does_not_exist_here(admin_client, provider):
    other = ProviderFactory()
    foreign, raw_token = partnership_invitation_issued(other, "owner@reseller.example")
    before = state()
    one = {"partnership_invitation_id": foreign.public_id}
    send = {"subject": "Hi", "body": invitation_link(raw_token), "token": raw_token}
    assert admin_client.post(url("invitation_send", provider, **one), send).status_code == 404
    assert admin_client.post(url("invitation_resend", provider, **one)).status_code == 404
    assert admin_client.post(url("invitation_revoke", provider, **one)).status_code == 404
    assert state() == before


def test_the_link_never_appears_in_a_location_header(admin_client, provider):
    """The whole invite → send journey, and resend: every redirect is free of the token."""
    responses = [invite(admin_client, provider, email="owner@reseller.example")]
    fields = draft_fields(responses[0])
    invitation = PartnershipInvitation.objects.get()
    one = {"partnership_invitation_id": invitation.public_id}
    responses.append(admin_client.post(url("invitation_send", provider, **one), fields))
    responses.append(admin_client.post(url("invitation_resend", provider, **one)))
    tokens = [fields["token"], draft_fields(responses[-1])["token"]]
    responses.append(admin_client.post(url("invitation_revoke", provider, **one)))
    for response in responses:
        location = response.headers.get("Location", "")
        for token in tokens:
            assert token not in location
    assert [response.status_code for response in responses] == [200, 302, 200, 302]
