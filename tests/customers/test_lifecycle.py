"""The customers' beat job, with the clock moved (time-machine): delegated admin relationships become
expiring 30 days before their end, both sides are reminded at 30, 7 and 1 days (each once), and at the end
they expire (both told) or, with auto-extend, gain 180 days; the access is gone the moment the end passes,
before any job runs. Unanswered delegated admin requests expire; customer invitations get one reminder with
a new link, then expire, which the reseller hears of. Every step is safe to run again."""

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone

from accounts.roles import Role
from customers import tasks
from customers.models import (
    AUTO_EXTEND_DAYS,
    CustomerInvitation,
    CustomerRelationship,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    DelegatedRole,
    InvitationKind,
    RelationshipStatus,
)
from customers.selectors import delegated_admin_live, delegated_roles, partner_may
from customers.services import acceptance, delegated, invitations
from portal.audit.models import AuditEvent
from portal.invitations.binding import InvitationUnusable
from portal.invitations.models import LinkInvitationStatus
from portal.invitations.services import link_invitation_lookup
from portal.mail.models import OutboxEmail
from portal.mail.services import outbox_email_content
from tests.factories.accounts import MembershipFactory, UserFactory
from tests.factories.customers import CustomerFactory, customer_linked
from tests.factories.providers import ResellerFactory

pytestmark = pytest.mark.django_db

S = DelegatedAdminStatus
LINK = re.compile(r"https://portal\.test/invitations/customer/([\w-]+)/")
HELPDESK = DelegatedRole.HELPDESK_ADMIN


def at(moment):
    """The whole process's clock at ``moment``, standing still."""
    return time_machine.travel(moment, tick=False)


def job() -> dict:
    """The beat task, called directly."""
    return tasks.customer_deadlines()


def done(**counts) -> dict:
    """What the task returns: every count zero but those given."""
    return {
        "invitations_reminded": 0,
        "invitations_expired": 0,
        "expiring": 0,
        "reminded": 0,
        "extended": 0,
        "expired": 0,
        "requests_expired": 0,
        **counts,
    }


def emails(template: str) -> list[tuple[str, str, str]]:
    return sorted(
        OutboxEmail.objects.filter(template=template).values_list("to", "language", "subject"),
    )


def state(relationship) -> tuple:
    row = DelegatedAdminRelationship.objects.get(pk=relationship.pk)
    return (row.status, row.ends_at, row.reminded_days, row.extended_count, row.closed_at)


@pytest.fixture
def start():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def sides(start):
    """A reseller and a customer, each with a Global admin (the customer's speaks Japanese)."""
    with at(start):
        reseller = ResellerFactory(legal_name="Fabrikam KK")
        partner_admin = MembershipFactory(
            organization=reseller, user=UserFactory(email="kenji@fabrikam.example"), roles=[Role.GLOBAL_ADMIN]
        )
        customer = CustomerFactory(legal_name="Northwind Ltd")
        customer_admin = MembershipFactory(
            organization=customer,
            user=UserFactory(email="ann@northwind.example", preferred_language="ja"),
            roles=[Role.GLOBAL_ADMIN],
        )
    return SimpleNamespace(
        reseller=reseller, partner_admin=partner_admin, customer=customer, customer_admin=customer_admin
    )


def linked(sides, start, *, days=60, **options) -> DelegatedAdminRelationship:
    """The customer's relationship with the reseller, its delegated admin access ending in ``days``."""
    with at(start):
        _customer, _relationship, access = customer_linked(
            sides.reseller, sides.customer, days=days, **options
        )
    assert access.ends_at == start + timedelta(days=days)
    return access


BOTH = ["ann@northwind.example", "kenji@fabrikam.example"]


# --- Expiring and reminders ------------------------------------------------------------------------------


