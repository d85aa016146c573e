"""The Licences and Tenant users pages print their rows through ``{% memo %}`` (portal/memo.py, issue 12),
on the customer's side and on its reseller's: a second request is read from the memo and is the same page
byte for byte (each response's CSRF token apart: the rows' buttons belong to the page's one form, which
holds the token outside the memo), and a change of a row's data shows in the next response.

Each row's action, posted as a browser posts that markup (the button's ``formaction``, its name and value,
the page form's token, with CSRF checks on), does what the row's own form did: the same fields to the same
URL."""

from datetime import timedelta
from html.parser import HTMLParser
from typing import NamedTuple

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import DirectoryUser
from accounts.roles import Role
from commerce.models import LicenceAssignment
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from portal.memo import memo
from tests.commerce.test_users_pages import customer_url, flashed, partner_url, signed_in, tenant_user
from tests.factories.accounts import MembershipFactory
from tests.factories.commerce import LicenceAssignmentFactory, SubscriptionFactory, commerce_linked
from tests.factories.customers import CustomerFactory
from tests.factories.providers import ResellerFactory
from tests.support.pages import CSRF_TOKEN, csrf_masked

pytestmark = pytest.mark.django_db


@pytest.fixture
def link():
    return commerce_linked(
        ResellerFactory(legal_name="Contoso Japan KK"), customer=CustomerFactory(legal_name="Fabrikam KK")
    )


@pytest.fixture
def office(link):
    """Office Suite (10 seats), held by ann, bob (disabled) and carol."""
    subscription = SubscriptionFactory(
        customer=link.customer, reseller=link.reseller, provider=link.provider, name="Office Suite", seats=10
    )
    for name in ("ann", "bob", "carol"):
        status = DirectoryUser.Status.DISABLED if name == "bob" else DirectoryUser.Status.ACTIVE
        holder = tenant_user(link.customer, name, status=status, contact_email=f"{name}@example.com")
        LicenceAssignmentFactory(subscription=subscription, directory_user=holder)
    return subscription


def tokens(response) -> list[str]:
    """The CSRF tokens printed in the page's table (the shell's own forms apart): none, the rows' buttons
    belong to the page's one form (``row_form``)."""
    body = response.content.decode()
    return CSRF_TOKEN.findall(body[body.index("<table") : body.index("</table>")])


class Control(NamedTuple):
    tag: str
    attrs: dict
    text: str  # a button's text, its visually hidden part included


class Controls(HTMLParser):
    """The page's forms and the controls that belong to each, as a browser associates them: a control
    inside a form, or naming one with ``form="<id>"`` (forms are not nested)."""

    def __init__(self, body: str):
        super().__init__(convert_charrefs=True)
        self.forms: dict[str, dict] = {}  # id -> the form's attributes
        self.owned: dict[str, list[Control]] = {}  # form id -> its controls, in tree order
        self._form: str | None = None
        self._button: tuple[str, dict, list[str]] | None = None
        self.feed(body)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._form = attrs.get("id") or f"form-{len(self.forms)}"
            self.forms[self._form] = attrs
        elif tag in ("input", "button", "select", "textarea"):
            owner = attrs.get("form") or self._form
            if tag == "button":
                self._button = (owner, attrs, [])
            elif owner is not None:
                self.owned.setdefault(owner, []).append(Control(tag, attrs, ""))

    def handle_data(self, data):
        if self._button is not None:
            self._button[2].append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "button" and self._button is not None:
            owner, attrs, text = self._button
            if owner is not None:
                self.owned.setdefault(owner, []).append(Control("button", attrs, "".join(text)))
            self._button = None


def row_form(response) -> tuple[dict, list[Control]]:
    """The page's one form of the rows' actions (``id="row-actions"``) and the controls that belong to it."""
    controls = Controls(response.content.decode())
    return controls.forms["row-actions"], controls.owned.get("row-actions", [])


def row_buttons(response) -> list[Control]:
    return [control for control in row_form(response)[1] if control.tag == "button"]


