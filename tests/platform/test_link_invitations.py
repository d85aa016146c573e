"""The platform's link invitations (portal.invitations), through their first user, membership
invitations: issue, supersede, rate limit, consume once, close, expire, the pluggable recipient check
and the landing flow with its hooks."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.http import HttpResponse
from django.urls import include, path, reverse
from django.utils import timezone

import portal.urls
from accounts.models import MembershipInvitation
from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.errors import DomainError, InvalidTransition
from portal.invitations import services as links
from portal.invitations.binding import InvitationUnusable, RecipientBinding
from portal.invitations.views import InvitationFlow
from tests.factories.accounts import MembershipFactory, MembershipInvitationFactory, UserFactory

pytestmark = pytest.mark.django_db
LIFETIME = timedelta(days=7)


def issue(admin, email="ann@example.com"):
    return links.link_invitation_issue(
        MembershipInvitation,
        scope={"organization": admin.organization},
        email=email,
        invited_by=admin.user,
        rate_limit_key=str(admin.organization.pk),
        lifetime=LIFETIME,
        roles=[Role.SALES_AGENT],
    )


@pytest.fixture
def admin():
    return MembershipFactory(roles=[Role.GLOBAL_ADMIN])


def test_issuing_returns_the_raw_token_once_and_stores_only_its_hash(admin):
    invitation, raw = issue(admin)
    invitation.refresh_from_db()
    assert len(raw) >= 43
    assert invitation.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert invitation.purpose == "membership"
    stored = MembershipInvitation.objects.filter(pk=invitation.pk).values().get()
    assert raw not in repr(stored)
    sent = AuditEvent.objects.get(action="membership_invitation.sent", target_id=str(invitation.public_id))
    assert sent.after["email"] == "ann@example.com" and "token" not in repr(sent.after)


def test_a_new_invitation_supersedes_the_pending_one_for_the_same_recipient(admin):
    first, first_raw = issue(admin)
    second, _raw = issue(admin)
    first.refresh_from_db()
    assert (first.status, second.status) == ("revoked", "pending")
    assert (
        AuditEvent.objects.filter(
            action="membership_invitation.superseded", target_id=str(first.public_id)
        ).count()
        == 1
    )
    with pytest.raises(InvitationUnusable):
        links.link_invitation_check(
            links.link_invitation_lookup(MembershipInvitation, first_raw), UserFactory()
        )
    # Another recipient is another invitation.
    issue(admin, email="bob@example.com")
    assert MembershipInvitation.objects.filter(status="pending").count() == 2


def test_the_hourly_limit_is_per_organization_and_refuses_before_writing(admin, settings):
    settings.INVITATIONS_PER_HOUR = 1
    issue(admin)
    rows, events = MembershipInvitation.objects.count(), AuditEvent.objects.count()
    with pytest.raises(DomainError) as refused:
        issue(admin, email="bob@example.com")
    assert refused.value.code == "rate_limited"
    assert (MembershipInvitation.objects.count(), AuditEvent.objects.count()) == (rows, events)
    other = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    issue(other, email="bob@example.com")  # a different organization has its own budget


def test_consuming_works_once(admin):
    invitation, _raw = issue(admin)
    user = UserFactory()
    links.link_invitation_consume(invitation, user=user)
    invitation.refresh_from_db()
    assert (invitation.status, invitation.decided_by, invitation.decided_at is not None) == (
        "accepted",
        user,
        True,
    )
    with pytest.raises(InvitationUnusable) as second:
        links.link_invitation_consume(invitation, user=UserFactory())
    assert second.value.code == "invitation_closed"
    assert AuditEvent.objects.filter(action="membership_invitation.accepted").count() == 1


def test_an_expired_invitation_cannot_be_consumed_even_before_the_expiry_job(admin):
    invitation, _raw = issue(admin)
    MembershipInvitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    invitation.refresh_from_db()
    with pytest.raises(InvitationUnusable) as checked:
        links.link_invitation_check(invitation, UserFactory())
    assert checked.value.code == "invitation_expired"
    with pytest.raises(InvitationUnusable):
        links.link_invitation_consume(invitation, user=UserFactory())
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_declining_keeps_the_reason_and_closing_twice_is_refused(admin):
    invitation, _raw = issue(admin)
    user = UserFactory()
    links.link_invitation_decline(invitation, user=user, reason="We already work with another partner")
    invitation.refresh_from_db()
    assert (invitation.status, invitation.reason, invitation.decided_by) == (
        "declined",
        "We already work with another partner",
        user,
    )
    event = AuditEvent.objects.get(action="membership_invitation.declined")
    assert event.after == {"status": "declined", "reason": "We already work with another partner"}
    with pytest.raises(InvalidTransition):
        links.link_invitation_revoke(invitation, by=admin.user)
    with pytest.raises(InvitationUnusable):
        links.link_invitation_decline(invitation, user=user)


def test_expiring_what_is_due_closes_only_past_pending_invitations_and_can_run_again(admin):
    due, _raw = issue(admin, email="due@example.com")
    issue(admin, email="fresh@example.com")
    accepted, _raw = issue(admin, email="taken@example.com")
    links.link_invitation_consume(accepted, user=UserFactory())
    MembershipInvitation.objects.filter(pk__in=[due.pk, accepted.pk]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert links.link_invitations_expire_due(MembershipInvitation) == 1
    assert links.link_invitations_expire_due(MembershipInvitation) == 0
    statuses = dict(MembershipInvitation.objects.values_list("email", "status"))
    assert statuses == {
        "due@example.com": "expired",
        "fresh@example.com": "pending",
        "taken@example.com": "accepted",
    }
    assert AuditEvent.objects.filter(action="membership_invitation.expired").count() == 1


class PartnerIdBinding(RecipientBinding):
    """What the partnership invitations will plug in: the recipient is whoever holds a partner ID."""

    def __init__(self, holders):
        self.holders = holders

    def check(self, invitation, user):
        if user.pk not in self.holders:
            raise InvitationUnusable("not the partner", code="invitation_wrong_partner")


def test_the_recipient_check_is_the_models_binding(admin, monkeypatch):
    invitation = MembershipInvitationFactory(organization=admin.organization, invited_by=admin.user)
    holder, stranger = UserFactory(), UserFactory(email=invitation.email)
    monkeypatch.setattr(MembershipInvitation, "binding", PartnerIdBinding({holder.pk}))
    links.link_invitation_check(invitation, holder)  # no address needed: the partner ID binds
    with pytest.raises(InvitationUnusable) as refused:
        links.link_invitation_check(invitation, stranger)  # the invited address alone is not enough
    assert refused.value.code == "invitation_wrong_partner"


def test_the_landing_moves_the_token_out_of_the_url_and_the_session_never_holds_it(client, admin):
    invitation, raw = issue(admin)
    response = client.get(f"/invitations/membership/{raw}/")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:invitation")
    assert raw not in response["Location"]
    assert response["Referrer-Policy"] == "no-referrer"
    session = client.session
    assert session["link_invitation:membership"] == str(invitation.public_id)
    assert raw not in repr(dict(session.items()))
    before = AuditEvent.objects.count()
    page = client.get(reverse("accounts:invitation"))
    assert page.status_code == 200
    assert invitation.email in page.content.decode()
    invitation.refresh_from_db()
    assert (invitation.status, AuditEvent.objects.count()) == ("pending", before)


# --- The flow's hooks, through a flow whose link anyone holding it may act on ------------------------------


class LinkHolderFlow(InvitationFlow):
    """Membership invitations as a link that whoever holds it may act on (like a contact's confirmation):
    its own words and its own rule in ``check``, and an accept that answers with a form with errors until
    the box is ticked."""

    model = MembershipInvitation
    template_name = "accounts/invitation.html"
    namespace = "hooks"
    login_required_to_act = False

    def check(self, invitation, user, *, to_accept=True):
        if invitation.is_expired:
            raise InvitationUnusable("This test link has expired.", code="invitation_expired")
        if not invitation.is_pending:
            raise InvitationUnusable("This test link was already used.", code="invitation_closed")
        if invitation.email.startswith("closed"):
            raise InvitationUnusable("This test link is no longer needed.", code="invitation_closed")

    def accept(self, request, invitation):
        self.check(invitation, request.user)
        if request.POST.get("ticked") != "yes":
            return HttpResponse("Tick the box.", status=400)
        links.link_invitation_consume(invitation, user=request.user)
        return HttpResponse("Accepted.")

    def decline(self, request, invitation):
        links.link_invitation_decline(invitation, user=request.user)
        return HttpResponse("Declined.")


link_holder_flow = LinkHolderFlow()
urlpatterns = [path("hooks/", include((link_holder_flow.urls(), "hooks"))), *portal.urls.urlpatterns]
HOOKS = pytest.mark.urls(__name__)
SESSION_KEY = link_holder_flow.session_key


def land(client, raw):
    assert client.get(f"/hooks/invitations/membership/{raw}/").status_code == 302
    return client.get(reverse("hooks:invitation"))


def text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


@HOOKS
def test_a_link_anyone_may_act_on_is_checked_by_the_flow_for_an_anonymous_visitor_too(client, admin):
    invitation, raw = issue(admin)
    MembershipInvitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    page = land(client, raw)
    assert page.status_code == 410
    assert "This test link has expired." in text(page)  # the flow's words, not the shared page's
    assert "_auth_user_id" not in client.session
    # A rule of the flow's own (the link is pending and unexpired) refuses the anonymous visitor too.
    _closed, closed_raw = issue(admin, email="closed@example.com")
    page = land(client, closed_raw)
    assert page.status_code == 410
    assert "This test link is no longer needed." in text(page)
    assert MembershipInvitation.objects.filter(status="pending").count() == 2
    # A link that needs a sign-in still shows an anonymous visitor the open invitation, unchecked.
    _open, open_raw = issue(admin, email="bob@example.com")
    assert client.get(f"/invitations/membership/{open_raw}/").status_code == 302
    assert client.get(reverse("accounts:invitation")).status_code == 200


@HOOKS
def test_an_action_answering_with_a_form_with_errors_keeps_the_link_for_another_try(client, admin):
    invitation, raw = issue(admin)
    assert land(client, raw).status_code == 200
    before = AuditEvent.objects.count()

    refused = client.post(reverse("hooks:invitation_accept"))

    assert (refused.status_code, refused.content) == (400, b"Tick the box.")
    assert client.session[SESSION_KEY] == str(invitation.public_id)
    invitation.refresh_from_db()
    assert (invitation.status, AuditEvent.objects.count()) == ("pending", before)

    accepted = client.post(reverse("hooks:invitation_accept"), {"ticked": "yes"})

    assert (accepted.status_code, accepted.content) == (200, b"Accepted.")
    assert SESSION_KEY not in client.session  # acted: forgotten
    invitation.refresh_from_db()
    assert (invitation.status, invitation.decided_by) == ("accepted", None)  # nobody was signed in
    assert AuditEvent.objects.filter(action="membership_invitation.accepted").count() == 1


@HOOKS
def test_a_refused_action_keeps_the_link_and_shows_the_page_with_the_reason(client, admin):
    invitation, raw = issue(admin)
    land(client, raw)
    MembershipInvitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = client.post(reverse("hooks:invitation_accept"), {"ticked": "yes"}, follow=True)

    assert response.redirect_chain == [(reverse("hooks:invitation"), 302)]
    assert response.status_code == 410
    assert "This test link has expired." in text(response)
    assert client.session[SESSION_KEY] == str(invitation.public_id)
    invitation.refresh_from_db()
    assert invitation.status == "pending"