def test_30_days_before_the_end_the_access_becomes_expiring_and_both_sides_hear_of_it(sides, start):
    access = linked(sides, start)
    ends = access.ends_at

    with at(ends - timedelta(days=30, minutes=1)):
        assert job() == done()
    assert state(access) == (S.ACTIVE, ends, None, 0, None)
    assert not OutboxEmail.objects.exists()

    with at(ends - timedelta(days=30)):
        assert job() == done(expiring=1, reminded=1)
        assert partner_may(sides.reseller, sides.customer, HELPDESK) is True

    assert state(access) == (S.EXPIRING, ends, 30, 0, None)
    assert [(to, language) for to, language, _subject in emails("delegated_admin_reminder")] == [
        ("ann@northwind.example", "ja"),
        ("kenji@fabrikam.example", "en"),
    ]
    english = OutboxEmail.objects.get(template="delegated_admin_reminder", to="kenji@fabrikam.example")
    assert english.subject == "Delegated admin access ends in 30 days: Fabrikam KK in Northwind Ltd"
    text = outbox_email_content(english).body_text
    assert f"ends on {ends:%Y-%m-%d}, in 30 days." in text
    assert "- Directory readers\n- Helpdesk administrator\n- License administrator\n" in text
    expiring = AuditEvent.objects.get(action="delegated_admin.expiring", organization_id=sides.customer.pk)
    assert expiring.actor_id is None
    reminded = AuditEvent.objects.filter(action="delegated_admin.reminded")
    assert sorted(reminded.values_list("organization_id", flat=True)) == sorted(
        [sides.customer.pk, sides.reseller.pk]
    )
    assert all(event.after["days_left"] == 30 for event in reminded)


def test_reminders_at_30_7_and_1_days_go_to_both_sides_each_once(sides, start):
    access = linked(sides, start)
    ends = access.ends_at

    for days_left, expected in [
        (30, done(expiring=1, reminded=1)),
        (7, done(reminded=1)),
        (1, done(reminded=1)),
    ]:
        with at(ends - timedelta(days=days_left)):
            assert job() == expected, days_left
            assert job() == done(), days_left  # at once again: nothing new
        with at(ends - timedelta(days=days_left) + timedelta(hours=6)):
            assert job() == done(), days_left  # a later run before the next mark: nothing either
        assert state(access)[2] == days_left

    reminders = OutboxEmail.objects.filter(template="delegated_admin_reminder")
    assert sorted(reminders.values_list("to", flat=True)) == sorted(BOTH * 3)
    assert sorted(reminders.filter(to="kenji@fabrikam.example").values_list("subject", flat=True)) == [
        "Delegated admin access ends in 1 day: Fabrikam KK in Northwind Ltd",
        "Delegated admin access ends in 30 days: Fabrikam KK in Northwind Ltd",
        "Delegated admin access ends in 7 days: Fabrikam KK in Northwind Ltd",
    ]
    assert AuditEvent.objects.filter(action="delegated_admin.reminded").count() == 6  # 3 marks, 2 orgs
    assert state(access)[0] == S.EXPIRING


def test_a_job_that_missed_the_30_day_mark_sends_only_the_7_day_reminder(sides, start):
    access = linked(sides, start)
    ends = access.ends_at

    with at(ends - timedelta(days=6)):
        assert job() == done(expiring=1, reminded=1)
        assert job() == done()

    assert state(access) == (S.EXPIRING, ends, 7, 0, None)
    assert [to for to, _language, _subject in emails("delegated_admin_reminder")] == BOTH
    english = OutboxEmail.objects.get(template="delegated_admin_reminder", to="kenji@fabrikam.example")
    assert english.subject == "Delegated admin access ends in 7 days: Fabrikam KK in Northwind Ltd"

    with at(ends - timedelta(hours=12)):
        assert job() == done(reminded=1)
    assert state(access)[2] == 1
    assert OutboxEmail.objects.filter(template="delegated_admin_reminder").count() == 4


def test_auto_extending_access_stays_active_and_gets_no_reminders(sides, start):
    access = linked(sides, start, auto_extend=True)
    ends = access.ends_at

    for days_left in (30, 7, 1):
        with at(ends - timedelta(days=days_left)):
            assert job() == done(), days_left

    assert state(access) == (S.ACTIVE, ends, None, 0, None)
    assert not OutboxEmail.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="delegated_admin.").exists()


