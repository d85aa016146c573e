"""The customers app's emails: each template renders alone in English and in Japanese with every variable
filled and its key facts (names, roles, dates, links); produced by the real services, each email goes to the
right people in their own language; the invitation's draft spells out what accepting grants, and the two
kinds of invitation read differently; links are stored sealed, never raw."""

import copy
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone, translation
from django.utils.html import escape

from accounts.roles import Role
from customers.models import LEAST_PRIVILEGE_ROLES, DelegatedAdminRelationship, DelegatedRole, InvitationKind
from customers.selectors import reseller_relationship
from customers.services import acceptance, delegated, invitations, relationships
from customers.services.common import role_lines
from portal.mail import sealing
from portal.mail.models import OutboxEmail
from portal.mail.services import email_render, outbox_email_content
from tests.factories.accounts import MembershipFactory, UserFactory
from tests.factories.customers import CustomerFactory, customer_linked
from tests.factories.providers import PartnershipFactory, ProviderFactory, ResellerFactory
from tests.platform.test_secrets_at_rest import every_row_as_text

pytestmark = pytest.mark.django_db

MISSING = "MISSING-VARIABLE"
TEMPLATES = [
    "customer_invitation",
    "customer_invitation_reminder",
    "customer_invitation_expired",
    "customer_invitation_declined",
    "customer_invitation_accepted",
    "customer_shared",
    "customer_relationship_ended",
    "delegated_admin_request",
    "delegated_admin_approved",
    "delegated_admin_declined",
    "delegated_admin_removed",
    "delegated_admin_expired",
    "delegated_admin_request_expired",
    "delegated_admin_reminder",
]
#: Sent through notify(): the organization's name is in the context and in the footer.
NOTIFIED = [name for name in TEMPLATES if name not in ("customer_invitation", "customer_invitation_reminder")]
LINK = re.compile(r"https://portal\.test/invitations/customer/([\w-]+)/")

RESELLER = "Fabrikam <Cloud> KK"
PROVIDER = "Contoso & Co KK"
CUSTOMER = "Northwind & Sons Ltd"


@pytest.fixture
def strict_templates(settings):
    """A variable the context lacks renders as MISSING-VARIABLE(name) instead of nothing."""
    templates = copy.deepcopy(django_settings.TEMPLATES)
    templates[0]["OPTIONS"]["string_if_invalid"] = f"{MISSING}(%s)"
    settings.TEMPLATES = templates


def at(moment):
    return time_machine.travel(moment, tick=False)


# --- Each template alone ------------------------------------------------------------------------------

ENDS = datetime(2027, 5, 17, 8, 30, tzinfo=UTC)
EXPIRES = datetime(2026, 6, 1, 9, 45, tzinfo=UTC)
SINCE = datetime(2025, 4, 2, 10, 0, tzinfo=UTC)
ROLES = [DelegatedRole.USER_ADMIN, DelegatedRole.HELPDESK_ADMIN]
INVITATION_LINK = "https://portal.test/invitations/customer/tok-123456/"
APPROVAL_URL = "https://portal.test/o/c0ffee/partners/delegated-admin/d00d/"


