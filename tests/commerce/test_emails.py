"""The commerce emails: each template renders alone, in English and in Japanese, with its key facts (names,
seats, dates, the reason) and a closing line that says why its reader gets it, with sentences adapted to
the reader (the customer, its reseller, the provider); produced by the real services (orders, order
requests, provisioning, the renewal job, a new user of the customer's tenant), each email goes to the
right people in their own language; the set-up link is sealed in the outbox and only the delivered
message holds it."""

import copy
import html
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from django.conf import settings as django_settings
from django.utils import translation
from django.utils.html import escape, strip_tags

from accounts.services.directory import directory_user_setup_find
from commerce.models import OrderKind
from commerce.services import orders, subscriptions, users
from commerce.services.orders import failure_message
from portal.branding import program_name_lazy
from portal.mail import sealing
from portal.mail.models import OutboxEmail
from portal.mail.services import email_render, outbox_email_content
from tests.factories.accounts import DirectoryTenantFactory
from tests.factories.commerce import (
    LicenceAssignmentFactory,
    OfferFactory,
    SubscriptionFactory,
    commerce_linked,
)
from tests.factories.customers import CustomerFactory
from tests.factories.providers import ProviderFactory, ResellerFactory
from tests.platform.test_secrets_at_rest import every_row_as_text

pytestmark = pytest.mark.django_db

MISSING = "MISSING-VARIABLE"
SITE = "https://portal.test"
RESELLER = "Fabrikam <Cloud> KK"
PROVIDER = "Contoso & Co KK"
CUSTOMER = "Northwind & Sons Ltd"
OFFER = "Cloud Suite <Pro>"
ORDER_ID = "0b7c9e4f-8d6a-4e1f-9a3b-c5d6e7f8a9b0"
ORGANIZATION = "Woodgrove Org"
RENEWS = datetime(2027, 5, 17, 23, 30, tzinfo=UTC)
SETUP_URL = "https://portal.test/directory/setup/tok-123456/"
SETUP_LINK = re.compile(r"https://portal\.test/directory/setup/([\w-]+)/")
NOTE = "Please start on the 1st."
REASON = "No budget this quarter."
TEMPLATES = [
    "order_request",
    "order_request_declined",
    "order_provisioned",
    "order_failed",
    "subscription_renewal_reminder",
    "subscription_renewed",
    "subscription_ended",
    "directory_user_setup",
]


@pytest.fixture
def strict_templates(settings):
    """A variable the context lacks renders as MISSING-VARIABLE(name) instead of nothing."""
    templates = copy.deepcopy(django_settings.TEMPLATES)
    templates[0]["OPTIONS"]["string_if_invalid"] = f"{MISSING}(%s)"
    settings.TEMPLATES = templates


def number_in(number: int, text: str) -> bool:
    return re.search(rf"(?<![\d-]){number}(?![\d-])", text) is not None


def english_left(text: str, typed: list[str]) -> list[str]:
    """The words of English left once what people typed (names, notes, reasons, links) is taken out: a
    Japanese email has none (UTC aside)."""
    for value in sorted(typed, key=len, reverse=True):
        text = text.replace(value, " ")
    return [word for word in re.findall(r"[A-Za-z]{2,}", text) if word != "UTC"]


def visible_text(body_html: str) -> str:
    return html.unescape(strip_tags(body_html))


# --- Each template alone ------------------------------------------------------------------------------

