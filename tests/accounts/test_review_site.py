"""The review site (Django admin at /review/): every change made there goes through a service that writes
its audit row, everything else is read-only, no page shows a usable secret, and it speaks both languages.
"""

import uuid
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.usersessions.models import UserSession
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import NoReverseMatch, reverse

from accounts import services
from accounts.audit_actions import REVIEW_ACTION_LABELS
from accounts.models import Organization, User
from accounts.roles import Role
from accounts.services.review import (
    ORGANIZATION_DETAIL_FIELDS,
    organization_details_update,
    organization_suspend,
    user_staff_grant,
)
from commerce.models import Offer, Order, Subscription
from enrollment.models import BlockedEmailDomain, ContactConfirmation, ScreeningEntry
from enrollment.services.email_domains import blocked_email_domain_add
from enrollment.services.screening import screening_entry_add
from portal.audit.catalogue import action_label
from portal.audit.models import AuditEvent
from portal.errors import DomainError
from portal.invitations.services import link_invitation_issue
from portal.mail.models import OutboxEmail
from providers.models import BulkInvitationRow
from tests.enrollment.builders import BUILDER_DIRECTORY_PASSWORD, application_in_review, submitted_application
from tests.factories.accounts import (
    DIRECTORY_PASSWORD,
    PASSWORD,
    TOTP_SECRET,
    DirectoryTenantFactory,
    DirectoryUserFactory,
    MembershipFactory,
    MembershipInvitationFactory,
    OrganizationFactory,
    StaffFactory,
    UserFactory,
)
from tests.factories.commerce import LicenceAssignmentFactory
from tests.factories.enrollment import MEMBERSHIP_PASSWORD, PartnerProfileFactory
from tests.factories.mail import OutboxEmailFactory
from tests.factories.providers import (
    BulkInvitationRunFactory,
    PartnershipFactory,
    PartnershipRequestFactory,
    partnership_invitation_issued,
)
from tests.support.races import TRIALS, race

pytestmark = pytest.mark.django_db

SESSION_KEY = "k3y0fas1gnedinsess10nthatmustn0tsh0w"  # 36 characters, like Django's


@pytest.fixture
def reviewer():
    return StaffFactory(is_superuser=True, email="reviewer@program.example")


@pytest.fixture
def staff_client(client, reviewer):
    client.force_login(reviewer)
    return client


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def run_action(client, model, action: str, *objects):
    return client.post(
        changelist(model),
        {"action": action, "_selected_action": [str(obj.pk) for obj in objects]},
        follow=True,
    )


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def audit_rows(action: str | None = None):
    rows = AuditEvent.objects.order_by("pk")
    return rows.filter(action=action) if action else rows


# --- Organizations: status through actions -----------------------------------------------------------


def test_suspend_action_suspends_through_the_service_with_one_audit_row(staff_client, reviewer):
    organization = OrganizationFactory(legal_name="Contoso KK")
    before = AuditEvent.objects.count()

    response = run_action(staff_client, Organization, "suspend", organization)

    organization.refresh_from_db()
    assert organization.status == Organization.Status.SUSPENDED
    assert AuditEvent.objects.count() == before + 1
    event = audit_rows("organization.suspended").get()
    assert (event.actor_id, event.actor_label) == (reviewer.pk, "reviewer@program.example")
    assert event.organization_id == organization.pk
    assert event.target_id == str(organization.public_id)
    assert (event.before, event.after) == ({"status": "active"}, {"status": "suspended"})
    assert page_messages(response) == ["1 organization suspended."]


def test_reactivate_action_lifts_a_suspension_with_one_audit_row(staff_client, reviewer):
    organization = OrganizationFactory(status=Organization.Status.SUSPENDED)

    run_action(staff_client, Organization, "reactivate", organization)

    organization.refresh_from_db()
    assert organization.status == Organization.Status.ACTIVE
    event = audit_rows().get()
    assert event.action == "organization.reactivated"
    assert event.actor_id == reviewer.pk
    assert (event.before, event.after) == ({"status": "suspended"}, {"status": "active"})


