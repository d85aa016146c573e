"""Membership invitations: 256-bit, hashed at rest, single-use, expiring, bound to the invited email,
revocable; GET shows, POST acts; links come from SITE_URL."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import Membership, MembershipInvitation, MembershipRole
from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from portal.tokens import token_hash
from tests.factories.accounts import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.mail import email_text

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-unusual-passphrase-42"


@pytest.fixture
def admin():
    return MembershipFactory(
        organization=OrganizationFactory(legal_name="Fabrikam KK"), roles=[Role.GLOBAL_ADMIN]
    )


def invite(admin, email="ann@example.com", roles=(Role.SALES_AGENT,)):
    return services.membership_invitation_create(
        organization=admin.organization, email=email, roles=list(roles), by=admin
    )


def open_link(client, raw_token):
    return client.get(reverse("accounts:invitation_landing", kwargs={"token": raw_token}))


def test_invitation_email_carries_a_site_link_and_only_the_hash_is_stored(admin, settings):
    settings.SITE_URL = "https://partners.example.org"
    invitation, raw = invite(admin, email="Ann@Example.com")
    assert len(raw) >= 43  # 32 random bytes, URL-safe base64
    assert invitation.email == "ann@example.com"
    assert invitation.token_hash == token_hash(raw)
    assert not MembershipInvitation.objects.filter(token_hash=raw).exists()
    email = OutboxEmail.objects.get(to="ann@example.com")
    assert f"https://partners.example.org/invitations/membership/{raw}/" in email_text(email)
    assert "Fabrikam KK" in email.subject
    assert email.organization_id == admin.organization_id
    assert AuditEvent.objects.filter(
        action="membership_invitation.sent", target_id=str(invitation.public_id)
    ).exists()
    assert raw not in str(list(AuditEvent.objects.values_list("after", flat=True)))


def test_invitation_email_is_in_the_invitees_language(admin):
    UserFactory(email="kenji@example.com", preferred_language="ja")
    invite(admin, email="kenji@example.com")
    email = OutboxEmail.objects.get(to="kenji@example.com")
    assert email.language == "ja"
    assert "招待" in email.subject


def test_the_link_moves_the_token_out_of_the_url_and_get_changes_nothing(client, admin):
    invitation, raw = invite(admin)
    response = open_link(client, raw)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:invitation")
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]

    page = client.get(reverse("accounts:invitation"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Fabrikam KK" in body
    assert "ann@example.com" in body
    assert "Sales agent" in body
    assert raw not in body
    assert "_auth_user_id" not in client.session  # the link never signs anyone in
    invitation.refresh_from_db()
    assert invitation.status == MembershipInvitation.Status.PENDING


def test_accept_as_the_invited_person(client, admin):
    invitation, raw = invite(admin)
    ann = UserFactory(email="ann@example.com")
    client.force_login(ann)
    open_link(client, raw)
    response = client.post(reverse("accounts:invitation_accept"))
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "accounts:organization_dashboard", kwargs={"organization_public_id": admin.organization.public_id}
    )
    membership = Membership.objects.get(user=ann, organization=admin.organization)
    assert membership.role_names == [Role.SALES_AGENT]
    invitation.refresh_from_db()
    assert invitation.status == MembershipInvitation.Status.ACCEPTED
    assert invitation.decided_by == ann
    assert AuditEvent.objects.filter(action="membership_invitation.accepted").count() == 1
    assert (
        AuditEvent.objects.filter(action="membership.created", organization_id=admin.organization_id).count()
        == 1
    )


def test_a_used_link_cannot_be_used_again(client, admin):
    _invitation, raw = invite(admin)
    ann = UserFactory(email="ann@example.com")
    assert services.membership_invitation_accept(
        invitation=services.membership_invitation_lookup(raw), user=ann
    )
    with pytest.raises(services.InvitationUnusable) as error:
        services.membership_invitation_accept(invitation=services.membership_invitation_lookup(raw), user=ann)
    assert error.value.code == "invitation_closed"
    assert Membership.objects.filter(user=ann).count() == 1


def test_an_expired_link_is_refused(admin):
    _invitation, raw = invite(admin)
    ann = UserFactory(email="ann@example.com")
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        with pytest.raises(services.InvitationUnusable) as error:
            services.membership_invitation_accept(
                invitation=services.membership_invitation_lookup(raw), user=ann
            )
    assert error.value.code == "invitation_expired"
    assert not Membership.objects.filter(user=ann).exists()


def test_the_link_is_bound_to_the_invited_email(client, admin):
    invitation, raw = invite(admin)
    mallory = UserFactory(email="mallory@example.com")
    client.force_login(mallory)
    open_link(client, raw)
    page = client.get(reverse("accounts:invitation"))
    assert page.status_code == 410
    assert "This invitation is for ann@example.com" in page.content.decode()
    assert "Accept invitation" not in page.content.decode()
    response = client.post(reverse("accounts:invitation_accept"))
    assert response.status_code == 302
    assert not Membership.objects.filter(user=mallory).exists()
    invitation.refresh_from_db()
    assert invitation.status == MembershipInvitation.Status.PENDING


def test_an_unverified_address_is_not_enough(admin):
    _invitation, raw = invite(admin)
    ann = UserFactory(email="ann@example.com", verified=False)
    with pytest.raises(services.InvitationUnusable) as error:
        services.membership_invitation_accept(invitation=services.membership_invitation_lookup(raw), user=ann)
    assert error.value.code == "invitation_wrong_email"


def test_a_revoked_link_is_refused(admin):
    invitation, raw = invite(admin)
    services.membership_invitation_revoke(invitation=invitation, by=admin)
    with pytest.raises(services.InvitationUnusable):
        services.membership_invitation_accept(
            invitation=services.membership_invitation_lookup(raw), user=UserFactory(email="ann@example.com")
        )
    invitation.refresh_from_db()
    assert invitation.status == MembershipInvitation.Status.REVOKED


def test_resending_replaces_the_old_link(admin):
    first, first_raw = invite(admin)
    second, second_raw = invite(admin)
    first.refresh_from_db()
    assert first.status == MembershipInvitation.Status.REVOKED
    assert second.status == MembershipInvitation.Status.PENDING
    ann = UserFactory(email="ann@example.com")
    with pytest.raises(services.InvitationUnusable):
        services.membership_invitation_accept(
            invitation=services.membership_invitation_lookup(first_raw), user=ann
        )
    assert services.membership_invitation_accept(
        invitation=services.membership_invitation_lookup(second_raw), user=ann
    )


def test_an_unknown_token_shows_a_clear_page(client):
    open_link(client, "x" * 43)
    page = client.get(reverse("accounts:invitation"))
    assert page.status_code == 404
    assert "This invitation link is not valid." in page.content.decode()


def test_decline(admin):
    invitation, raw = invite(admin)
    ann = UserFactory(email="ann@example.com")
    services.membership_invitation_decline(invitation=services.membership_invitation_lookup(raw), user=ann)
    invitation.refresh_from_db()
    assert invitation.status == MembershipInvitation.Status.DECLINED
    assert not Membership.objects.filter(user=ann).exists()


def test_inviting_a_current_member_is_refused_at_the_field(client, admin):
    member = MembershipFactory(organization=admin.organization, roles=[Role.SALES_AGENT])
    client.force_login(admin.user)
    url = reverse("accounts:user_invite", kwargs={"organization_public_id": admin.organization.public_id})
    response = client.post(url, {"email": member.user.email.upper(), "roles": [Role.HELPDESK_AGENT]})
    assert response.status_code == 400
    assert response.context["form"].errors["email"] == [
        "This person is already a member of the organization."
    ]
    assert not MembershipInvitation.objects.exists()
    assert not OutboxEmail.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-email", "roles": [Role.SALES_AGENT]}, "email"),
        ({"email": "a@example.com\r\nBcc: x@evil.test", "roles": [Role.SALES_AGENT]}, "email"),
        ({"email": "a@example.com", "roles": []}, "roles"),
        ({"email": "a@example.com", "roles": ["superuser"]}, "roles"),
    ],
)
def test_bad_invitation_input_is_refused_at_the_field(client, admin, data, field):
    client.force_login(admin.user)
    url = reverse("accounts:user_invite", kwargs={"organization_public_id": admin.organization.public_id})
    response = client.post(url, data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not MembershipInvitation.objects.exists()
    assert not OutboxEmail.objects.exists()


def test_a_new_person_signs_up_with_the_invited_email_then_accepts(client, admin):
    _invitation, raw = invite(admin, email="newcomer@example.com")
    open_link(client, raw)
    page = client.get(reverse("accounts:invitation"))
    assert "Sign up" in page.content.decode()

    client.post(
        reverse("account_signup") + "?next=" + reverse("accounts:invitation"),
        {"email": "newcomer@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    verification = OutboxEmail.objects.filter(to="newcomer@example.com").exclude(
        template="membership_invitation"
    )
    code = re.search(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}\b", email_text(verification.get())).group(0)
    response = client.post(reverse("account_email_verification_sent"), {"code": code})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:invitation")

    client.post(reverse("accounts:invitation_accept"))
    membership = Membership.objects.get(user__email="newcomer@example.com")
    assert membership.organization == admin.organization


def test_no_raw_token_is_stored_anywhere(client, admin):
    from django.contrib.sessions.models import Session
    from django.db import connection

    _invitation, raw = invite(admin)
    open_link(client, raw)
    client.get(reverse("accounts:invitation"))
    stored = [row.get_decoded() for row in Session.objects.all()]
    assert stored and raw not in repr(stored)
    with connection.cursor() as cursor:
        for table in ("accounts_membershipinvitation", "audit_auditevent", "django_session"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            assert raw not in repr(cursor.fetchall()), table


def test_the_periodic_job_marks_past_invitations_expired_once(admin):
    invitation, _raw = invite(admin)
    fresh, _ = invite(admin, email="bob@example.com")
    from accounts.tasks import membership_invitations_expire

    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        fresh.expires_at = timezone.now() + timedelta(days=1)
        fresh.save(update_fields=["expires_at"])
        assert membership_invitations_expire() == 1
        assert membership_invitations_expire() == 0  # running again changes nothing
    invitation.refresh_from_db()
    fresh.refresh_from_db()
    assert invitation.status == MembershipInvitation.Status.EXPIRED
    assert fresh.status == MembershipInvitation.Status.PENDING
    events = AuditEvent.objects.filter(action="membership_invitation.expired")
    assert [(e.target_id, e.actor_label) for e in events] == [(str(invitation.public_id), "system")]


def test_invitations_per_organization_are_rate_limited(client, admin, settings):
    settings.INVITATIONS_PER_HOUR = 2
    client.force_login(admin.user)
    url = reverse("accounts:user_invite", kwargs={"organization_public_id": admin.organization.public_id})
    statuses = [
        client.post(url, {"email": f"p{n}@example.com", "roles": [Role.SALES_AGENT]}).status_code
        for n in range(3)
    ]
    assert statuses == [302, 302, 400]
    response = client.post(url, {"email": "p9@example.com", "roles": [Role.SALES_AGENT]})
    assert response.context["form"].non_field_errors() == [
        "Too many invitations were sent in the last hour. Try again later."
    ]
    assert MembershipInvitation.objects.count() == 2
    assert OutboxEmail.objects.filter(template="membership_invitation").count() == 2


# --- An invitation never bypasses the membership rules --------------------------------------------


def state_of(organization):
    return (
        list(
            Membership.objects.filter(organization=organization)
            .order_by("pk")
            .values_list("pk", "user__email", "status")
        ),
        sorted(
            MembershipRole.objects.filter(membership__organization=organization).values_list(
                "membership_id", "role"
            )
        ),
        AuditEvent.objects.count(),
    )


def test_inviting_a_deactivated_member_is_refused_reactivate_instead(client, admin):
    """The defect: a User management admin invites a deactivated Global admin as Helpdesk agent, and
    acceptance revived the membership with Global admin and the new role."""
    user_admin = MembershipFactory(organization=admin.organization, roles=[Role.USER_MANAGEMENT_ADMIN])
    gone = MembershipFactory(
        organization=admin.organization, roles=[Role.GLOBAL_ADMIN], status=Membership.Status.DEACTIVATED
    )
    before = state_of(admin.organization)
    client.force_login(user_admin.user)
    url = reverse("accounts:user_invite", kwargs={"organization_public_id": admin.organization.public_id})
    response = client.post(url, {"email": gone.user.email, "roles": [Role.HELPDESK_AGENT]})
    assert response.status_code == 400
    assert response.context["form"].errors["email"] == [
        "This person's membership is deactivated. Reactivate it from their page in User management "
        "instead of inviting them again."
    ]
    assert state_of(admin.organization) == before
    assert not MembershipInvitation.objects.exists()
    assert not OutboxEmail.objects.exists()


def test_an_invitation_sent_before_deactivation_cannot_revive_the_membership(admin):
    invitation, raw = invite(admin, email="ann@example.com", roles=(Role.HELPDESK_AGENT,))
    ann = UserFactory(email="ann@example.com")
    # Ann joined by another invitation meanwhile, then was deactivated with Global admin.
    membership = MembershipFactory(
        organization=admin.organization,
        user=ann,
        roles=[Role.GLOBAL_ADMIN],
        status=Membership.Status.DEACTIVATED,
    )
    before = state_of(admin.organization)
    with pytest.raises(services.InvitationUnusable) as error:
        services.membership_invitation_accept(invitation=services.membership_invitation_lookup(raw), user=ann)
    assert error.value.code == "member_deactivated"
    membership.refresh_from_db()
    assert membership.status == Membership.Status.DEACTIVATED
    assert state_of(admin.organization) == before
    invitation.refresh_from_db()
    assert invitation.status == MembershipInvitation.Status.PENDING


def test_accepting_grants_exactly_the_invited_roles_and_the_audit_row_names_both(admin):
    invitation, raw = invite(admin, roles=(Role.HELPDESK_AGENT, Role.BILLING_ADMIN))
    ann = UserFactory(email="ann@example.com")
    membership = services.membership_invitation_accept(
        invitation=services.membership_invitation_lookup(raw), user=ann
    )
    assert membership.role_names == [Role.BILLING_ADMIN, Role.HELPDESK_AGENT]
    assert sorted(MembershipRole.objects.filter(membership=membership).values_list("role", flat=True)) == [
        Role.BILLING_ADMIN,
        Role.HELPDESK_AGENT,
    ]
    created = AuditEvent.objects.get(action="membership.created", target_id=str(membership.public_id))
    assert created.actor == ann
    assert created.after == {
        "user": "ann@example.com",
        "status": "active",
        "roles": [Role.BILLING_ADMIN, Role.HELPDESK_AGENT],
        "invited_by": admin.user.email,
        "invitation": str(invitation.public_id),
    }
    accepted = AuditEvent.objects.get(action="membership_invitation.accepted")
    assert accepted.after == {"status": "accepted", "invited_by": admin.user.email}


@pytest.mark.parametrize(
    "change",
    ["inviter_demoted", "inviter_deactivated", "inviter_removed", "global_admin_right_lost"],
)
def test_the_inviters_rights_are_checked_again_at_acceptance(admin, change):
    organization = admin.organization
    MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN])  # another admin stays
    inviter = MembershipFactory(organization=organization, roles=[Role.GLOBAL_ADMIN])
    roles = (Role.GLOBAL_ADMIN,) if change == "global_admin_right_lost" else (Role.SALES_AGENT,)
    invitation, raw = invite(inviter, roles=roles)
    if change == "inviter_demoted":
        services.membership_roles_change(membership=inviter, roles=[Role.SALES_AGENT], by=admin)
    elif change == "inviter_deactivated":
        services.membership_deactivate(membership=inviter, by=admin)
    elif change == "inviter_removed":
        services.membership_remove(membership=inviter, by=admin)
    else:  # still manages users, but may no longer make Global admins
        services.membership_roles_change(membership=inviter, roles=[Role.USER_MANAGEMENT_ADMIN], by=admin)
    ann = UserFactory(email="ann@example.com")
    before = state_of(organization)
    with pytest.raises(services.InvitationUnusable) as error:
        services.membership_invitation_accept(invitation=services.membership_invitation_lookup(raw), user=ann)
    assert error.value.code == "inviter_lost_rights"
    assert state_of(organization) == before
    assert not Membership.objects.filter(user=ann).exists()
    invitation.refresh_from_db()
    assert invitation.status == MembershipInvitation.Status.PENDING


def test_the_invitation_page_says_why_it_cannot_be_accepted(client, admin):
    inviter = MembershipFactory(organization=admin.organization, roles=[Role.GLOBAL_ADMIN])
    _invitation, raw = invite(inviter)
    services.membership_deactivate(membership=inviter, by=admin)
    client.force_login(UserFactory(email="ann@example.com"))
    open_link(client, raw)
    page = client.get(reverse("accounts:invitation"))
    assert page.status_code == 410
    body = page.content.decode()
    assert "the person who sent it may no longer grant these roles" in body
    assert "Accept invitation" not in body


def test_the_invitee_may_still_decline_an_invitation_whose_sender_lost_the_right(admin):
    inviter = MembershipFactory(organization=admin.organization, roles=[Role.GLOBAL_ADMIN])
    invitation, raw = invite(inviter)
    services.membership_deactivate(membership=inviter, by=admin)
    ann = UserFactory(email="ann@example.com")
    services.membership_invitation_decline(invitation=services.membership_invitation_lookup(raw), user=ann)
    invitation.refresh_from_db()
    assert invitation.status == MembershipInvitation.Status.DECLINED


# --- The binding to the invited address: verified, and the whole address -------------------------


def test_an_unverified_address_row_is_not_enough(admin):
    from allauth.account.models import EmailAddress

    _invitation, raw = invite(admin)
    ann = UserFactory(email="ann@example.com", verified=False)
    EmailAddress.objects.create(user=ann, email="ann@example.com", verified=False, primary=True)
    with pytest.raises(services.InvitationUnusable) as error:
        services.membership_invitation_accept(invitation=services.membership_invitation_lookup(raw), user=ann)
    assert error.value.code == "invitation_wrong_email"
    assert not Membership.objects.filter(user=ann).exists()


@pytest.mark.parametrize(
    "address",
    [
        "nann@example.com",  # ends with the invited address
        "ann@example.com.evil.test",  # starts with it
        "ann@example.co",  # is contained in it
        "ann+x@example.com",
        "ann@sub.example.com",
    ],
)
def test_only_the_whole_invited_address_matches(admin, address):
    _invitation, raw = invite(admin, email="ann@example.com")
    someone = UserFactory(email=address)
    with pytest.raises(services.InvitationUnusable) as error:
        services.membership_invitation_accept(
            invitation=services.membership_invitation_lookup(raw), user=someone
        )
    assert error.value.code == "invitation_wrong_email"
    assert not Membership.objects.filter(user=someone).exists()


def test_the_same_address_in_other_letter_case_matches(admin):
    _invitation, raw = invite(admin, email="ann@example.com")
    ann = UserFactory(email="Ann@Example.COM")
    membership = services.membership_invitation_accept(
        invitation=services.membership_invitation_lookup(raw), user=ann
    )
    assert membership.user == ann


@pytest.mark.parametrize("route", ["accounts:invitation_accept", "accounts:invitation_decline"])
def test_accept_and_decline_never_answer_get(client, admin, route):
    invitation, raw = invite(admin)
    ann = UserFactory(email="ann@example.com")
    client.force_login(ann)
    open_link(client, raw)
    audit_before = AuditEvent.objects.count()
    response = client.get(reverse(route))
    assert response.status_code == 405
    invitation.refresh_from_db()
    assert invitation.status == MembershipInvitation.Status.PENDING
    assert not Membership.objects.filter(user=ann).exists()
    assert AuditEvent.objects.count() == audit_before