ORDER = {
    "order_id": ORDER_ID,
    "order_kind": "New subscription",
    "kind": "new",
    "offer_name": OFFER,
    "subscription_name": OFFER,
    "seats": 23,
    "customer_name": CUSTOMER,
    "reseller_name": RESELLER,
    "provider_name": PROVIDER,
    "customer_public_id": "c0ffee00-0000-4000-8000-000000000001",
    "organization_name": ORGANIZATION,
}
SUBSCRIPTION = {
    "subscription_name": OFFER,
    "seats": 23,
    "renews_at": RENEWS,
    "auto_renew": True,
    "customer_name": CUSTOMER,
    "reseller_name": RESELLER,
    "provider_name": PROVIDER,
    "customer_public_id": "c0ffee00-0000-4000-8000-000000000001",
    "organization_name": ORGANIZATION,
}
SETUP = {
    "display_name": "Aiko O'Neil",
    "user_principal_name": "aiko@northwind.example",
    "tenant_name": "northwind",
    "added_by_partner": RESELLER,
    "setup_url": SETUP_URL,
    "days": 7,
}
#: (template, id, context): every variant of every email
CASES = [
    ("order_request", "new-with-note", {**ORDER, "recipient_kind": "provider", "note": NOTE}),
    ("order_request", "seats", {**ORDER, "kind": "seats", "recipient_kind": "provider", "note": ""}),
    (
        "order_request",
        "cancel",
        {**ORDER, "kind": "cancel", "seats": 0, "recipient_kind": "provider", "note": ""},
    ),
    ("order_request_declined", "reseller", {**ORDER, "recipient_kind": "reseller", "reason": REASON}),
    ("order_provisioned", "new-customer", {**ORDER, "recipient_kind": "customer"}),
    ("order_provisioned", "seats-reseller", {**ORDER, "kind": "seats", "recipient_kind": "reseller"}),
    ("order_provisioned", "cancel-provider", {**ORDER, "kind": "cancel", "recipient_kind": "provider"}),
    *[
        (
            "order_failed",
            kind,
            {**ORDER, "recipient_kind": kind, "failure_code": "offer_unavailable_in_country"},
        )
        for kind in ("customer", "reseller", "provider")
    ],
    *[
        (
            "subscription_renewal_reminder",
            f"{renew}-{kind}",
            {**SUBSCRIPTION, "auto_renew": renew == "on"} | {"recipient_kind": kind},
        )
        for renew in ("on", "off")
        for kind in ("customer", "reseller", "provider")
    ],
    *[
        ("subscription_renewed", kind, {**SUBSCRIPTION, "recipient_kind": kind})
        for kind in ("customer", "reseller", "provider")
    ],
    *[
        (
            "subscription_ended",
            f"{kind}-{released}",
            {
                **SUBSCRIPTION,
                "recipient_kind": kind,
                "end_reason": {0: "suspended", 3: "auto_renew_off", 1: "partnership_missing"}[released],
                "licences_released": released,
            },
        )
        for kind, released in (("customer", 0), ("reseller", 3), ("provider", 1))
    ],
    ("directory_user_setup", "by-partner", SETUP),
    ("directory_user_setup", "by-own-admin", {**SETUP, "added_by_partner": ""}),
]


def typed_values(context: dict) -> list[str]:
    """What people typed or the system made up, which stays as it is in every language."""
    keys = ("customer_name", "reseller_name", "provider_name", "offer_name", "subscription_name", "order_id")
    keys += ("note", "reason", "organization_name", "display_name", "user_principal_name", "tenant_name")
    keys += ("added_by_partner", "setup_url")
    return [str(context[key]) for key in keys if context.get(key)] + [SITE]


def key_facts(template: str, context: dict, language: str) -> tuple[list[str], list[int]]:
    """What the email must say, whatever the language: texts, and numbers (seats, days, licences)."""
    kind = context.get("recipient_kind")
    if template == "directory_user_setup":
        texts = ["Aiko O'Neil", "aiko@northwind.example", "northwind", SETUP_URL]
        return texts + ([RESELLER] if context["added_by_partner"] else []), [7]
    texts = [CUSTOMER, ORGANIZATION]
    numbers = []
    if template.startswith("order"):
        texts += [OFFER, ORDER_ID, RESELLER, PROVIDER]
        numbers += [] if context["kind"] == "cancel" else [23]
        if context.get("note"):
            texts.append(NOTE)
        if template == "order_request_declined":
            texts.append(REASON)
        if template == "order_failed":
            with translation.override(language):
                texts.append(failure_message(context["failure_code"]))
            texts.append(RESELLER if kind == "customer" else PROVIDER)
        return texts, numbers
    texts += [OFFER]
    numbers += [] if template == "subscription_ended" else [23]
    texts.append("2027-05-17")
    if template == "subscription_renewal_reminder":
        texts.append({"customer": RESELLER, "reseller": PROVIDER, "provider": CUSTOMER}[kind])
    if context.get("licences_released"):
        numbers.append(context["licences_released"])
    return texts, numbers