def test_a_transition_to_the_same_status_is_refused_and_says_so(staff_client):
    suspended = OrganizationFactory(legal_name="Fabrikam KK", status=Organization.Status.SUSPENDED)
    active = OrganizationFactory(legal_name="Contoso KK")

    response = run_action(staff_client, Organization, "suspend", suspended, active)

    assert page_messages(response) == [
        "Fabrikam KK is already suspended: nothing was changed.",
        "1 organization suspended.",
    ]
    suspended.refresh_from_db()
    assert suspended.status == Organization.Status.SUSPENDED
    assert list(audit_rows().values_list("action", "organization_id")) == [
        ("organization.suspended", active.pk)
    ]

    response = run_action(
        staff_client, Organization, "reactivate", OrganizationFactory(legal_name="Adatum KK")
    )
    assert page_messages(response) == ["Adatum KK is already active: nothing was changed."]
    assert audit_rows().count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_suspending_at_once_make_one_change():
    assert connection.vendor == "postgresql", "race tests need real row locks: run them through bin/test"
    first, second = StaffFactory(is_superuser=True), StaffFactory(is_superuser=True)
    for _ in range(TRIALS):
        organization = OrganizationFactory()

        outcomes = race(
            lambda o=organization: organization_suspend(organization=o, by=first),
            lambda o=organization: organization_suspend(organization=o, by=second),
        )

        assert sorted(kind for kind, _detail in outcomes) == ["ok", "refused"], outcomes
        assert [detail for kind, detail in outcomes if kind == "refused"] == ["invalid_transition"]
        assert audit_rows("organization.suspended").filter(organization_id=organization.pk).count() == 1


# --- Organizations: legal details through the change form -------------------------------------------


def organization_form(organization, **changes) -> dict:
    data = {name: getattr(organization, name) for name in ORGANIZATION_DETAIL_FIELDS}
    data.update(changes)
    data["_save"] = "Save"
    return data


def test_the_change_form_edits_exactly_the_legal_details():
    form_class = admin.site._registry[Organization].get_form(_superuser_request(), OrganizationFactory())
    assert sorted(form_class.base_fields) == sorted(ORGANIZATION_DETAIL_FIELDS)


def _superuser_request():
    from django.test import RequestFactory

    request = RequestFactory().get("/review/")
    request.user = StaffFactory(is_superuser=True)
    return request


def test_legal_details_change_through_the_service_and_read_only_fields_do_not(staff_client, reviewer):
    tenant = DirectoryTenantFactory()
    other_tenant = DirectoryTenantFactory()
    organization = OrganizationFactory(
        legal_name="Contoso KK", kind=Organization.Kind.RESELLER, country="JP", directory_tenant=tenant
    )
    data = organization_form(
        organization,
        legal_name="Contoso Japan KK",
        support_email="help@contoso.example",
        # Fields that are read-only here: a forged POST must not change them.
        kind=Organization.Kind.PROVIDER,
        status=Organization.Status.SUSPENDED,
        country="US",
        directory_tenant=str(other_tenant.pk),
        public_id="00000000-0000-0000-0000-000000000000",
    )

    response = staff_client.post(change_url(organization), data)

    assert response.status_code == 302
    organization.refresh_from_db()
    assert (organization.legal_name, organization.support_email) == (
        "Contoso Japan KK",
        "help@contoso.example",
    )
    assert organization.kind == Organization.Kind.RESELLER
    assert organization.status == Organization.Status.ACTIVE
    assert organization.country == "JP"
    assert organization.directory_tenant_id == tenant.pk
    assert str(organization.public_id) != "00000000-0000-0000-0000-000000000000"
    event = audit_rows().get()
    assert event.action == "organization.details_updated"
    assert (event.actor_id, event.organization_id) == (reviewer.pk, organization.pk)
    assert event.before == {"legal_name": "Contoso KK", "support_email": ""}
    assert event.after == {"legal_name": "Contoso Japan KK", "support_email": "help@contoso.example"}


def test_saving_an_unchanged_organization_writes_no_audit_row(staff_client):
    organization = OrganizationFactory()
    response = staff_client.post(change_url(organization), organization_form(organization))
    assert response.status_code == 302
    assert audit_rows().count() == 0