def context_for(template: str) -> dict:
    """The context each service gives (see customers/services), with names that need escaping in HTML."""
    invitation = {
        "reseller_name": RESELLER,
        "provider_name": PROVIDER,
        "with_provider": True,
        "inviter_name": "Kenji O'Brien",
        "customer_name": CUSTOMER,
        "roles": role_lines(ROLES),
        "duration_days": 90,
        "auto_extend": True,
        "link": INVITATION_LINK,
        "expires_at": EXPIRES,
    }
    accepted = {
        "customer_name": CUSTOMER,
        "reseller_name": RESELLER,
        "provider_name": PROVIDER,
        "roles": role_lines(ROLES),
        "ends_at": ENDS,
    }
    delegated_admin = {
        "customer_name": CUSTOMER,
        "partner_name": RESELLER,
        "roles": role_lines(ROLES),
        "duration_days": 90,
        "auto_extend": False,
        "ends_at": ENDS,
    }
    contexts = {
        "customer_invitation": invitation,
        "customer_invitation_reminder": invitation,
        "customer_invitation_expired": {"email": "late@example.com", "customer_name": CUSTOMER},
        "customer_invitation_declined": {
            "email": "no@example.com",
            "customer_name": CUSTOMER,
            "reason": "We stay with our current partner.",
        },
        "customer_invitation_accepted": accepted,
        "customer_shared": accepted,
        "customer_relationship_ended": {
            "customer_name": CUSTOMER,
            "partner_name": RESELLER,
            "role": "reseller",
            "reseller_name": RESELLER,
            "since": SINCE,
            "reason": "We chose another reseller.",
        },
        "delegated_admin_request": {
            **delegated_admin,
            "ends_at": None,
            "auto_extend": True,
            "approval_url": APPROVAL_URL,
            "requested_by": "Kenji O'Brien",
        },
        "delegated_admin_approved": delegated_admin,
        "delegated_admin_declined": {**delegated_admin, "reason": "Too many roles."},
        "delegated_admin_removed": {**delegated_admin, "reason": "We do it ourselves now."},
        "delegated_admin_expired": delegated_admin,
        "delegated_admin_request_expired": {**delegated_admin, "ends_at": None},
        "delegated_admin_reminder": {**delegated_admin, "days_left": 7},
    }
    context = dict(contexts[template])
    if template in NOTIFIED:
        context["organization_name"] = "Woodgrove Org"
    return context


def key_facts(template: str, language: str) -> list[str]:
    """What the text must say, whatever the language: names, role labels, dates and links."""
    with translation.override(language):
        labels = [str(DelegatedRole(role).label) for role in ROLES]
        descriptions = [str(line["description"]) for line in role_lines(ROLES)]
    ends = "2027-05-17"
    facts = {
        "customer_invitation": [
            RESELLER,
            PROVIDER,
            "Kenji O'Brien",
            CUSTOMER,
            *labels,
            *descriptions,
            "90",
            "180",
            INVITATION_LINK,
            "2026-06-01 09:45 (UTC)",
        ],
        "customer_invitation_expired": ["late@example.com", CUSTOMER, "https://portal.test"],
        "customer_invitation_declined": [
            "no@example.com",
            CUSTOMER,
            "We stay with our current partner.",
            "https://portal.test",
        ],
        "customer_invitation_accepted": [CUSTOMER, RESELLER, PROVIDER, *labels, ends, "https://portal.test"],
        "customer_relationship_ended": [CUSTOMER, RESELLER, "2025-04-02", "We chose another reseller."],
        "delegated_admin_request": [
            CUSTOMER,
            RESELLER,
            "Kenji O'Brien",
            *labels,
            *descriptions,
            "90",
            "180",
            APPROVAL_URL,
        ],
        "delegated_admin_approved": [CUSTOMER, RESELLER, *labels, ends, "https://portal.test"],
        "delegated_admin_declined": [CUSTOMER, RESELLER, *labels, "Too many roles."],
        "delegated_admin_removed": [CUSTOMER, RESELLER, *labels, "We do it ourselves now."],
        "delegated_admin_expired": [CUSTOMER, RESELLER, *labels, ends, "https://portal.test"],
        "delegated_admin_request_expired": [CUSTOMER, RESELLER, *labels, "https://portal.test"],
        "delegated_admin_reminder": [CUSTOMER, RESELLER, *labels, ends, "7", "https://portal.test"],
    }
    facts["customer_invitation_reminder"] = facts["customer_invitation"]
    facts["customer_shared"] = facts["customer_invitation_accepted"]
    if template in NOTIFIED:
        return [*facts[template], "Woodgrove Org"]
    return facts[template]


@pytest.mark.parametrize("language", ["en", "ja"])
@pytest.mark.parametrize("template", TEMPLATES)
def test_each_template_renders_alone_with_its_key_facts(strict_templates, template, language):
    rendered = email_render(template=template, context=context_for(template), language=language)

    everything = rendered.subject + rendered.body_text + rendered.body_html
    assert MISSING not in everything
    assert rendered.subject and "\n" not in rendered.subject
    assert "\n\n\n" not in rendered.body_text
    for fact in key_facts(template, language):
        assert fact in rendered.body_text, fact
        assert escape(fact) in rendered.body_html, fact
    # Plain text is plain; the HTML is escaped and in the recipient's language.
    assert "&amp;" not in rendered.body_text and "&lt;" not in rendered.body_text
    assert "<Cloud>" not in rendered.body_html and "Northwind & Sons" not in rendered.body_html
    assert f'<html lang="{language}">' in rendered.body_html
    assert rendered.body_html.count("{%") == rendered.body_html.count("{{") == 0


