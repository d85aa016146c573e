"""The partnership emails: each one, produced by its real service, renders in English and in Japanese with
every variable filled; links are stored sealed, never raw; the provider's draft is plain text."""

import copy
import re
from datetime import UTC, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone

from accounts.roles import Role
from portal.mail import sealing
from portal.mail.models import OutboxEmail
from portal.mail.services import email_render, outbox_email_content
from providers.services import invitations, partnerships, requests
from tests.factories.accounts import MembershipFactory, UserFactory
from tests.factories.providers import (
    ProviderFactory,
    ResellerFactory,
    partnership_invitation_issued,
)
from tests.platform.test_secrets_at_rest import every_row_as_text

pytestmark = pytest.mark.django_db

MISSING = "MISSING-VARIABLE"
TEMPLATES = [
    "partnership_invitation",
    "partnership_invitation_reminder",
    "partnership_invitation_expired",
    "partnership_accepted",
    "partnership_declined",
    "partnership_ended",
    "partnership_request",
    "partnership_request_declined",
]
#: The subject of each email in Japanese (the catalogue's translations).
JAPANESE_SUBJECTS = {
    "partnership_invitation": "Contoso & Co KK から間接プロバイダーとしての承認の依頼が届いています",
    "partnership_invitation_reminder": (
        "リマインダー: Contoso & Co KK から間接プロバイダーとしての承認の依頼が届いています"
    ),
    "partnership_invitation_expired": "パートナーシップの招待の有効期限が切れました: late@example.com",
    "partnership_accepted": "Fabrikam <Cloud> KK が Contoso & Co KK を間接プロバイダーとして承認しました",
    "partnership_declined": "パートナーシップの招待が辞退されました: no@example.com",
    "partnership_ended": "パートナーシップ終了: Contoso & Co KK と Fabrikam <Cloud> KK",
    "partnership_request": "Fabrikam <Cloud> KK からのパートナーシップの依頼",
    "partnership_request_declined": "Contoso & Co KK がパートナーシップの依頼を辞退しました",
}
ENGLISH_SUBJECTS = {
    "partnership_invitation": "Contoso & Co KK invites you to authorise it as your indirect provider",
    "partnership_invitation_reminder": (
        "Reminder: Contoso & Co KK invites you to authorise it as your indirect provider"
    ),
    "partnership_invitation_expired": "Partnership invitation expired: late@example.com",
    "partnership_accepted": "Fabrikam <Cloud> KK authorised Contoso & Co KK as its indirect provider",
    "partnership_declined": "Partnership invitation declined: no@example.com",
    "partnership_ended": "Partnership ended: Contoso & Co KK and Fabrikam <Cloud> KK",
    "partnership_request": "Partnership request from Fabrikam <Cloud> KK",
    "partnership_request_declined": "Contoso & Co KK declined your partnership request",
}


@pytest.fixture
def strict_templates(settings):
    """A variable the context lacks renders as MISSING-VARIABLE(name) instead of nothing."""
    templates = copy.deepcopy(django_settings.TEMPLATES)
    templates[0]["OPTIONS"]["string_if_invalid"] = f"{MISSING}(%s)"
    settings.TEMPLATES = templates