def browser_post(client, page, label: str):
    """Press the row button whose text is ``label`` on ``page`` as a browser does: post its form's
    successful controls (the token; of the buttons, only the one pressed, with its name and value) to its
    ``formaction``. Returns (the URL, the fields posted, the response)."""
    form, controls = row_form(page)
    (pressed,) = [c for c in controls if c.tag == "button" and " ".join(c.text.split()) == label]
    fields = {}
    for control in controls:
        name = control.attrs.get("name")
        if not name or (control.tag == "button" and control is not pressed):
            continue
        fields[name] = control.attrs.get("value", "")
    url = pressed.attrs.get("formaction") or form.get("action")
    assert (form.get("method"), pressed.attrs.get("type")) == ("post", "submit")
    return url, fields, client.post(url, fields)


def csrf_checking_client(membership) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(membership.user)
    return client


def masked(response) -> str:
    return csrf_masked(response.content.decode())


def url_of(side: str, name: str, link, **kwargs) -> str:
    return customer_url(name, link, **kwargs) if side == "customer" else partner_url(name, link, **kwargs)


# --- Licences --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["customer", "partner"])
def test_the_second_request_of_the_licences_page_is_read_from_the_memo_and_is_the_same_page(
    client, link, office, side
):
    member = link.customer_admin if side == "customer" else link.reseller_agent
    client = signed_in(client, member)
    url = url_of(side, "licences", link)
    memo.clear()
    first = client.get(url)
    hits, misses = memo.hits, memo.misses

    second = client.get(url)

    assert (first.status_code, second.status_code) == (200, 200)
    assert len(second.context["rows"]) == 3
    assert memo.hits - hits >= 2  # the list of holders (its rows inside it), the list of subscriptions
    assert memo.misses == misses  # nothing of the page is rendered again
    assert masked(second) == masked(first)
    # the rows print no token: their Remove buttons belong to the page's one form, which carries this
    # response's own token, never one from the memo
    assert tokens(second) == []
    form, controls = row_form(second)
    assert form == {"id": "row-actions", "method": "post"}
    assert [c.attrs["name"] for c in controls if c.tag != "button"] == ["csrfmiddlewaretoken"]
    assert row_form(second)[1][0].attrs["value"] != row_form(first)[1][0].attrs["value"]
    assert sorted(button.attrs["formaction"] for button in row_buttons(second)) == sorted(
        url_of(side, "licence_remove", link, assignment_id=assignment.public_id)
        for assignment in LicenceAssignment.objects.filter(subscription=office)
    )


def test_a_renamed_disabled_or_removed_holder_shows_in_the_next_licences_page(client, link, office):
    client = signed_in(client, link.customer_admin)
    url = customer_url("licences", link)
    before = client.get(url).content.decode()
    assert "<bdi>Ann</bdi></td>" in before and "Seats in use" in before
    ann = DirectoryUser.objects.get(user_principal_name__startswith="ann@")
    carol = DirectoryUser.objects.get(user_principal_name__startswith="carol@")

    DirectoryUser.objects.filter(pk=ann.pk).update(
        display_name="Ann Lee", status=DirectoryUser.Status.DISABLED
    )
    LicenceAssignment.objects.filter(directory_user=carol).delete()
    after = client.get(url)

    body = after.content.decode()
    assert "<bdi>Ann</bdi></td>" not in body
    assert (
        '<td class="table__name"><bdi>Ann Lee</bdi> <span class="badge badge--disabled">Disabled</span></td>'
        in body
    )
    assert carol.user_principal_name not in body
    assert [row.user_principal_name for row in after.context["rows"]] == [
        ann.user_principal_name,
        DirectoryUser.objects.get(user_principal_name__startswith="bob@").user_principal_name,
    ]
    assert after.context["chosen"].assigned == 2


def test_a_member_who_only_views_licences_gets_the_rows_from_the_memo_without_actions(client, link, office):
    client = signed_in(client, MembershipFactory(organization=link.reseller, roles=[Role.HELPDESK_AGENT]))
    url = partner_url("licences", link)
    memo.clear()
    first = client.get(url)
    hits = memo.hits

    second = client.get(url)

    assert memo.hits - hits >= 2
    assert masked(second) == masked(first)
    assert tokens(second) == []
    assert 'id="row-actions"' not in second.content.decode()  # no action, no form
    assert "Remove" not in second.content.decode()