@pytest.mark.parametrize("template", NOTIFIED)
def test_each_notification_names_why_the_recipient_gets_it(strict_templates, template):
    text = email_render(template=template, context=context_for(template), language="en").body_text

    footer = text.strip().splitlines()[-1]
    if template in ("delegated_admin_reminder", "delegated_admin_expired"):
        # one template for both sides: neutral words
        assert footer == "You receive this email because you manage Woodgrove Org in the portal."
    elif template == "delegated_admin_request":
        assert footer == (
            "You receive this email because you manage the partner relationships of Woodgrove Org."
        )
    else:
        assert footer == "You receive this email because you look after the customers of Woodgrove Org."


def test_optional_parts_are_left_out_cleanly(strict_templates):
    context = {
        **context_for("customer_invitation"),
        "with_provider": False,
        "provider_name": "",
        "customer_name": "",
        "auto_extend": False,
        "duration_days": 1,
        "roles": role_lines([DelegatedRole.GLOBAL_READER]),
    }

    text = email_render(template="customer_invitation", context=context, language="en").body_text

    assert text.startswith("Hello,\n\nKenji O'Brien of Fabrikam <Cloud> KK asks your organization to accept ")
    assert "for 1 day:\n" in text
    assert PROVIDER not in text and "submit orders" not in text
    assert "extended automatically" not in text
    declined = email_render(
        template="customer_invitation_declined",
        context={"email": "no@example.com", "customer_name": "", "reason": "", "organization_name": "W"},
        language="en",
    ).body_text
    assert declined.startswith("The invitation that W sent to no@example.com was declined.\n\n")
    assert "Reason:" not in declined
    reminder = email_render(
        template="delegated_admin_reminder",
        context={**context_for("delegated_admin_reminder"), "days_left": 1},
        language="en",
    )
    assert (
        reminder.subject
        == "Delegated admin access ends in 1 day: Fabrikam <Cloud> KK in Northwind & Sons Ltd"
    )


# --- The invitation's draft ----------------------------------------------------------------------------


@pytest.fixture
def reseller_admin():
    reseller = ResellerFactory(legal_name=RESELLER)
    return MembershipFactory(
        organization=reseller,
        user=UserFactory(email="kenji@fabrikam.example", full_name="Kenji O'Brien"),
        roles=[Role.GLOBAL_ADMIN],
    )


def invite(by, email="ann@northwind.example", *, partnership=None, **terms):
    values = {
        "roles": list(LEAST_PRIVILEGE_ROLES),
        "duration_days": 365,
        "auto_extend": False,
        "customer_name": "",
        "language": "en",
        **terms,
    }
    return invitations.customer_invitation_create(
        reseller=by.organization,
        by=by,
        email=email,
        kind=InvitationKind.WITH_PROVIDER if partnership else InvitationKind.RESELLER_ONLY,
        partnership_public_id=partnership.public_id if partnership else None,
        **values,
    )