@pytest.mark.parametrize("name", ["Contoso\nBcc: attacker@example.com", "Contoso\rKK", "Contoso\u202eKK"])
def test_a_legal_name_with_control_characters_is_refused_at_the_field(staff_client, name):
    organization = OrganizationFactory(legal_name="Contoso KK")

    response = staff_client.post(change_url(organization), organization_form(organization, legal_name=name))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["legal_name"]
    assert errors["legal_name"] == [
        "Use one line of ordinary text: line breaks and control characters are not allowed."
    ]
    organization.refresh_from_db()
    assert organization.legal_name == "Contoso KK"
    assert audit_rows().count() == 0


def test_the_service_refuses_fields_it_does_not_own_and_invalid_values(reviewer):
    organization = OrganizationFactory(legal_name="Contoso KK")
    with pytest.raises(DomainError) as refused:
        organization_details_update(organization=organization, changes={"kind": "provider"}, by=reviewer)
    assert (refused.value.code, refused.value.field) == ("field_not_editable", "kind")
    with pytest.raises(DomainError) as refused:
        organization_details_update(organization=organization, changes={"legal_name": "A\nB"}, by=reviewer)
    assert (refused.value.code, refused.value.field) == ("invalid", "legal_name")
    with pytest.raises(DomainError) as refused:
        organization_details_update(organization=organization, changes={"support_email": "nope"}, by=reviewer)
    assert refused.value.field == "support_email"
    organization.refresh_from_db()
    assert (organization.kind, organization.legal_name, organization.support_email) == (
        "reseller",
        "Contoso KK",
        "",
    )
    assert audit_rows().count() == 0