# --- Tenant users ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["customer", "partner"])
def test_the_second_request_of_the_users_page_is_read_from_the_memo_and_is_the_same_page(
    client, link, office, side
):
    tenant_user(link.customer, "dan", is_global_admin=True, contact_email="dan@example.com")
    DirectoryUser.objects.filter(user_principal_name__startswith="carol@").update(
        setup_token_hash="pending", setup_expires_at=timezone.now() + timedelta(days=3)
    )
    member = link.customer_admin if side == "customer" else link.reseller_agent
    client = signed_in(client, member)
    url = url_of(side, "users", link)
    memo.clear()
    first = client.get(url)
    hits, misses = memo.hits, memo.misses

    second = client.get(url)

    assert (first.status_code, second.status_code) == (200, 200)
    assert len(second.context["rows"]) == 4
    assert memo.hits - hits >= 1  # the list, its rows inside it
    assert memo.misses == misses  # nothing of the page is rendered again
    assert masked(second) == masked(first)
    # Disable or Enable for each of the four; a new set-up link for ann and carol (active, with a contact
    # email), and for the Global Administrator dan on the customer's side only: each a button of the page's
    # one form, which carries this response's own token
    assert tokens(second) == []
    status_url = {
        user.user_principal_name.split("@")[0]: url_of(side, "user_status", link, user_id=user.public_id)
        for user in DirectoryUser.objects.all()
    }
    assert sorted(
        (button.attrs["formaction"], button.attrs["name"], button.attrs["value"])
        for button in row_buttons(second)
    ) == sorted(
        [
            (status_url["ann"], "action", "disable"),
            (status_url["ann"], "action", "setup_link"),
            (status_url["bob"], "action", "enable"),
            (status_url["carol"], "action", "disable"),
            (status_url["carol"], "action", "setup_link"),
            (status_url["dan"], "action", "disable"),
            *([(status_url["dan"], "action", "setup_link")] if side == "customer" else []),
        ]
    )
    assert [c.attrs["name"] for c in row_form(second)[1] if c.tag != "button"] == ["csrfmiddlewaretoken"]
    assert row_form(second)[1][0].attrs["value"] != row_form(first)[1][0].attrs["value"]
    assert "Set-up link sent; it expires" in second.content.decode()


def test_a_renamed_disabled_or_newly_licensed_user_shows_in_the_next_users_page(client, link, office):
    client = signed_in(client, link.customer_admin)
    url = customer_url("users", link)
    before = client.get(url)
    ann = DirectoryUser.objects.get(user_principal_name__startswith="ann@")
    rows = {row.user_principal_name: row for row in before.context["rows"]}
    assert (rows[ann.user_principal_name].display_name, rows[ann.user_principal_name].status) == (
        "Ann",
        "active",
    )
    mail = SubscriptionFactory(
        customer=link.customer, reseller=link.reseller, provider=link.provider, name="Mail Plan", seats=5
    )

    DirectoryUser.objects.filter(pk=ann.pk).update(
        display_name="Ann Lee", status=DirectoryUser.Status.DISABLED
    )
    LicenceAssignmentFactory(subscription=mail, directory_user=ann)
    after = client.get(url)

    body = after.content.decode()
    assert '<th scope="row" class="table__name"><bdi>Ann Lee</bdi></th>' in body
    assert "<bdi>Ann</bdi>" not in body
    assert (
        '<td class="table__licences"><ul class="customer-plain-list"><li><bdi>Mail Plan</bdi></li>'
        "<li><bdi>Office Suite</bdi></li></ul></td>" in body
    )
    assert f'Enable<span class="visually-hidden"> {ann.user_principal_name}</span>' in body
    assert f'Disable<span class="visually-hidden"> {ann.user_principal_name}</span>' not in body
    rows = {row.user_principal_name: row for row in after.context["rows"]}
    assert rows[ann.user_principal_name].licence_names == ("Mail Plan", "Office Suite")
    assert rows[ann.user_principal_name].status == "disabled"


# --- Row actions through the page's one form -------------------------------------------------------------