def test_the_with_provider_draft_spells_out_everything_accepting_grants(reseller_admin):
    partnership = PartnershipFactory(
        provider=ProviderFactory(legal_name=PROVIDER), reseller=reseller_admin.organization
    )
    invitation, raw = invite(
        reseller_admin, partnership=partnership, customer_name="Northwind", auto_extend=True
    )

    draft = invitations.invitation_draft(invitation=invitation, raw_token=raw)

    link = f"https://portal.test/invitations/customer/{raw}/"
    expires = invitation.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    assert draft.link == link
    assert draft.subject == (
        "Fabrikam <Cloud> KK and its indirect provider Contoso & Co KK invite you to become their customer"
    )
    assert draft.body == (
        "Hello Northwind,\n"
        "\n"
        "Kenji O'Brien of Fabrikam <Cloud> KK invites your organization to become a customer of Fabrikam "
        "<Cloud> KK and of its indirect provider Contoso & Co KK in the Cloud Solution Provider program.\n"
        "\n"
        "If you accept:\n"
        "- Fabrikam <Cloud> KK becomes the reseller of record of your organization: it sells you cloud "
        "subscriptions and manages them for you.\n"
        "- Contoso & Co KK, the indirect provider of Fabrikam <Cloud> KK, may submit orders on behalf of "
        "your organization, through Fabrikam <Cloud> KK.\n"
        "- Fabrikam <Cloud> KK gets these delegated admin roles in your tenant, from the moment you accept, "
        "for 365 days:\n"
        "  * Directory readers: Read basic information about your users, groups and organization.\n"
        "  * Helpdesk administrator: Reset passwords and sign-in methods of your users who are not "
        "administrators, and open support requests.\n"
        "  * License administrator: Assign and remove licences of your subscriptions to your users.\n"
        "  When it ends, the access is extended automatically by 180 days unless you remove it.\n"
        "\n"
        "You can remove the delegated admin access, or end the relationship, at any time: sign in to the "
        "portal and open Account settings > Partner relationships.\n"
        "Only a Global admin of your organization can accept. You sign in, or sign up, with this email "
        "address; if your organization is not in the portal yet, you add it there first, with its tenant.\n"
        "\n"
        "Open this link to see the invitation, then accept or decline:\n"
        f"{link}\n"
        "\n"
        f"The link works once and expires on {expires} (UTC). Opening it does not sign you in: you sign in "
        "to the portal, and then choose.\n"
        "\n"
        "If you did not expect this invitation, you can ignore this email.\n"
        "\n"
        "Kenji O'Brien\n"
        "Fabrikam <Cloud> KK\n"
    )


def test_the_two_kinds_of_invitation_read_differently(reseller_admin):
    partnership = PartnershipFactory(
        provider=ProviderFactory(legal_name=PROVIDER), reseller=reseller_admin.organization
    )
    reseller_only, raw_one = invite(reseller_admin, "one@example.com")
    with_provider, raw_two = invite(reseller_admin, "two@example.com", partnership=partnership)

    alone = invitations.invitation_draft(invitation=reseller_only, raw_token=raw_one)
    both = invitations.invitation_draft(invitation=with_provider, raw_token=raw_two)

    assert alone.subject == "Fabrikam <Cloud> KK requests a reseller relationship with your organization"
    assert PROVIDER in both.subject and PROVIDER not in alone.subject
    assert alone.body.startswith(
        "Hello,\n\nKenji O'Brien of Fabrikam <Cloud> KK asks your organization to accept Fabrikam <Cloud> KK "
        "as its reseller of record in the Cloud Solution Provider program.\n"
    )
    assert PROVIDER not in alone.body and "submit orders" not in alone.body
    assert "extended automatically" not in alone.body
    assert "may submit orders on behalf of your organization, through Fabrikam <Cloud> KK." in both.body
    # Each draft holds its own link, once, and no other trace of the token.
    assert alone.body.count(raw_one) == 1 and raw_two not in alone.body
    assert both.body.count(raw_two) == 1 and raw_one not in both.body


def test_the_japanese_draft_uses_the_catalogue(reseller_admin):
    invitation, raw = invite(reseller_admin, language="ja")

    draft = invitations.invitation_draft(invitation=invitation, raw_token=raw)

    expires = invitation.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    assert draft.body.startswith("ご担当者様\n")
    assert f"このリンクは 1 回だけ使用でき、{expires} (UTC) に有効期限が切れます。" in draft.body
    assert "この招待に心当たりがない場合は、このメールを無視してください。" in draft.body
    assert "クラウド ソリューション プロバイダー プログラム" in draft.body
    assert draft.body.count(draft.link) == 1


# --- Through the real services --------------------------------------------------------------------------