@pytest.mark.parametrize("language", ["en", "ja"])
@pytest.mark.parametrize(
    ("template", "context"), [(t, c) for t, _i, c in CASES], ids=[f"{t}-{i}" for t, i, _c in CASES]
)
def test_each_template_renders_alone_with_its_key_facts(strict_templates, template, context, language):
    rendered = email_render(template=template, context=context, language=language)

    everything = rendered.subject + rendered.body_text + rendered.body_html
    assert MISSING not in everything
    assert rendered.subject and "\n" not in rendered.subject
    assert "\n\n\n" not in rendered.body_text
    texts, numbers = key_facts(template, context, language)
    for fact in texts:
        assert fact in rendered.body_text, fact
        assert escape(fact) in rendered.body_html, fact
    for number in numbers:
        assert number_in(number, rendered.body_text), number
        assert number_in(number, visible_text(rendered.body_html)), number
    # Plain text is plain; the HTML is escaped and in the recipient's language.
    assert "&amp;" not in rendered.body_text and "&lt;" not in rendered.body_text
    assert "<Cloud>" not in rendered.body_html and "Northwind & Sons" not in rendered.body_html
    assert f'<html lang="{language}">' in rendered.body_html
    assert rendered.body_html.count("{%") == rendered.body_html.count("{{") == 0


@pytest.mark.parametrize(
    ("template", "context"), [(t, c) for t, _i, c in CASES], ids=[f"{t}-{i}" for t, i, _c in CASES]
)
def test_the_japanese_emails_leave_no_sentence_in_english(strict_templates, template, context):
    rendered = email_render(template=template, context=context, language="ja")

    typed = typed_values(context)
    with translation.override("ja"):
        typed.append(str(program_name_lazy))
    assert english_left(rendered.subject, typed) == []
    assert english_left(rendered.body_text, typed) == []
    assert english_left(visible_text(rendered.body_html), typed) == []


FOOTERS = {
    "customer": "You receive this email because you look after the subscriptions of Woodgrove Org.",
    "reseller": "You receive this email because you look after the customers of Woodgrove Org.",
    "provider": "You receive this email because you look after the customers of Woodgrove Org.",
}


@pytest.mark.parametrize(
    ("template", "context"), [(t, c) for t, _i, c in CASES], ids=[f"{t}-{i}" for t, i, _c in CASES]
)
def test_each_email_ends_with_why_its_reader_gets_it(strict_templates, template, context):
    text = email_render(template=template, context=context, language="en").body_text

    footer = text.strip().splitlines()[-1]
    if template == "directory_user_setup":
        assert footer == (
            "You receive this email because this address was given as the contact address of "
            "aiko@northwind.example."
        )
    else:
        assert footer == FOOTERS[context["recipient_kind"]]


def render_text(template: str, **changes) -> str:
    base = SETUP if template == "directory_user_setup" else ORDER
    if template.startswith("subscription"):
        base = SUBSCRIPTION
    return email_render(template=template, context={**base, **changes}, language="en").body_text


def test_the_order_request_reads_as_the_provider_acts_on_it(strict_templates):
    text = render_text("order_request", recipient_kind="provider", note=NOTE)
    subject = email_render(
        template="order_request", context={**ORDER, "recipient_kind": "provider", "note": ""}, language="en"
    ).subject

    assert subject == "Fabrikam <Cloud> KK sends you an order request for Northwind & Sons Ltd"
    assert text == (
        "Fabrikam <Cloud> KK, the reseller of record of Northwind & Sons Ltd, asks you to submit this order "
        "on behalf of Northwind & Sons Ltd:\n"
        "- New subscription: Cloud Suite <Pro>, 23 seats\n"
        "- Customer: Northwind & Sons Ltd\n"
        "- Reseller of record: Fabrikam <Cloud> KK\n"
        "- Indirect provider: Contoso & Co KK\n"
        f"- Order number: {ORDER_ID}\n"
        "\n"
        "Note from Fabrikam <Cloud> KK: Please start on the 1st.\n"
        "\n"
        "Submit the order, or decline the request with a reason, on your Orders page: sign in at "
        "https://portal.test and open Orders.\n"
        "\n"
        "You receive this email because you look after the customers of Woodgrove Org.\n"
    )
    # Without a note, no empty line of it; each kind of order says what it asks.
    assert "Note from" not in render_text("order_request", recipient_kind="provider", note="")
    assert "- Change of seats: Cloud Suite <Pro>, 1 seat in all\n" in render_text(
        "order_request", kind="seats", seats=1, recipient_kind="provider", note=""
    )
    assert "- Cancellation: Cloud Suite <Pro>\n" in render_text(
        "order_request", kind="cancel", seats=0, recipient_kind="provider", note=""
    )