# --- The end ----------------------------------------------------------------------------------------------


def test_the_access_is_gone_the_moment_the_end_passes_even_before_the_job(sides, start):
    access = linked(sides, start)
    ends = access.ends_at

    with at(ends - timedelta(seconds=1)):
        assert partner_may(sides.reseller, sides.customer, HELPDESK) is True
    with at(ends):
        assert partner_may(sides.reseller, sides.customer, HELPDESK) is False
    with at(ends + timedelta(seconds=1)):
        assert partner_may(sides.reseller, sides.customer, HELPDESK) is False
        assert partner_may(sides.reseller, sides.customer, DelegatedRole.LICENSE_ADMIN) is False
        assert delegated_roles(sides.reseller, sides.customer) == frozenset()
        assert delegated_admin_live(sides.reseller, sides.customer) is None
        # the reseller relationship itself goes on: the reseller still sees its customer
        assert partner_may(sides.reseller, sides.customer, "view") is True
    # nothing ran yet: the row still says active
    assert state(access) == (S.ACTIVE, ends, None, 0, None)


def test_at_the_end_the_job_expires_the_access_and_tells_both_sides_once(sides, start):
    access = linked(sides, start)
    ends = access.ends_at
    moment = ends + timedelta(minutes=1)

    with at(moment):
        assert job() == done(expired=1)

    assert state(access) == (S.EXPIRED, ends, None, 0, moment)
    row = DelegatedAdminRelationship.objects.get(pk=access.pk)
    assert (row.close_reason, row.closed_by_id) == ("ended", None)
    assert [(to, language) for to, language, _subject in emails("delegated_admin_expired")] == [
        ("ann@northwind.example", "ja"),
        ("kenji@fabrikam.example", "en"),
    ]
    english = OutboxEmail.objects.get(template="delegated_admin_expired", to="kenji@fabrikam.example")
    assert english.subject == "Delegated admin access expired: Fabrikam KK in Northwind Ltd"
    assert (
        f"reached its end date, {ends:%Y-%m-%d}, and has expired." in outbox_email_content(english).body_text
    )
    events = AuditEvent.objects.filter(action="delegated_admin.expired")
    assert sorted(events.values_list("organization_id", flat=True)) == sorted(
        [sides.customer.pk, sides.reseller.pk]
    )
    with at(moment):
        assert partner_may(sides.reseller, sides.customer, HELPDESK) is False

    with at(moment + timedelta(days=1)):
        assert job() == done()
    assert OutboxEmail.objects.count() == 2
    assert events.count() == 2


def test_auto_extend_adds_180_days_and_starts_the_reminders_afresh(sides, start):
    access = linked(sides, start, auto_extend=True)
    ends = access.ends_at
    # whatever was sent before the end is forgotten with the new end date
    DelegatedAdminRelationship.objects.filter(pk=access.pk).update(reminded_days=1)
    moment = ends + timedelta(minutes=1)

    with at(moment):
        assert job() == done(extended=1)
        assert job() == done()
        assert partner_may(sides.reseller, sides.customer, HELPDESK) is True

    new_end = ends + timedelta(days=AUTO_EXTEND_DAYS)
    assert AUTO_EXTEND_DAYS == 180
    assert state(access) == (S.ACTIVE, new_end, None, 1, None)
    # both sides are told of the extension once (the job ran twice), with the new end date
    extended = OutboxEmail.objects.filter(template="delegated_admin_extended")
    assert extended.count() == OutboxEmail.objects.count() == 2
    assert all(new_end.strftime("%Y-%m-%d") in email.body_text for email in extended)
    events = AuditEvent.objects.filter(action="delegated_admin.extended")
    assert sorted(events.values_list("organization_id", flat=True)) == sorted(
        [sides.customer.pk, sides.reseller.pk]
    )
    event = events.get(organization_id=sides.reseller.pk)
    assert event.before == {"ends_at": ends.isoformat()}
    assert event.after == {
        "partner": "Fabrikam KK",
        "customer": "Northwind Ltd",
        "ends_at": new_end.isoformat(),
        "days": 180,
    }

    # and again 180 days later
    with at(new_end + timedelta(minutes=1)):
        assert job() == done(extended=1)
    assert state(access) == (S.ACTIVE, new_end + timedelta(days=180), None, 2, None)