def every_email(partner_language: str, customer_language: str) -> tuple[dict[str, list[OutboxEmail]], list]:
    """Run every service that sends a customers email; the partners' people speak ``partner_language``,
    the customers' people (and the invited addresses) ``customer_language``. Returns the outbox by
    template and the raw tokens made on the way."""
    reseller = ResellerFactory(legal_name=RESELLER)
    reseller_admin = MembershipFactory(
        organization=reseller,
        user=UserFactory(
            email="kenji@fabrikam.example", full_name="Kenji O'Brien", preferred_language=partner_language
        ),
        roles=[Role.GLOBAL_ADMIN],
    )
    provider = ProviderFactory(legal_name=PROVIDER)
    MembershipFactory(
        organization=provider,
        user=UserFactory(email="mei@contoso.example", preferred_language=partner_language),
        roles=[Role.GLOBAL_ADMIN],
    )
    partnership = PartnershipFactory(provider=provider, reseller=reseller)
    customer = CustomerFactory(legal_name=CUSTOMER)
    customer_admin = MembershipFactory(
        organization=customer,
        user=UserFactory(email="ann@northwind.example", preferred_language=customer_language),
        roles=[Role.GLOBAL_ADMIN],
    )
    tokens = []

    # The reseller invites the customer with its provider and has the portal send the draft; accepted.
    invitation, raw = invite(
        reseller_admin, partnership=partnership, customer_name="Northwind", language=customer_language
    )
    tokens.append(raw)
    draft = invitations.invitation_draft(invitation=invitation, raw_token=raw)
    invitations.customer_invitation_email(
        invitation=invitation, raw_token=raw, subject=draft.subject, body=draft.body, by=reseller_admin
    )
    acceptance.customer_invitation_accept(
        invitation=invitation, user=customer_admin.user, customer=customer, consent=True
    )
    # Someone declines an invitation.
    declined, raw = invite(reseller_admin, "no@example.com", language=customer_language)
    tokens.append(raw)
    acceptance.customer_invitation_decline(
        invitation=declined, user=UserFactory(email="no@example.com"), reason="Not now."
    )
    # An invitation nobody answers: reminded, then expired.
    late, raw = invite(reseller_admin, "late@example.com", language=customer_language)
    tokens.append(raw)
    with at(late.expires_at - timedelta(days=2)):
        assert invitations.customer_invitations_remind_due() == 1
    with at(late.expires_at + timedelta(minutes=1)):
        assert invitations.customer_invitations_expire_due() == 1
    # The reseller asks for changed roles: approved; asks again: declined; the customer removes the access.
    request = delegated.delegated_admin_request(
        partner=reseller,
        by=reseller_admin,
        customer=customer,
        roles=[DelegatedRole.USER_ADMIN, DelegatedRole.HELPDESK_ADMIN],
        duration_days=90,
        auto_extend=True,
    )
    approved = delegated.delegated_admin_approve(relationship=request, by=customer_admin)
    request = delegated.delegated_admin_request(
        partner=reseller,
        by=reseller_admin,
        customer=customer,
        roles=[DelegatedRole.GLOBAL_ADMIN],
        duration_days=7,
    )
    delegated.delegated_admin_decline(relationship=request, by=customer_admin, reason="Too many rights.")
    delegated.delegated_admin_remove(relationship=approved, by=customer_admin, reason="We do it ourselves.")
    # A second customer's delegated admin access: reminded, then expired; a request left unanswered.
    other, _relationship, access = customer_linked(reseller, CustomerFactory(legal_name="Tailspin KK"))
    MembershipFactory(
        organization=other,
        user=UserFactory(email="bo@tailspin.example", preferred_language=customer_language),
        roles=[Role.GLOBAL_ADMIN],
    )
    assert delegated.delegated_admins_run_due(now=access.ends_at - timedelta(days=7))["reminded"] == 1
    assert delegated.delegated_admins_run_due(now=access.ends_at + timedelta(minutes=1))["expired"] == 1
    delegated.delegated_admin_request(
        partner=reseller,
        by=reseller_admin,
        customer=other,
        roles=[DelegatedRole.GLOBAL_READER],
        duration_days=30,
    )
    later = timezone.now() + timedelta(days=django_settings.DELEGATED_ADMIN_REQUEST_DAYS, minutes=1)
    assert delegated.delegated_admins_run_due(now=later)["requests_expired"] == 1
    # The first customer ends its reseller relationship (and, with it, the provider's).
    relationships.customer_relationship_end(
        relationship=reseller_relationship(customer, reseller), by=customer_admin, reason="We moved."
    )
    by_template: dict[str, list[OutboxEmail]] = {}
    for email in OutboxEmail.objects.order_by("created_at", "pk"):
        by_template.setdefault(email.template, []).append(email)
    return by_template, tokens


PARTNERS = {"kenji@fabrikam.example", "mei@contoso.example"}