def every_email(language: str) -> tuple[dict[str, list[OutboxEmail]], list[str]]:
    """Run every service that sends a partnership email, with everybody speaking ``language``; return the
    outbox by template, and the raw tokens that were made on the way."""
    provider = ProviderFactory(legal_name="Contoso & Co KK", countries=["JP", "US"])
    provider_admin = MembershipFactory(
        organization=provider,
        user=UserFactory(full_name="Kenji O'Brien", preferred_language=language),
        roles=[Role.GLOBAL_ADMIN],
    )
    reseller = ResellerFactory(legal_name="Fabrikam <Cloud> KK", partner_id="1234567")
    reseller_admin = MembershipFactory(
        organization=reseller,
        user=UserFactory(email="rei@fabrikam.example", preferred_language=language),
        roles=[Role.GLOBAL_ADMIN],
    )
    tokens = []

    # The provider invites the reseller's admin and has the portal send the draft.
    invitation, raw = partnership_invitation_issued(
        provider, "rei@fabrikam.example", by=provider_admin, language=language
    )
    tokens.append(raw)
    draft = invitations.invitation_draft(invitation=invitation, raw_token=raw)
    invitations.partnership_invitation_email(
        invitation=invitation, raw_token=raw, subject=draft.subject, body=draft.body, by=provider_admin
    )
    # The reseller asks the provider to connect, and is declined.
    request = requests.partnership_request_create(
        reseller=reseller,
        listing=provider.provider_listing,
        message="Let's work together.",
        by=reseller_admin,
    )
    requests.partnership_request_decline(request=request, by=provider_admin, reason="We are full this year.")
    # Someone declines an invitation.
    declined, raw = partnership_invitation_issued(
        provider, "no@example.com", by=provider_admin, language=language
    )
    tokens.append(raw)
    partnerships.partnership_invitation_decline(
        invitation=declined, user=UserFactory(email="no@example.com"), reason="Not now."
    )
    # The reseller authorises the provider, and the provider ends it later.
    partnership = partnerships.partnership_authorize(
        invitation=invitation, user=reseller_admin.user, reseller=reseller, consent=True
    )
    partnerships.partnership_end(partnership=partnership, by=provider_admin, reason="Our contract ended.")
    # An invitation nobody answers: reminded, then expired.
    late, raw = partnership_invitation_issued(
        provider, "late@example.com", by=provider_admin, language=language
    )
    tokens.append(raw)
    with time_machine.travel(late.expires_at - timedelta(days=2), tick=False):
        assert invitations.partnership_invitations_remind_due() == 1
    with time_machine.travel(late.expires_at + timedelta(minutes=1), tick=False):
        assert invitations.partnership_invitations_expire_due() == 1
    by_template: dict[str, list[OutboxEmail]] = {}
    for email in OutboxEmail.objects.order_by("created_at", "pk"):
        by_template.setdefault(email.template, []).append(email)
    return by_template, tokens


@pytest.mark.parametrize("language", ["en", "ja"])
def test_every_partnership_email_renders_with_every_variable_in_both_languages(strict_templates, language):
    by_template, _tokens = every_email(language)

    assert set(TEMPLATES) <= set(by_template)
    expected = JAPANESE_SUBJECTS if language == "ja" else ENGLISH_SUBJECTS
    for template in TEMPLATES:
        for email in by_template[template]:
            content = outbox_email_content(email)
            assert email.language == language, template
            assert MISSING not in content.subject + content.body_text + content.body_html, template
            assert content.subject == expected[template], template
            assert content.body_text.strip(), template
            # Plain text is plain: names as typed, nothing HTML-escaped.
            assert "&amp;" not in content.body_text and "&lt;" not in content.body_text, template
            if content.body_html:
                assert "<Cloud>" not in content.body_html, template
                assert f'<html lang="{language}">' in content.body_html, template


def test_each_email_goes_to_the_right_people(strict_templates):
    by_template, _tokens = every_email("en")

    recipients = {template: sorted(email.to for email in emails) for template, emails in by_template.items()}
    provider_admin = by_template["partnership_request"][0].to
    assert recipients["partnership_invitation"] == ["rei@fabrikam.example"]
    assert recipients["partnership_invitation_reminder"] == ["late@example.com"]
    assert recipients["partnership_invitation_expired"] == [provider_admin]
    assert recipients["partnership_accepted"] == [provider_admin]
    assert recipients["partnership_declined"] == [provider_admin]
    assert recipients["partnership_request"] == [provider_admin]
    assert recipients["partnership_request_declined"] == ["rei@fabrikam.example"]
    assert recipients["partnership_ended"] == sorted([provider_admin, "rei@fabrikam.example"])


def test_links_are_sealed_in_the_outbox_and_no_raw_token_is_stored(strict_templates):
    by_template, tokens = every_email("en")

    linked = by_template["partnership_invitation"] + by_template["partnership_invitation_reminder"]
    for email in linked:
        delivered = outbox_email_content(email).body_text
        link = re.search(r"https://portal\.test/invitations/partnership/\S+/", delivered).group(0)
        assert link not in email.subject + email.body_text + email.body_html
        assert sealing.PLACEHOLDER_PREFIX in email.body_text
        tokens.append(link.rstrip("/").rsplit("/", 1)[1])
    dump = every_row_as_text()
    assert len(set(tokens)) == 4  # three issued (one of them emailed), and the reminder's new one
    for token in tokens:
        assert token not in dump


