"""The invitations' deadlines, with the clock moved (time-machine): one reminder PARTNERSHIP_REMINDER_DAYS
before the end, with a new link that replaces the old one; expiry after PARTNERSHIP_INVITATION_DAYS, which
the provider hears of; the beat task run again does nothing more."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.invitations.binding import InvitationUnusable
from portal.invitations.models import LinkInvitationStatus
from portal.invitations.services import link_invitation_lookup
from portal.mail.models import OutboxEmail
from portal.mail.services import outbox_email_content
from providers import tasks
from providers.models import PartnershipInvitation
from providers.services import invitations, partnerships
from tests.factories.accounts import MembershipFactory, UserFactory
from tests.factories.providers import ProviderFactory, ResellerFactory, partnership_invitation_issued

pytestmark = pytest.mark.django_db

Status = LinkInvitationStatus
LINK = re.compile(r"https://portal\.test/invitations/partnership/([\w-]+)/")


def at(moment):
    """The whole process's clock at ``moment``, standing still."""
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def provider_admin():
    provider = ProviderFactory(legal_name="Contoso KK")
    return MembershipFactory(
        organization=provider, user=UserFactory(email="kenji@contoso.example"), roles=[Role.GLOBAL_ADMIN]
    )


@pytest.fixture
def sent(provider_admin):
    """An invitation made a moment ago (its link is the raw token returned)."""
    start = timezone.now().replace(microsecond=0)
    with at(start):
        invitation, raw = partnership_invitation_issued(
            provider_admin.organization, "rei@fabrikam.example", by=provider_admin, language="ja"
        )
    return start, invitation, raw


def deadlines() -> dict:
    return tasks.partnership_invitation_deadlines()


def state(invitation) -> tuple:
    invitation = PartnershipInvitation.objects.get(pk=invitation.pk)
    return (invitation.status, invitation.token_hash, invitation.reminded_at, invitation.expires_at)


def test_the_link_lives_30_days(sent):
    start, invitation, _raw = sent

    assert invitation.expires_at == start + timedelta(days=30)


def test_no_reminder_before_the_last_3_days(sent):
    start, invitation, _raw = sent
    before = state(invitation)

    with at(start + timedelta(days=27) - timedelta(minutes=1)):
        assert deadlines() == {"reminded": 0, "expired": 0, "bulk_resumed": 0}

    assert state(invitation) == before
    assert not OutboxEmail.objects.exists()


def test_one_reminder_3_days_before_the_end_with_a_new_link_that_replaces_the_old(sent):
    start, invitation, old_raw = sent
    reminder_time = start + timedelta(days=27, minutes=1)

    with at(reminder_time):
        assert deadlines() == {"reminded": 1, "expired": 0, "bulk_resumed": 0}

    email = OutboxEmail.objects.get()
    assert (email.to, email.template, email.language) == (
        "rei@fabrikam.example",
        "partnership_invitation_reminder",
        "ja",
    )
    new_raw = LINK.search(outbox_email_content(email).body_text).group(1)
    assert new_raw != old_raw
    assert new_raw not in email.body_text  # stored sealed
    # The old link matches nothing any more; the new one is the same invitation, same end date.
    with pytest.raises(InvitationUnusable) as error:
        link_invitation_lookup(PartnershipInvitation, old_raw)
    assert error.value.code == "invitation_unknown"
    again = link_invitation_lookup(PartnershipInvitation, new_raw)
    assert (again.pk, again.status, again.expires_at) == (
        invitation.pk,
        Status.PENDING,
        start + timedelta(days=30),
    )
    assert again.reminded_at == reminder_time
    event = AuditEvent.objects.get(action="partnership_invitation.reminded")
    assert (event.organization_id, event.actor_id) == (invitation.organization_id, None)
    assert new_raw not in str(event.after) and old_raw not in str(event.after)

    # Run again, a day later: nothing more.
    after = state(invitation)
    with at(reminder_time + timedelta(days=1)):
        assert deadlines() == {"reminded": 0, "expired": 0, "bulk_resumed": 0}
    assert state(invitation) == after
    assert OutboxEmail.objects.count() == 1