@pytest.mark.parametrize(("partner_language", "customer_language"), [("en", "ja"), ("ja", "en")])
def test_every_email_renders_in_its_recipients_language(
    strict_templates, partner_language, customer_language
):
    by_template, _tokens = every_email(partner_language, customer_language)

    assert set(by_template) == set(TEMPLATES)
    for template, emails in by_template.items():
        for email in emails:
            language = partner_language if email.to in PARTNERS else customer_language
            content = outbox_email_content(email)
            assert email.language == language, (template, email.to)
            assert MISSING not in content.subject + content.body_text + content.body_html, template
            assert "&amp;" not in content.body_text and "&lt;" not in content.body_text, template
            assert "\n\n\n" not in content.body_text, template
            if template != "customer_invitation":  # the reseller's draft is text only
                assert f'<html lang="{language}">' in content.body_html, template
                assert "<Cloud>" not in content.body_html, template
            with translation.override(language):
                labels = {str(label) for label in DelegatedRole.labels}
            if template.startswith("delegated_admin"):
                assert any(label in content.body_text for label in labels), template
    # Words the catalogue already has, in each side's language.
    decline = outbox_email_content(by_template["customer_invitation_declined"][0]).body_text
    assert ("理由: Not now." if partner_language == "ja" else "Reason: Not now.") in decline
    reminder = outbox_email_content(by_template["customer_invitation_reminder"][0]).body_text
    opening = "このリンクは 1 回だけ使用でき" if customer_language == "ja" else "The link works once"
    assert opening in reminder


def test_each_email_goes_to_the_right_people(strict_templates):
    by_template, _tokens = every_email("en", "en")

    recipients = {template: sorted(email.to for email in emails) for template, emails in by_template.items()}
    assert recipients == {
        "customer_invitation": ["ann@northwind.example"],
        "customer_invitation_accepted": ["kenji@fabrikam.example"],
        "customer_shared": ["mei@contoso.example"],
        "customer_invitation_declined": ["kenji@fabrikam.example"],
        "customer_invitation_reminder": ["late@example.com"],
        "customer_invitation_expired": ["kenji@fabrikam.example"],
        "delegated_admin_request": ["ann@northwind.example", "ann@northwind.example", "bo@tailspin.example"],
        "delegated_admin_approved": ["kenji@fabrikam.example"],
        "delegated_admin_declined": ["kenji@fabrikam.example"],
        "delegated_admin_removed": ["kenji@fabrikam.example"],
        "delegated_admin_reminder": ["bo@tailspin.example", "kenji@fabrikam.example"],
        "delegated_admin_expired": ["bo@tailspin.example", "kenji@fabrikam.example"],
        "delegated_admin_request_expired": ["kenji@fabrikam.example"],
        "customer_relationship_ended": ["kenji@fabrikam.example", "mei@contoso.example"],
    }
    subjects = {template: emails[0].subject for template, emails in by_template.items()}
    assert subjects["customer_invitation_accepted"] == (
        "Northwind & Sons Ltd accepted Fabrikam <Cloud> KK as its reseller of record"
    )
    assert (
        subjects["customer_shared"] == "Fabrikam <Cloud> KK shares its customer Northwind & Sons Ltd with you"
    )
    assert subjects["customer_invitation_declined"] == "Customer invitation declined: no@example.com"
    assert subjects["customer_invitation_expired"] == "Customer invitation expired: late@example.com"
    assert subjects["delegated_admin_request"] == (
        "Fabrikam <Cloud> KK requests delegated admin roles in Northwind & Sons Ltd"
    )
    assert subjects["delegated_admin_reminder"] == (
        "Delegated admin access ends in 7 days: Fabrikam <Cloud> KK in Tailspin KK"
    )
    assert (
        subjects["delegated_admin_expired"]
        == "Delegated admin access expired: Fabrikam <Cloud> KK in Tailspin KK"
    )
    assert subjects["delegated_admin_request_expired"] == "Delegated admin request expired: Tailspin KK"
    assert subjects["customer_relationship_ended"] == (
        "Northwind & Sons Ltd ended its relationship with Fabrikam <Cloud> KK"
    )