def test_the_draft_is_plain_text_naming_who_invites_what_it_grants_and_when_it_ends():
    provider = ProviderFactory(legal_name="Contoso & Co KK", countries=["US", "JP"])
    admin = MembershipFactory(
        organization=provider, user=UserFactory(full_name="Kenji O'Brien"), roles=[Role.GLOBAL_ADMIN]
    )
    invitation, raw = partnership_invitation_issued(provider, "rei@fabrikam.example", by=admin)

    draft = invitations.invitation_draft(invitation=invitation, raw_token=raw)

    link = f"https://portal.test/invitations/partnership/{raw}/"
    expires = invitation.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    assert draft.link == link
    assert draft.subject == "Contoso & Co KK invites you to authorise it as your indirect provider"
    assert draft.body == (
        "Hello,\n"
        "\n"
        "Kenji O'Brien of Contoso & Co KK invites your organization to authorise Contoso & Co KK as its "
        "indirect provider in the Cloud Solution Provider program.\n"
        "Countries where it takes resellers: Japan, United States of America\n"
        "\n"
        "If you authorise Contoso & Co KK, it may:\n"
        "- submit orders and subscriptions on behalf of your customers;\n"
        "- have administrative access to your organization's tenant.\n"
        "Either side can end the partnership later.\n"
        "Only a Global admin or Admin agent of an approved indirect reseller can accept, signed in with this "
        "email address.\n"
        "\n"
        "Open this link to see the invitation, then authorise or decline:\n"
        f"{link}\n"
        "\n"
        f"The link works once and expires on {expires} (UTC). Opening it does not sign you in: you sign in "
        "to the portal, and then choose.\n"
        "\n"
        "If you did not expect this invitation, you can ignore this email.\n"
        "\n"
        "Kenji O'Brien\n"
        "Contoso & Co KK\n"
    )


def test_a_draft_bound_to_a_partner_id_says_which_reseller_may_accept():
    provider = ProviderFactory()
    invitation, raw = partnership_invitation_issued(provider, "rei@fabrikam.example", partner_id="7654321")

    body = invitations.invitation_draft(invitation=invitation, raw_token=raw).body

    assert (
        "Only a Global admin or Admin agent of the approved indirect reseller with partner ID 7654321 can "
        "accept." in body
    )
    assert "signed in with this email address" not in body


def test_the_japanese_draft_is_in_japanese():
    provider = ProviderFactory(legal_name="Contoso KK", countries=["JP"])
    invitation, raw = partnership_invitation_issued(provider, "rei@fabrikam.example", language="ja")

    draft = invitations.invitation_draft(invitation=invitation, raw_token=raw)

    assert draft.subject == "Contoso KK から間接プロバイダーとしての承認の依頼が届いています"
    assert "リセラーを受け入れている国: 日本" in draft.body
    assert "全体管理者または管理エージェント" in draft.body
    assert draft.link in draft.body


@pytest.mark.parametrize("language", ["en", "ja"])
@pytest.mark.parametrize("template", TEMPLATES)
def test_each_template_renders_alone_from_the_context_its_service_gives(strict_templates, template, language):
    # The smallest context each service passes (no partner ID, no message, no inviter's name).
    now = timezone.now()
    contexts = {
        "partnership_invitation": {
            "provider_name": "P",
            "inviter_name": "",
            "partner_id": "",
            "countries": [],
            "link": "https://portal.test/x/",
            "expires_at": now,
        },
        "partnership_invitation_expired": {"email": "a@example.com", "partner_id": ""},
        "partnership_accepted": {"provider_name": "P", "reseller_name": "R", "partner_id": "", "since": now},
        "partnership_declined": {"email": "a@example.com", "partner_id": "", "reason": ""},
        "partnership_ended": {
            "provider_name": "P",
            "reseller_name": "R",
            "ended_by_name": "P",
            "reason": "x",
            "since": now,
        },
        "partnership_request": {"reseller_name": "R", "provider_name": "P", "partner_id": "", "message": ""},
        "partnership_request_declined": {"provider_name": "P", "reseller_name": "R", "reason": "x"},
    }
    contexts["partnership_invitation_reminder"] = contexts["partnership_invitation"]
    context = {"organization_name": "O", **contexts[template]}

    rendered = email_render(template=template, context=context, language=language)

    assert MISSING not in rendered.subject + rendered.body_text + rendered.body_html
    assert rendered.subject and rendered.body_text.strip() and rendered.body_html
    assert "\n\n\n" not in rendered.body_text