def test_each_reader_is_told_where_to_look_and_what_to_do(strict_templates):
    provisioned = {kind: render_text("order_provisioned", recipient_kind=kind) for kind in FOOTERS}
    assert (
        "Your subscriptions are on the Subscriptions page: sign in at https://portal.test and open "
        in (provisioned["customer"])
    )
    for kind in ("reseller", "provider"):
        assert (
            "The order is on your Orders page: sign in at https://portal.test and open Orders."
            in (provisioned[kind])
        )
    assert provisioned["customer"].startswith(
        "The order is provisioned: Northwind & Sons Ltd now has the subscription Cloud Suite <Pro>, with 23 "
        "seats.\n"
    )

    failed = {
        kind: render_text("order_failed", recipient_kind=kind, failure_code="offer_not_on_sale")
        for kind in FOOTERS
    }
    for text in failed.values():
        assert "Reason: The offer is no longer on sale.\n" in text
    assert "you can submit the order again from your Customers page" in failed["provider"]
    assert "you can send Contoso & Co KK a new order request from your Customers page" in failed["reseller"]
    assert (
        "Your reseller of record, Fabrikam <Cloud> KK, can tell you more and order again."
        in (failed["customer"])
    )
    # An unknown code still reads as a reason.
    assert "Reason: The order could not be provisioned.\n" in render_text(
        "order_failed", recipient_kind="customer", failure_code="something_new"
    )

    reminder = {kind: render_text("subscription_renewal_reminder", recipient_kind=kind) for kind in FOOTERS}
    assert reminder["provider"].startswith(
        "The subscription Cloud Suite <Pro> of Northwind & Sons Ltd, with 23 seats, renews automatically on "
        "2027-05-17 (UTC) for a new term. To end it at the end of its term instead, turn off auto-renew on "
        "your Customers page before that date.\n"
    )
    assert "ask Contoso & Co KK, the indirect provider, to turn off auto-renew" in reminder["reseller"]
    assert "tell your reseller of record, Fabrikam <Cloud> KK, before that date." in reminder["customer"]
    assert "open Subscriptions." in reminder["customer"] and "open Customers." in reminder["reseller"]
    ending = render_text("subscription_renewal_reminder", recipient_kind="reseller", auto_renew=False)
    assert ending.startswith(
        "The subscription Cloud Suite <Pro> of Northwind & Sons Ltd, with 23 seats, ends on 2027-05-17 "
        "(UTC), at the end of its term: auto-renew is off. Its licences are then removed from its users. To "
        "keep it, ask Contoso & Co KK, the indirect provider, to turn auto-renew back on before that date.\n"
    )

    ended = render_text(
        "subscription_ended", recipient_kind="customer", end_reason="auto_renew_off", licences_released=1
    )
    assert ended.startswith(
        "The subscription Cloud Suite <Pro> of Northwind & Sons Ltd ended on 2027-05-17 (UTC), at the end of "
        "its term: auto-renew was off. 1 licence assigned to its users was removed. To subscribe again, ask "
        "your reseller of record, Fabrikam <Cloud> KK.\n"
    )
    suspended = render_text(
        "subscription_ended", recipient_kind="provider", end_reason="suspended", licences_released=0
    )
    assert "it was suspended, so it was not renewed. To subscribe again, submit an order" in suspended
    assert "licence" not in suspended
    unsellable = render_text(
        "subscription_ended", recipient_kind="reseller", end_reason="offer_unavailable_in_country"
    )
    assert (
        "at the end of its term, instead of renewing: The offer is not available in the customer's country."
        in unsellable
    )


def test_the_set_up_email_says_who_added_the_user_and_how_to_sign_in(strict_templates):
    by_partner = email_render(template="directory_user_setup", context=SETUP, language="en")
    by_admin = render_text("directory_user_setup", added_by_partner="")

    assert by_partner.subject == "Your account in northwind: choose your password"
    assert by_partner.body_text == (
        "Hello Aiko O'Neil,\n"
        "\n"
        "An account was created for you on behalf of northwind by Fabrikam <Cloud> KK. You sign in with this "
        "user name: aiko@northwind.example\n"
        "\n"
        "Open this link to choose your password:\n"
        f"{SETUP_URL}\n"
        "\n"
        "The link works once, for 7 days. Until you choose a password, nobody can sign in to the account. If "
        "the link has expired, ask an administrator of northwind to send a new one.\n"
        "\n"
        "If you did not expect this email, you can ignore it.\n"
        "\n"
        "You receive this email because this address was given as the contact address of "
        "aiko@northwind.example.\n"
    )
    assert f'href="{SETUP_URL}"' in by_partner.body_html
    assert "An administrator of northwind created an account for you." in by_admin
    assert RESELLER not in by_admin
    assert "for 1 day." in render_text("directory_user_setup", days=1)