def test_the_facts_the_services_put_in_the_emails(strict_templates):
    by_template, _tokens = every_email("en", "en")

    def text(template, to=None, index=0):
        emails = [email for email in by_template[template] if to is None or email.to == to]
        return outbox_email_content(emails[index]).body_text

    approved = DelegatedAdminRelationship.objects.select_related("customer").get(
        status="terminated", close_reason="We do it ourselves."
    )
    # The approval link opens the customer's review page of that request.
    review = (
        f"https://portal.test/o/{approved.customer.public_id}/partners/delegated-admin/{approved.public_id}/"
    )
    request_text = text("delegated_admin_request")
    assert review in request_text
    assert "Kenji O'Brien of Fabrikam <Cloud> KK, your reseller, asks for these delegated admin roles" in (
        request_text
    )
    assert "- Helpdesk administrator: Reset passwords" in request_text
    assert (
        "Only a Global admin of Northwind & Sons Ltd who signs in to the portal can approve." in request_text
    )
    assert f"These roles are active now, until {approved.ends_at:%Y-%m-%d}:" in text(
        "delegated_admin_approved"
    )
    assert "Reason: Too many rights." in text("delegated_admin_declined")
    assert "- Global administrator\n" in text("delegated_admin_declined")
    removed = text("delegated_admin_removed")
    assert "Northwind & Sons Ltd removed the delegated admin access of Fabrikam <Cloud> KK" in removed
    assert "- Helpdesk administrator\n- User administrator\n\nReason: We do it ourselves.\n" in removed
    ended_for_provider = text("customer_relationship_ended", to="mei@contoso.example")
    assert (
        "Contoso & Co KK can no longer submit orders on behalf of Northwind & Sons Ltd" in ended_for_provider
    )
    assert "Reason: We moved." in ended_for_provider
    ended_for_reseller = text("customer_relationship_ended", to="kenji@fabrikam.example")
    assert (
        "Fabrikam <Cloud> KK is no longer the reseller of record of Northwind & Sons Ltd"
        in ended_for_reseller
    )
    accepted = text("customer_invitation_accepted")
    assert (
        "Contoso & Co KK, your indirect provider, may now submit orders on behalf of Northwind & Sons Ltd"
        in (accepted)
    )


def test_the_reminder_of_a_delegated_admin_goes_to_each_side_in_its_own_language(strict_templates):
    reseller = ResellerFactory(legal_name=RESELLER)
    MembershipFactory(
        organization=reseller,
        user=UserFactory(email="kenji@fabrikam.example", preferred_language="ja"),
        roles=[Role.GLOBAL_ADMIN],
    )
    customer, _relationship, access = customer_linked(reseller, CustomerFactory(legal_name=CUSTOMER))
    MembershipFactory(
        organization=customer,
        user=UserFactory(email="ann@northwind.example", preferred_language="en"),
        roles=[Role.GLOBAL_ADMIN],
    )

    delegated.delegated_admins_remind_due(now=access.ends_at - timedelta(days=30))

    context = {
        "customer_name": CUSTOMER,
        "partner_name": RESELLER,
        "roles": role_lines(access.roles),
        "duration_days": access.duration_days,
        "auto_extend": False,
        "ends_at": access.ends_at,
        "days_left": 30,
    }
    for to, organization, language in [
        ("kenji@fabrikam.example", reseller, "ja"),
        ("ann@northwind.example", customer, "en"),
    ]:
        email = OutboxEmail.objects.get(template="delegated_admin_reminder", to=to)
        expected = email_render(
            template="delegated_admin_reminder",
            context={**context, "organization_name": organization.legal_name},
            language=language,
        )
        assert (email.language, email.organization_id) == (language, organization.pk)
        assert (email.subject, email.body_text) == (expected.subject, expected.body_text)


def test_links_are_sealed_in_the_outbox_and_no_raw_token_is_stored(strict_templates):
    by_template, tokens = every_email("en", "en")

    linked = by_template["customer_invitation"] + by_template["customer_invitation_reminder"]
    for email in linked:
        delivered = outbox_email_content(email)
        token = LINK.search(delivered.body_text).group(1)
        link = f"https://portal.test/invitations/customer/{token}/"
        assert token not in email.subject + email.body_text + email.body_html
        assert sealing.PLACEHOLDER_PREFIX in email.body_text
        if email.template == "customer_invitation_reminder":
            assert sealing.PLACEHOLDER_PREFIX in email.body_html
            assert f'href="{link}"' in delivered.body_html
        tokens.append(token)
    dump = every_row_as_text()
    assert len(set(tokens)) == 4  # three issued (one of them emailed), and the reminder's new one
    for token in tokens:
        assert token not in dump