def test_an_expiring_access_that_auto_extends_becomes_active_again(sides, start):
    access = linked(sides, start, auto_extend=True, status=S.EXPIRING)
    DelegatedAdminRelationship.objects.filter(pk=access.pk).update(reminded_days=7)

    with at(access.ends_at + timedelta(seconds=1)):
        assert job() == done(extended=1)

    assert state(access) == (S.ACTIVE, access.ends_at + timedelta(days=180), None, 1, None)


def test_auto_extend_never_outlives_the_reseller_relationship(sides, start):
    access = linked(sides, start, auto_extend=True)
    with at(start + timedelta(days=10)):
        CustomerRelationship.objects.filter(customer=sides.customer).update(
            status=RelationshipStatus.ENDED, ended_at=timezone.now()
        )

    with at(access.ends_at + timedelta(minutes=1)):
        assert job() == done(expired=1)

    assert state(access)[:4] == (S.EXPIRED, access.ends_at, None, 0)
    assert [to for to, _language, _subject in emails("delegated_admin_expired")] == BOTH
    assert not AuditEvent.objects.filter(action="delegated_admin.extended").exists()


def test_auto_extend_never_applies_to_global_administrator(sides, start):
    # The services refuse this combination; a row that holds it anyway still expires.
    access = linked(sides, start, auto_extend=True, roles=[DelegatedRole.GLOBAL_ADMIN])

    with at(access.ends_at + timedelta(minutes=1)):
        assert job() == done(expired=1)

    assert state(access)[:4] == (S.EXPIRED, access.ends_at, None, 0)


# --- Unanswered delegated admin requests -------------------------------------------------------------------


def request_roles(sides, start):
    with at(start):
        return delegated.delegated_admin_request(
            partner=sides.reseller,
            by=sides.partner_admin,
            customer=sides.customer,
            roles=[DelegatedRole.USER_ADMIN],
            duration_days=90,
        )


def test_an_unanswered_request_expires_after_the_set_number_of_days_and_the_partner_is_told(sides, start):
    access = linked(sides, start, days=365)
    request = request_roles(sides, start)
    days = django_settings.DELEGATED_ADMIN_REQUEST_DAYS
    assert days == 30
    before = state(access)

    with at(start + timedelta(days=days) - timedelta(minutes=1)):
        assert job() == done()
    assert DelegatedAdminRelationship.objects.get(pk=request.pk).status == S.APPROVAL_PENDING

    with at(start + timedelta(days=days)):
        assert job() == done(requests_expired=1)
        assert job() == done()

    row = DelegatedAdminRelationship.objects.get(pk=request.pk)
    assert (row.status, row.close_reason, row.starts_at, row.ends_at) == (S.EXPIRED, "unanswered", None, None)
    assert state(access) == before  # the live access is untouched
    assert emails("delegated_admin_request_expired") == [
        ("kenji@fabrikam.example", "en", "Delegated admin request expired: Northwind Ltd")
    ]
    # the customer got the request, and nothing when it lapsed
    assert OutboxEmail.objects.filter(to="ann@northwind.example").count() == 1
    assert AuditEvent.objects.filter(action="delegated_admin.expired").count() == 2


def test_the_request_window_follows_the_setting(sides, start, settings):
    settings.DELEGATED_ADMIN_REQUEST_DAYS = 10
    linked(sides, start, days=365)
    request_roles(sides, start)

    with at(start + timedelta(days=10) - timedelta(minutes=1)):
        assert job()["requests_expired"] == 0
    with at(start + timedelta(days=10)):
        assert job()["requests_expired"] == 1