@pytest.mark.parametrize("side", ["customer", "partner"])
def test_each_users_row_action_posted_as_the_browser_posts_it_does_what_its_own_form_did(link, office, side):
    member = link.customer_admin if side == "customer" else link.reseller_agent
    client = csrf_checking_client(member)
    ann = DirectoryUser.objects.get(user_principal_name__startswith="ann@")
    bob = DirectoryUser.objects.get(user_principal_name__startswith="bob@")
    url = url_of(side, "users", link)

    # Disable ann: the token and action=disable to ann's status URL, as her row's form posted them
    posted_to, fields, disabled = browser_post(client, client.get(url), f"Disable {ann.user_principal_name}")

    assert posted_to == url_of(side, "user_status", link, user_id=ann.public_id)
    assert sorted(fields) == ["action", "csrfmiddlewaretoken"] and fields["action"] == "disable"
    assert (disabled.status_code, disabled["Location"]) == (302, url)
    assert flashed(disabled) == [
        f"Ann ({ann.user_principal_name}) is disabled: the user can no longer sign in."
    ]
    ann.refresh_from_db()
    assert ann.status == DirectoryUser.Status.DISABLED
    audit = AuditEvent.objects.filter(organization_id=link.customer.pk)
    assert audit.filter(action="directory_user.disabled").count() == 1

    # Enable bob, from the page the redirect shows
    posted_to, fields, enabled = browser_post(client, client.get(url), f"Enable {bob.user_principal_name}")

    assert posted_to == url_of(side, "user_status", link, user_id=bob.public_id)
    assert sorted(fields) == ["action", "csrfmiddlewaretoken"] and fields["action"] == "enable"
    assert (enabled.status_code, enabled["Location"]) == (302, url)
    assert flashed(enabled) == [f"Bob ({bob.user_principal_name}) is enabled: the user can sign in again."]
    bob.refresh_from_db()
    assert bob.status == DirectoryUser.Status.ACTIVE
    assert audit.filter(action="directory_user.enabled").count() == 1

    # A new set-up link for carol (active, with a contact email)
    carol = DirectoryUser.objects.get(user_principal_name__startswith="carol@")
    emails = OutboxEmail.objects.filter(template="directory_user_setup").count()
    posted_to, fields, sent = browser_post(
        client, client.get(url), f"Send a new set-up link {carol.user_principal_name}"
    )

    assert posted_to == url_of(side, "user_status", link, user_id=carol.public_id)
    assert sorted(fields) == ["action", "csrfmiddlewaretoken"] and fields["action"] == "setup_link"
    assert (sent.status_code, sent["Location"]) == (302, url)
    assert flashed(sent) == [
        f"A new set-up link for Carol ({carol.user_principal_name}) is on its way to the user's contact "
        "email. Earlier links no longer work."
    ]
    assert OutboxEmail.objects.filter(template="directory_user_setup").count() == emails + 1
    carol.refresh_from_db()
    assert carol.status == DirectoryUser.Status.ACTIVE and carol.setup_token_hash


@pytest.mark.parametrize("side", ["customer", "partner"])
def test_each_licences_row_action_posted_as_the_browser_posts_it_does_what_its_own_form_did(
    link, office, side
):
    member = link.customer_admin if side == "customer" else link.reseller_agent
    client = csrf_checking_client(member)
    bob = LicenceAssignment.objects.get(subscription=office, user_principal_name__startswith="bob@")
    page = client.get(url_of(side, "licences", link))
    holders = [row.user_principal_name for row in page.context["rows"]]

    # Remove bob's licence: the token alone to the assignment's remove URL, as its row's form posted it
    posted_to, fields, removed = browser_post(client, page, f"Remove {bob.user_principal_name}")

    assert posted_to == url_of(side, "licence_remove", link, assignment_id=bob.public_id)
    assert list(fields) == ["csrfmiddlewaretoken"]
    assert removed.status_code == 302
    assert removed["Location"] == f"{url_of(side, 'licences', link)}?subscription={office.public_id}"
    assert flashed(removed) == [
        f"{bob.user_principal_name} no longer holds this licence: its seat is free again."
    ]
    remaining = LicenceAssignment.objects.filter(subscription=office)
    assert sorted(remaining.values_list("user_principal_name", flat=True)) == sorted(
        name for name in holders if name != bob.user_principal_name
    )
    assert AuditEvent.objects.filter(action="licence.removed", organization_id=link.customer.pk).count() == 1


def test_a_row_action_posted_without_the_page_forms_token_is_refused_and_changes_nothing(link, office):
    client = csrf_checking_client(link.customer_admin)
    ann = DirectoryUser.objects.get(user_principal_name__startswith="ann@")
    page = client.get(customer_url("users", link))
    (disable,) = [
        button
        for button in row_buttons(page)
        if button.attrs["value"] == "disable" and ann.user_principal_name in button.text
    ]

    refused = client.post(disable.attrs["formaction"], {"action": "disable"})

    assert refused.status_code == 403
    ann.refresh_from_db()
    assert ann.status == DirectoryUser.Status.ACTIVE