def test_the_reminder_says_when_it_ends_and_that_the_old_link_is_replaced(sent, settings):
    start, invitation, _raw = sent
    invitation.language = "en"
    invitation.save(update_fields=["language"])

    with at(start + timedelta(days=28)):
        deadlines()

    email = OutboxEmail.objects.get()
    text = outbox_email_content(email).body_text
    expires = (start + timedelta(days=30)).strftime("%Y-%m-%d %H:%M")
    assert email.subject == "Reminder: Contoso KK invites you to authorise it as your indirect provider"
    assert f"The invitation expires on {expires} (UTC)." in text
    assert "This new link replaces the earlier one, which no longer works." in text


def test_the_reminder_window_follows_the_setting(sent, settings):
    settings.PARTNERSHIP_REMINDER_DAYS = 7
    start, _invitation, _raw = sent

    with at(start + timedelta(days=23) - timedelta(minutes=1)):
        assert deadlines()["reminded"] == 0
    with at(start + timedelta(days=23, minutes=1)):
        assert deadlines()["reminded"] == 1
    assert OutboxEmail.objects.filter(template="partnership_invitation_reminder").count() == 1


def test_expiry_after_30_days_tells_the_provider_and_runs_once(sent, provider_admin):
    start, invitation, raw = sent
    account_admin = MembershipFactory(organization=provider_admin.organization, roles=[Role.ACCOUNT_ADMIN])
    MembershipFactory(organization=provider_admin.organization, roles=[Role.SALES_AGENT])
    reseller_admin = MembershipFactory(
        organization=ResellerFactory(),
        user=UserFactory(email="rei@fabrikam.example"),
        roles=[Role.GLOBAL_ADMIN],
    )

    # Past the end but before the job: the link no longer works already.
    with at(start + timedelta(days=30, seconds=1)):
        with pytest.raises(InvitationUnusable) as error:
            partnerships.partnership_invitation_check(invitation, reseller_admin.user)
        assert error.value.code == "invitation_expired"
        assert deadlines() == {"reminded": 0, "expired": 1, "bulk_resumed": 0}

    assert PartnershipInvitation.objects.get(pk=invitation.pk).status == Status.EXPIRED
    emails = OutboxEmail.objects.filter(template="partnership_invitation_expired")
    assert sorted(emails.values_list("to", flat=True)) == sorted(
        ["kenji@contoso.example", account_admin.user.email]
    )
    text = outbox_email_content(emails.get(to="kenji@contoso.example")).body_text
    assert "The invitation that Contoso KK sent to rei@fabrikam.example" in text
    assert raw not in text
    assert AuditEvent.objects.filter(action="partnership_invitation.expired").count() == 1

    with at(start + timedelta(days=31)):
        assert deadlines() == {"reminded": 0, "expired": 0, "bulk_resumed": 0}
    assert OutboxEmail.objects.count() == 2
    assert AuditEvent.objects.filter(action="partnership_invitation.expired").count() == 1


def test_answered_or_revoked_invitations_get_neither_reminder_nor_expiry(sent, provider_admin):
    start, invitation, _raw = sent
    invitations.partnership_invitation_revoke(invitation=invitation, by=provider_admin)
    before = state(invitation)

    with at(start + timedelta(days=28)):
        assert deadlines()["reminded"] == 0
    with at(start + timedelta(days=31)):
        assert deadlines()["expired"] == 0

    assert state(invitation) == before
    assert not OutboxEmail.objects.exists()


def test_a_reminded_link_can_still_be_accepted_and_the_old_one_cannot(sent, provider_admin):
    start, _invitation, old_raw = sent
    reseller = ResellerFactory()
    admin = MembershipFactory(
        organization=reseller, user=UserFactory(email="rei@fabrikam.example"), roles=[Role.GLOBAL_ADMIN]
    )
    with at(start + timedelta(days=28)):
        deadlines()
        new_raw = LINK.search(outbox_email_content(OutboxEmail.objects.get()).body_text).group(1)

        partnership = partnerships.partnership_authorize(
            invitation=link_invitation_lookup(PartnershipInvitation, new_raw),
            user=admin.user,
            reseller=reseller,
            consent=True,
        )

    assert partnership.provider == provider_admin.organization
    with pytest.raises(InvitationUnusable):
        link_invitation_lookup(PartnershipInvitation, old_raw)