# --- Customer invitations ---------------------------------------------------------------------------------


@pytest.fixture
def sent(sides, start):
    """A reseller-only invitation made at ``start`` by the reseller's Global admin, in Japanese."""
    with at(start):
        invitation, raw = invitations.customer_invitation_create(
            reseller=sides.reseller,
            by=sides.partner_admin,
            email="ann@northwind.example",
            kind=InvitationKind.RESELLER_ONLY,
            roles=[DelegatedRole.HELPDESK_ADMIN],
            duration_days=30,
            language="ja",
        )
    assert invitation.expires_at == start + timedelta(days=django_settings.CUSTOMER_INVITATION_DAYS)
    return invitation, raw


def invitation_state(invitation) -> tuple:
    row = CustomerInvitation.objects.get(pk=invitation.pk)
    return (row.status, row.token_hash, row.reminded_at, row.expires_at)


def test_one_invitation_reminder_3_days_before_the_end_with_a_new_link_that_kills_the_old(sent, start):
    invitation, old_raw = sent
    ends = invitation.expires_at
    before = invitation_state(invitation)

    with at(ends - timedelta(days=3, minutes=1)):
        assert job() == done()
    assert invitation_state(invitation) == before

    reminder_time = ends - timedelta(days=3) + timedelta(minutes=1)
    with at(reminder_time):
        assert job() == done(invitations_reminded=1)

    email = OutboxEmail.objects.get()
    assert (email.to, email.template, email.language) == (
        "ann@northwind.example",
        "customer_invitation_reminder",
        "ja",
    )
    new_raw = LINK.search(outbox_email_content(email).body_text).group(1)
    assert new_raw != old_raw
    assert new_raw not in email.subject + email.body_text + email.body_html  # stored sealed
    with pytest.raises(InvitationUnusable) as error:
        link_invitation_lookup(CustomerInvitation, old_raw)
    assert error.value.code == "invitation_unknown"
    again = link_invitation_lookup(CustomerInvitation, new_raw)
    assert (again.pk, again.status, again.expires_at, again.reminded_at) == (
        invitation.pk,
        LinkInvitationStatus.PENDING,
        ends,
        reminder_time,
    )
    event = AuditEvent.objects.get(action="customer_invitation.reminded")
    assert (event.organization_id, event.actor_id) == (invitation.organization_id, None)
    assert new_raw not in str(event.after) and old_raw not in str(event.after)

    after = invitation_state(invitation)
    with at(reminder_time + timedelta(days=1)):
        assert job() == done()
    assert invitation_state(invitation) == after
    assert OutboxEmail.objects.count() == 1


def test_an_unanswered_invitation_expires_and_the_reseller_is_told_once(sent, sides, start):
    invitation, raw = sent
    admin_agent = MembershipFactory(organization=sides.reseller, roles=[Role.ADMIN_AGENT])
    MembershipFactory(organization=sides.reseller, roles=[Role.SALES_AGENT])  # may invite, is not told
    moment = invitation.expires_at + timedelta(seconds=1)

    with at(moment):
        # past the end, before the job: the link no longer works already
        with pytest.raises(InvitationUnusable) as error:
            acceptance.customer_invitation_check(
                invitation, sides.customer_admin.user, customer=sides.customer
            )
        assert error.value.code == "invitation_expired"
        assert job() == done(invitations_expired=1)

    assert invitation_state(invitation)[0] == LinkInvitationStatus.EXPIRED
    expired = OutboxEmail.objects.filter(template="customer_invitation_expired")
    assert sorted(expired.values_list("to", flat=True)) == sorted(
        ["kenji@fabrikam.example", admin_agent.user.email]
    )
    text = outbox_email_content(expired.get(to="kenji@fabrikam.example")).body_text
    assert text.startswith(
        "The invitation that Fabrikam KK sent to ann@northwind.example expired before anyone accepted it."
    )
    assert raw not in text
    assert AuditEvent.objects.filter(action="customer_invitation.expired").count() == 1

    with at(moment + timedelta(days=1)):
        assert job() == done()
    assert OutboxEmail.objects.count() == 2
    assert AuditEvent.objects.filter(action="customer_invitation.expired").count() == 1