def test_organizations_cannot_be_added_or_deleted_here(staff_client):
    organization = OrganizationFactory()
    assert staff_client.get(reverse("admin:accounts_organization_add")).status_code == 403
    response = staff_client.post(
        reverse("admin:accounts_organization_delete", args=[organization.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    response = run_action(staff_client, Organization, "delete_selected", organization)
    assert Organization.objects.filter(pk=organization.pk).exists()
    assert audit_rows().count() == 0


# --- People: access through actions -------------------------------------------------------------------


def signed_in_client(user) -> Client:
    """A browser of this person, with a session allauth tracks (the middleware records it on a request)."""
    browser = Client()
    browser.force_login(user)
    assert browser.get(reverse("profile")).status_code == 200
    return browser


def test_deactivate_account_switches_it_off_ends_its_sessions_and_audits(staff_client, reviewer):
    person = UserFactory(email="ann@example.com")
    browser = signed_in_client(person)
    session_key = browser.session.session_key
    assert UserSession.objects.filter(user=person, session_key=session_key).exists()

    response = run_action(staff_client, User, "deactivate_account", person)

    person.refresh_from_db()
    assert person.is_active is False
    assert not UserSession.objects.filter(user=person).exists()
    assert not Session.objects.filter(session_key=session_key).exists()
    assert browser.get(reverse("profile")).status_code == 302  # signed out: sent to sign in
    event = audit_rows().get()
    assert event.action == "user.deactivated"
    assert (event.actor_id, event.target_id, event.organization_id) == (reviewer.pk, str(person.pk), None)
    assert (event.before, event.after) == ({"is_active": True}, {"is_active": False, "sessions_ended": 1})
    assert page_messages(response) == ["1 account deactivated; its sessions have ended."]


def test_reactivate_account_switches_it_back_on_and_audits(staff_client, reviewer):
    person = UserFactory(is_active=False)

    run_action(staff_client, User, "reactivate_account", person)

    person.refresh_from_db()
    assert person.is_active is True
    event = audit_rows().get()
    assert (event.action, event.actor_id) == ("user.reactivated", reviewer.pk)
    assert (event.before, event.after) == ({"is_active": False}, {"is_active": True})
    assert Client().login(username=person.email, password=PASSWORD)


def test_account_actions_refuse_no_ops_and_the_reviewer_themself(staff_client, reviewer):
    inactive = UserFactory(email="gone@example.com", is_active=False)
    response = run_action(staff_client, User, "deactivate_account", inactive, reviewer)
    assert page_messages(response) == [
        "gone@example.com is already deactivated: nothing was changed.",
        "You cannot deactivate your own account. Ask another member of program staff.",
    ]
    reviewer.refresh_from_db()
    assert reviewer.is_active is True
    response = run_action(staff_client, User, "reactivate_account", UserFactory(email="here@example.com"))
    assert page_messages(response) == ["here@example.com is already active: nothing was changed."]
    assert audit_rows().count() == 0


def test_grant_and_revoke_program_staff_are_audited(staff_client, reviewer):
    person = UserFactory(email="new-reviewer@example.com")

    response = run_action(staff_client, User, "grant_program_staff", person)

    person.refresh_from_db()
    assert (person.is_staff, person.is_superuser) == (True, True)
    assert page_messages(response) == ["1 person is now program staff."]
    granted = audit_rows().get()
    assert (granted.action, granted.actor_id, granted.target_id) == (
        "user.staff_granted",
        reviewer.pk,
        str(person.pk),
    )
    assert granted.before == {"is_staff": False, "is_superuser": False}
    assert granted.after == {"is_staff": True, "is_superuser": True}

    run_action(staff_client, User, "revoke_program_staff", person)

    person.refresh_from_db()
    assert (person.is_staff, person.is_superuser) == (False, False)
    revoked = audit_rows("user.staff_revoked").get()
    assert revoked.actor_id == reviewer.pk
    assert revoked.before == {"is_staff": True, "is_superuser": True}
    assert revoked.after == {"is_staff": False, "is_superuser": False}
    assert audit_rows().count() == 2


def test_staff_actions_refuse_no_ops_inactive_accounts_and_the_reviewer_themself(staff_client, reviewer):
    response = run_action(
        staff_client, User, "revoke_program_staff", reviewer, UserFactory(email="ann@example.com")
    )
    assert page_messages(response) == [  # in the list's order, by email address
        "ann@example.com is not program staff: nothing was changed.",
        "You cannot revoke your own program staff access. Ask another superuser.",
    ]
    response = run_action(
        staff_client, User, "grant_program_staff", UserFactory(email="off@example.com", is_active=False)
    )
    assert page_messages(response) == ["off@example.com is deactivated: reactivate the account first."]
    reviewer.refresh_from_db()
    assert (reviewer.is_staff, reviewer.is_superuser) == (True, True)
    assert audit_rows().count() == 0


def test_only_superusers_grant_or_revoke_program_staff(client):
    # Program staff who are not superusers (with the permission to see users, which nobody is given
    # here today) get the account actions but not the staff ones, and the service refuses them too.
    staff = StaffFactory(is_superuser=False)
    staff.user_permissions.add(Permission.objects.get(codename="view_user"))
    person = UserFactory()
    client.force_login(staff)

    page = client.get(changelist(User))
    offered = [choice[0] for choice in page.context["action_form"].fields["action"].choices]
    assert offered == ["", "deactivate_account", "reactivate_account"]
    response = run_action(client, User, "grant_program_staff", person)
    assert page_messages(response) == ["No action selected."]
    with pytest.raises(DomainError):
        user_staff_grant(user=person, by=staff)
    person.refresh_from_db()
    assert (person.is_staff, person.is_superuser) == (False, False)
    # Nor may they switch off a superuser's account.
    response = run_action(
        client, User, "deactivate_account", StaffFactory(is_superuser=True, email="boss@p.example")
    )
    assert page_messages(response) == [
        "Only a superuser of the review site may deactivate or reactivate program staff."
    ]
    assert audit_rows().count() == 0


# --- People: nothing else changes here ---------------------------------------------------------------


def test_the_user_change_form_changes_nothing(staff_client):
    person = UserFactory(email="ann@example.com", full_name="Ann Lee", preferred_language="en")
    password_hash = person.password
    response = staff_client.post(
        change_url(person),
        {
            "email": "mallory@example.com",
            "full_name": "Mallory",
            "preferred_language": "ja",
            "is_active": "",
            "is_staff": "on",
            "is_superuser": "on",
            "groups": [],
            "password": "x",
            "_save": "Save",
        },
    )
    assert response.status_code == 403
    person.refresh_from_db()
    assert (person.email, person.full_name, person.preferred_language) == ("ann@example.com", "Ann Lee", "en")
    assert (person.is_active, person.is_staff, person.is_superuser) == (True, False, False)
    assert person.password == password_hash
    assert audit_rows().count() == 0


def test_the_user_page_is_read_only_and_offers_no_password_groups_or_permissions(staff_client):
    person = UserFactory()
    body = staff_client.get(change_url(person)).content.decode()
    assert 'name="_save"' not in body
    password_url = f"/review/accounts/user/{person.pk}/password/"
    for absent in ('name="email"', 'name="is_staff"', "groups", "user_permissions", password_url):
        assert absent not in body, absent


def test_people_are_never_added_and_passwords_never_set_here(staff_client):
    person = UserFactory()
    password_hash = person.password
    assert staff_client.get(reverse("admin:accounts_user_add")).status_code == 403
    with pytest.raises(NoReverseMatch):
        reverse("admin:accounts_user_password_change", args=[person.pk])
    url = f"/review/accounts/user/{person.pk}/password/"
    response = staff_client.post(
        url, {"password1": "Another-passphrase-99", "password2": "Another-passphrase-99"}
    )
    assert response.status_code in (302, 404)
    response = staff_client.get(url, follow=True)
    assert 'name="password1"' not in response.content.decode()
    person.refresh_from_db()
    assert person.password == password_hash
    response = staff_client.post(reverse("admin:accounts_user_delete", args=[person.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert User.objects.filter(pk=person.pk).exists()


def test_the_reviewers_own_password_changes_through_allauth(staff_client):
    response = staff_client.get(reverse("admin:password_change"))
    assert response.status_code == 302
    assert response["Location"] == reverse("account_change_password")


def test_groups_are_not_on_the_review_site():
    assert Group not in admin.site._registry


# --- allauth's records ---------------------------------------------------------------------------------


def test_email_addresses_are_read_only_and_never_marked_verified_by_staff(staff_client):
    person = UserFactory(verified=False)
    address = EmailAddress.objects.create(user=person, email=person.email, verified=False, primary=True)

    response = staff_client.post(
        change_url(address), {"email": address.email, "user": person.pk, "verified": "on", "primary": "on"}
    )
    assert response.status_code == 403
    response = run_action(staff_client, EmailAddress, "make_verified", address)
    assert page_messages(response) == []  # no actions at all here: the POST is not even read as one
    assert "make_verified" not in response.content.decode()
    address.refresh_from_db()
    assert address.verified is False
    assert staff_client.get(reverse("admin:account_emailaddress_add")).status_code == 403


def test_authenticators_and_sessions_are_read_only(staff_client, reviewer):
    authenticator = Authenticator.objects.get(user=reviewer, type=Authenticator.Type.TOTP)
    session = UserSession.objects.create(
        user=reviewer, ip="192.0.2.1", user_agent="Test", session_key=SESSION_KEY
    )
    for obj in (authenticator, session):
        opts = obj._meta
        response = staff_client.post(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk]), {"post": "yes"}
        )
        assert response.status_code == 403
        assert type(obj).objects.filter(pk=obj.pk).exists()
        assert staff_client.post(change_url(obj), {"ip": "203.0.113.9"}).status_code == 403
    session.refresh_from_db()
    assert session.ip == "192.0.2.1"


# --- Every admin: read-only, or its save path and actions are on a tested list ---------------------------

# Models whose change form saves (through a service, tested above).
SAVED_THROUGH_A_SERVICE = {Organization}
# Models that staff add and remove (never edit) through audited services (tests/enrollment/).
ADDED_AND_REMOVED_THROUGH_A_SERVICE = {BlockedEmailDomain, ScreeningEntry}
# The catalogue, kept by staff: offers are added and changed (never deleted: orders point at them), each
# save validated by the models and audited with before/after (tests/commerce/test_admin.py).
KEPT_BY_STAFF_AND_AUDITED = {Offer}
# Every admin action on the review site, each calling an audited service (tested above; the outbox's
# in tests/platform/test_outbox.py).
ACTIONS = {
    Organization: {"suspend", "reactivate"},
    User: {
        "deactivate_account",
        "reactivate_account",
        "grant_program_staff",
        "revoke_program_staff",
        "add_to_enrollment_reviewers",  # tests/enrollment/test_reviewer_group.py
        "remove_from_enrollment_reviewers",
    },
    OutboxEmail: {"send_again"},
    Subscription: {"suspend", "reactivate"},  # tests/commerce/test_admin.py
    BlockedEmailDomain: {"delete_selected"},
    ScreeningEntry: {"delete_selected"},
}


def test_every_admin_is_read_only_or_saves_through_a_tested_service():
    request = _superuser_request()
    for model, model_admin in admin.site._registry.items():
        can_add = model_admin.has_add_permission(request)
        can_change = model_admin.has_change_permission(request)
        can_delete = model_admin.has_delete_permission(request)
        if model in SAVED_THROUGH_A_SERVICE:
            assert (can_add, can_change, can_delete) == (False, True, False), model
            assert "save_model" in type(model_admin).__dict__, model
        elif model in KEPT_BY_STAFF_AND_AUDITED:
            assert (can_add, can_change, can_delete) == (True, True, False), model
            assert {"save_model", "save_related"} <= set(type(model_admin).__dict__), model
        elif model in ADDED_AND_REMOVED_THROUGH_A_SERVICE:
            assert (can_add, can_change, can_delete) == (True, False, True), model
            assert {"save_model", "delete_model", "delete_queryset"} <= set(type(model_admin).__dict__), model
        else:
            assert (can_add, can_change, can_delete) == (False, False, False), model
        assert set(model_admin.get_actions(request)) == ACTIONS.get(model, set()), model


def test_every_review_action_has_a_label():
    for action, label in REVIEW_ACTION_LABELS.items():
        assert action_label(action) == str(label), action


# --- No secret on any page ------------------------------------------------------------------------------


@pytest.fixture
def every_kind_of_row(reviewer):
    """At least one row of every model the review site shows, and the secrets some of them hold."""
    RecoveryCodes.activate(reviewer)
    seed = Authenticator.objects.get(user=reviewer, type=Authenticator.Type.RECOVERY_CODES).data["seed"]
    recovery_codes = Authenticator.objects.get(user=reviewer, type="recovery_codes").wrap().get_unused_codes()
    admin_member = MembershipFactory(
        organization=OrganizationFactory(legal_name="Contoso KK"), roles=[Role.GLOBAL_ADMIN]
    )
    _invitation, raw_token = services.membership_invitation_create(
        organization=admin_member.organization,
        email="ann@example.com",
        roles=[Role.SALES_AGENT],
        by=admin_member,
    )
    MembershipInvitationFactory(organization=admin_member.organization)
    UserSession.objects.create(
        user=reviewer, ip="192.0.2.1", user_agent="Test browser", session_key=SESSION_KEY
    )
    OutboxEmailFactory(template="membership_invitation")
    profile = PartnerProfileFactory()
    directory_user = DirectoryUserFactory()
    blocked_email_domain_add(domain="burner.example", kind="disposable", note="", by=reviewer)
    screening_entry_add(kind="legal_name", value="Fabrikam", note="", by=reviewer)
    application_in_review()
    waiting = submitted_application()
    _confirmation, confirmation_token = link_invitation_issue(
        ContactConfirmation,
        scope={"application": waiting},
        email=waiting.contact_email,
        invited_by=None,
        rate_limit_key=None,
        lifetime=timedelta(days=1),
    )
    # Providers: a listing, a partnership, a request, an invitation (its token is a secret) and a bulk run.
    partnership = PartnershipFactory()
    PartnershipRequestFactory(provider=partnership.provider)
    _partnership_invitation, partnership_token = partnership_invitation_issued(
        partnership.provider, "owner@reseller.example"
    )
    run = BulkInvitationRunFactory(organization=partnership.provider)
    BulkInvitationRow.objects.create(run=run, line=2, email="someone@reseller.example")
    # Commerce: an offer, a subscription with a licence, and an order (its idempotency key never shows).
    licence = LicenceAssignmentFactory()
    subscription = licence.subscription
    order = Order.objects.create(
        idempotency_key=uuid.uuid4(),
        customer=subscription.customer,
        reseller=subscription.reseller,
        provider=subscription.provider,
        kind="seats",
        offer=subscription.offer,
        subscription=subscription,
        seats=subscription.seats + 1,
        currency=subscription.currency,
        unit_price=subscription.unit_price,
        status="submitted",
    )
    assert Authenticator.objects.get(user=reviewer, type="totp").data["secret"] == TOTP_SECRET
    return [
        str(order.idempotency_key),
        partnership_token,
        TOTP_SECRET,
        seed,
        *recovery_codes,
        SESSION_KEY,
        raw_token,
        confirmation_token,
        BUILDER_DIRECTORY_PASSWORD,
        MEMBERSHIP_PASSWORD,
        profile.account.password,
        DIRECTORY_PASSWORD,
        directory_user.password,
    ]


def test_no_review_site_page_shows_a_secret(staff_client, every_kind_of_row):
    own_session_key = staff_client.session.session_key
    secrets = [*every_kind_of_row, own_session_key]
    pages = [reverse("admin:index")]
    for model in admin.site._registry:
        pages.append(changelist(model))
        pages += [change_url(obj) for obj in model.objects.all()[:20]]
    for url in pages:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        for secret in secrets:
            assert secret not in body, (url, secret)
    assert [model for model in admin.site._registry if not model.objects.exists()] == []


def test_every_list_can_be_searched(staff_client, every_kind_of_row):
    # allauth's session admin searched a field our user model does not have (a 500 on every search).
    for model in admin.site._registry:
        response = staff_client.get(changelist(model), {"q": "example"})
        assert response.status_code == 200, model


# --- Both languages ------------------------------------------------------------------------------------


def test_the_review_site_has_the_portals_language_switch(staff_client):
    index = reverse("admin:index")
    page = staff_client.get(index).content.decode()
    assert f'action="{reverse("language_set")}"' in page
    assert '<input type="hidden" name="next" value="/review/">' in page
    assert 'name="language" value="ja" lang="ja"' in page

    response = staff_client.post(reverse("language_set"), {"language": "ja", "next": index}, follow=True)

    assert response.redirect_chain == [(index, 302)]
    body = response.content.decode()
    assert '<html lang="ja"' in body
    assert "<h1>サイト管理</h1>" in body
    assert 'name="language" value="en" lang="en"' in body


JAPANESE_REVIEW_TERMS = {
    # What the index and the people's pages show in Japanese: our catalogue's words, never English.
    "Authenticators": "認証要素",
    "Signed-in sessions": "サインイン中のセッション",
    "Email addresses": "メール アドレス",
}


def test_the_review_site_speaks_japanese_with_the_glossarys_words(staff_client, reviewer):
    staff_client.cookies["portal_language"] = "ja"
    UserSession.objects.create(user=reviewer, ip="192.0.2.1", user_agent="Test", session_key=SESSION_KEY)
    index = staff_client.get(reverse("admin:index")).content.decode()
    for english, japanese in JAPANESE_REVIEW_TERMS.items():
        assert english not in index
        assert japanese in index
    pages = [
        index,
        staff_client.get(change_url(reviewer)).content.decode(),
        staff_client.get(changelist(Authenticator)).content.decode(),
        staff_client.get(changelist(UserSession)).content.decode(),
    ]
    for page in pages:
        assert "ログイン" not in page and "ログアウト" not in page  # サインイン / サインアウト
        assert "サインアウト" in page
    assert "最終サインイン" in pages[1]
    assert "認証要素" in pages[2] and "最終使用日時" in pages[2]
    assert "ブラウザー" in pages[3]