def test_the_template_filters_say_the_reason_and_the_amount_in_the_readers_language():
    from django.template import Context, Template

    template = Template("{% load commerce_tags %}{{ code|order_failure }}|{{ amount|money:currency }}")

    with translation.override("en"):
        text = template.render(Context({"code": "offer_not_on_sale", "amount": 1200, "currency": "JPY"}))
    assert text == "The offer is no longer on sale.|¥1,200"
    with translation.override("ja"):
        text = template.render(Context({"code": "offer_not_on_sale", "amount": "12.5", "currency": "USD"}))
        reason = failure_message("offer_not_on_sale")
    assert text == f"{reason}|$12.50"
    assert (
        Template("{% load commerce_tags %}[{{ none|money:'JPY' }}]").render(Context({"none": None})) == "[]"
    )


# --- Through the real services --------------------------------------------------------------------------

CUSTOMER_ADMIN = "ann@northwind.example"
RESELLER_AGENT = "kenji@fabrikam.example"
PROVIDER_AGENT = "mei@contoso.example"


def people(*, partners: str, customer: str):
    """A customer shared by the reseller with the provider; each side's people speak its language."""
    link = commerce_linked(
        ResellerFactory(legal_name=RESELLER),
        ProviderFactory(legal_name=PROVIDER),
        customer=CustomerFactory(
            legal_name=CUSTOMER,
            directory_tenant=DirectoryTenantFactory(name="northwind", verified_domains=["northwind.example"]),
        ),
    )
    for membership, address, language in [
        (link.customer_admin, CUSTOMER_ADMIN, customer),
        (link.reseller_agent, RESELLER_AGENT, partners),
        (link.provider_agent, PROVIDER_AGENT, partners),
    ]:
        membership.user.email, membership.user.preferred_language = address, language
        membership.user.save(update_fields=["email", "preferred_language"])
    return link


def sent(template: str) -> dict[str, OutboxEmail]:
    return {email.to: email for email in OutboxEmail.objects.filter(template=template)}


def assert_readable(email: OutboxEmail, language: str) -> str:
    """The delivered email is whole, escaped where it should be, and in ``language``."""
    content = outbox_email_content(email)
    assert email.language == language
    assert MISSING not in content.subject + content.body_text + content.body_html
    assert "&amp;" not in content.body_text and "\n\n\n" not in content.body_text
    assert f'<html lang="{language}">' in content.body_html and "<Cloud>" not in content.body_html
    return content.body_text


def submit(link, offer, seats=23):
    return orders.order_submit(
        by=link.provider_agent,
        customer=link.customer,
        reseller=link.reseller,
        kind=OrderKind.NEW,
        offer=offer,
        seats=seats,
        idempotency_key=uuid.uuid4(),
    )


@pytest.mark.parametrize(("partners", "customer"), [("ja", "en"), ("en", "ja")])
def test_a_provisioned_order_reaches_the_three_parties_in_their_languages(
    strict_templates, django_capture_on_commit_callbacks, partners, customer
):
    link = people(partners=partners, customer=customer)
    order = submit(link, OfferFactory(name=OFFER))
    assert not OutboxEmail.objects.exists()  # submitting emails nobody: provisioning does

    with django_capture_on_commit_callbacks() as published:
        assert orders.order_provision(order_id=order.pk) == "provisioned"

    emails = sent("order_provisioned")
    assert len(published) == 3  # each email handed to the worker after commit
    assert {address: (email.language, email.organization_id) for address, email in emails.items()} == {
        CUSTOMER_ADMIN: (customer, link.customer.pk),
        RESELLER_AGENT: (partners, link.reseller.pk),
        PROVIDER_AGENT: (partners, link.provider.pk),
    }
    for address, email in emails.items():
        language = customer if address == CUSTOMER_ADMIN else partners
        text = assert_readable(email, language)
        for fact in (CUSTOMER, RESELLER, PROVIDER, OFFER, str(order.public_id)):
            assert fact in text, (address, fact)
        assert number_in(23, text)
    english = outbox_email_content(emails[CUSTOMER_ADMIN if customer == "en" else RESELLER_AGENT]).body_text
    assert english.startswith(
        "The order is provisioned: Northwind & Sons Ltd now has the subscription Cloud Suite <Pro>, with 23 "
        "seats.\n"
    )
    subject = emails[PROVIDER_AGENT].subject
    assert CUSTOMER in subject and OFFER in subject
    if partners == "en":
        assert subject == "Subscription Cloud Suite <Pro> is ready for Northwind & Sons Ltd"