# --- The job as a whole ----------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_the_job_works_through_more_than_one_batch_and_stops(sides, start):
    with at(start):
        ending = [
            customer_linked(sides.reseller, ends_in=timedelta(days=-1, hours=index))[2] for index in range(5)
        ]
        closing_in = [
            customer_linked(sides.reseller, ends_in=timedelta(days=6, hours=index))[2] for index in range(5)
        ]

    with at(start + timedelta(minutes=1)):
        totals = delegated.delegated_admins_run_due(batch=2)
        assert delegated.delegated_admins_run_due(batch=2) == dict.fromkeys(totals, 0)

    assert totals == {"expiring": 5, "reminded": 5, "extended": 0, "expired": 5, "requests_expired": 0}
    assert {state(access)[0] for access in ending} == {S.EXPIRED}
    assert {state(access)[:3:2] for access in closing_in} == {(S.EXPIRING, 7)}
    assert OutboxEmail.objects.filter(template="delegated_admin_expired").count() == 5  # the reseller's admin
    assert OutboxEmail.objects.filter(template="delegated_admin_reminder").count() == 5


@pytest.mark.timeout(60)
def test_a_batch_of_mixed_extensions_and_expiries_does_not_stop_the_job_early(sides, start):
    # Ordered by end date: extended, expired, expired. With batch=2 the first batch is full (two rows
    # handled) although neither outcome alone reaches 2: the job must go on to the third row.
    with at(start):
        accesses = [
            customer_linked(sides.reseller, ends_in=timedelta(days=-3), auto_extend=True)[2],
            customer_linked(sides.reseller, ends_in=timedelta(days=-2))[2],
            customer_linked(sides.reseller, ends_in=timedelta(days=-1))[2],
        ]

    with at(start + timedelta(minutes=1)):
        totals = delegated.delegated_admins_run_due(batch=2)

    assert totals == {"expiring": 0, "reminded": 0, "extended": 1, "expired": 2, "requests_expired": 0}
    assert [state(access)[0] for access in accesses] == [S.ACTIVE, S.EXPIRED, S.EXPIRED]


def test_the_beat_task_runs_every_step_in_one_go(sides, start, sent):
    invitation, _raw = sent
    with at(start):
        late = invitations.customer_invitation_create(
            reseller=sides.reseller,
            by=sides.partner_admin,
            email="late@example.com",
            kind=InvitationKind.RESELLER_ONLY,
            roles=[DelegatedRole.GLOBAL_READER],
            duration_days=30,
        )[0]
    CustomerInvitation.objects.filter(pk=late.pk).update(expires_at=start + timedelta(days=1))
    moment = start + timedelta(days=28)  # ``sent`` ends in 2 days: its reminder is due
    with at(start):
        customer_linked(sides.reseller, ends_in=timedelta(days=28, hours=12))  # 12 hours left at ``moment``
        customer_linked(sides.reseller, ends_in=timedelta(days=27))  # ended a day before
        customer_linked(sides.reseller, ends_in=timedelta(days=27), auto_extend=True)
        linked(sides, start, days=365)
    request_roles(sides, moment - timedelta(days=django_settings.DELEGATED_ADMIN_REQUEST_DAYS, minutes=1))

    with at(moment):
        assert tasks.customer_deadlines() == done(
            invitations_reminded=1,
            invitations_expired=1,
            expiring=1,
            reminded=1,
            extended=1,
            expired=1,
            requests_expired=1,
        )
        assert tasks.customer_deadlines() == done()

    assert invitation_state(invitation)[0] == LinkInvitationStatus.PENDING
    assert invitation_state(late)[0] == LinkInvitationStatus.EXPIRED