def test_a_failed_order_says_why_to_each_party_in_its_language(
    strict_templates, django_capture_on_commit_callbacks
):
    link = people(partners="en", customer="ja")
    offer = OfferFactory(name=OFFER)
    order = submit(link, offer)
    # The offer is taken off sale between submission and provisioning.
    offer.is_active = False
    offer.save(update_fields=["is_active"])

    assert orders.order_provision(order_id=order.pk) == "failed"

    emails = sent("order_failed")
    assert set(emails) == {CUSTOMER_ADMIN, RESELLER_AGENT, PROVIDER_AGENT}
    provider = assert_readable(emails[PROVIDER_AGENT], "en")
    reseller = assert_readable(emails[RESELLER_AGENT], "en")
    customer = assert_readable(emails[CUSTOMER_ADMIN], "ja")
    assert "Reason: The offer is no longer on sale.\n" in provider
    assert "Once the cause is resolved, you can submit the order again from your Customers page" in provider
    assert "you can send Contoso & Co KK a new order request" in reseller
    with translation.override("ja"):
        reason = failure_message("offer_not_on_sale")
    assert reason in customer
    assert (
        english_left(customer, [CUSTOMER, RESELLER, PROVIDER, OFFER, str(order.public_id), SITE, "Woodgrove"])
        == []
    )
    assert outbox_email_content(emails[PROVIDER_AGENT]).subject == (
        "An order for Northwind & Sons Ltd could not be provisioned"
    )


def test_an_order_request_and_its_decline_reach_the_other_partner(strict_templates):
    link = people(partners="en", customer="en")
    request = orders.order_request_create(
        by=link.reseller_agent,
        customer=link.customer,
        provider=link.provider,
        kind=OrderKind.NEW,
        offer=OfferFactory(name=OFFER),
        seats=23,
        note=NOTE,
        send=True,
        idempotency_key=uuid.uuid4(),
    )

    asked = sent("order_request")
    assert list(asked) == [PROVIDER_AGENT]
    text = assert_readable(asked[PROVIDER_AGENT], "en")
    assert f"- Order number: {request.public_id}\n" in text
    assert "Note from Fabrikam <Cloud> KK: Please start on the 1st.\n" in text

    orders.order_request_decline(by=link.provider_agent, order=request, reason=REASON)

    declined = sent("order_request_declined")
    assert list(declined) == [RESELLER_AGENT]
    text = assert_readable(declined[RESELLER_AGENT], "en")
    assert text.startswith(
        "Contoso & Co KK declined the order request you sent for Northwind & Sons Ltd:\n"
        "- New subscription: Cloud Suite <Pro>, 23 seats\n"
    )
    assert "\nReason: No budget this quarter.\n" in text
    assert (
        declined[RESELLER_AGENT].subject
        == "Contoso & Co KK declined your order request for Northwind & Sons Ltd"
    )


def test_the_renewal_job_reminds_renews_and_ends_with_an_email_each(strict_templates):
    link = people(partners="en", customer="ja")
    parties = {"customer": link.customer, "reseller": link.reseller, "provider": link.provider}
    started = RENEWS - relativedelta(months=1)
    term = {"term_started_at": started, "started_at": started}
    renewing = SubscriptionFactory(**parties, **term, name=OFFER, seats=23, renews_at=RENEWS, auto_renew=True)
    ending = SubscriptionFactory(
        **parties, **term, name="Secure Mail", seats=2, renews_at=RENEWS, auto_renew=False
    )
    LicenceAssignmentFactory(subscription=ending)

    assert subscriptions.subscriptions_run_due(now=RENEWS - timedelta(days=3)) == {
        "renewal_reminders": 2,
        "renewed": 0,
        "ended": 0,
    }
    assert subscriptions.subscriptions_run_due(now=RENEWS + timedelta(minutes=1)) == {
        "renewal_reminders": 0,
        "renewed": 1,
        "ended": 1,
    }

    reminders = OutboxEmail.objects.filter(template="subscription_renewal_reminder")
    assert sorted(reminders.values_list("to", flat=True)) == sorted(
        [CUSTOMER_ADMIN, RESELLER_AGENT, PROVIDER_AGENT] * 2
    )
    by_subject = {email.subject: email for email in reminders.filter(language="en")}
    assert set(by_subject) == {
        "Cloud Suite <Pro> of Northwind & Sons Ltd renews on 2027-05-17",
        "Secure Mail of Northwind & Sons Ltd ends on 2027-05-17",
    }
    renewed = sent("subscription_renewed")
    assert set(renewed) == {CUSTOMER_ADMIN, RESELLER_AGENT, PROVIDER_AGENT}
    assert "Its next renewal date is 2027-06-17 (UTC)." in assert_readable(renewed[RESELLER_AGENT], "en")
    renewed_ja = assert_readable(renewed[CUSTOMER_ADMIN], "ja")
    assert "2027-06-17" in renewed_ja and OFFER in renewed_ja and number_in(23, renewed_ja)
    ended = sent("subscription_ended")
    assert set(ended) == {CUSTOMER_ADMIN, RESELLER_AGENT, PROVIDER_AGENT}
    text = assert_readable(ended[PROVIDER_AGENT], "en")
    assert text.startswith(
        "The subscription Secure Mail of Northwind & Sons Ltd ended on 2027-05-17 (UTC), at the end of its "
        "term: auto-renew was off. 1 licence assigned to its users was removed."
    )
    assert renewing.pk != ending.pk


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_set_up_link_is_sealed_in_the_outbox_and_only_the_delivered_email_holds_it(
    strict_templates, caplog, language
):
    link = people(partners="en", customer="en")
    caplog.set_level(logging.DEBUG)

    user = users.customer_user_add(
        by=link.reseller_agent,
        customer=link.customer,
        user_principal_name="aiko@northwind.example",
        display_name="Aiko O'Neil",
        contact_email="aiko@personal.example",
        language=language,
    )

    email = OutboxEmail.objects.get(template="directory_user_setup")
    assert (email.to, email.language, email.organization_id) == (
        "aiko@personal.example",
        language,
        link.customer.pk,
    )
    delivered = outbox_email_content(email)
    match = SETUP_LINK.search(delivered.body_text)
    token, url = match.group(1), match.group(0)
    # Stored: a placeholder where the link goes, in both parts; the token nowhere in the database or logs.
    assert token not in email.subject + email.body_text + email.body_html
    assert sealing.PLACEHOLDER_PREFIX in email.body_text and sealing.PLACEHOLDER_PREFIX in email.body_html
    assert token not in every_row_as_text()
    assert token not in caplog.text
    # Delivered: the link, once in the text and as the button in the HTML, opening this user's set-up.
    assert delivered.body_text.count(url) == 1
    assert f'href="{url}"' in delivered.body_html
    assert directory_user_setup_find(token) == user
    text = assert_readable(email, language)
    for fact in ("Aiko O'Neil", "aiko@northwind.example", "northwind", RESELLER):
        assert fact in text
    assert number_in(7, text)
    if language == "en":
        assert "An account was created for you on behalf of northwind by Fabrikam <Cloud> KK." in text
    else:
        assert english_left(text, ["Aiko O'Neil", "aiko@northwind.example", "northwind", RESELLER, url]) == []


def test_a_user_added_by_the_customers_own_admin_is_not_told_of_a_partner(strict_templates):
    link = people(partners="en", customer="en")

    users.customer_user_add(
        by=link.customer_admin,
        customer=link.customer,
        user_principal_name="bo@northwind.example",
        display_name="Bo",
        contact_email="bo@personal.example",
        language="en",
    )

    text = outbox_email_content(OutboxEmail.objects.get(template="directory_user_setup")).body_text
    assert "An administrator of northwind created an account for you." in text
    assert RESELLER not in text and "on behalf of" not in text
