"""The activity log and User management print their rows, and the activity log its filter form, through
``{% memo %}`` (portal/memo.py, issue 12): a second request is read from the memo and is the same page, and
what changed (a new event, another selection, a renamed member, new roles, an invitation that expired)
shows at once; the forms with a CSRF token stay outside the memo."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, MembershipRole, User
from accounts.roles import Role
from portal.audit.services import audit_record
from portal.memo import memo
from tests.factories.accounts import MembershipFactory, MembershipInvitationFactory
from tests.support.pages import CSRF_TOKEN, body_of

pytestmark = pytest.mark.django_db


def page_url(name: str, organization) -> str:
    return reverse(f"accounts:{name}", kwargs={"organization_public_id": organization.public_id})


@pytest.fixture
def admin():
    return MembershipFactory(roles=[Role.GLOBAL_ADMIN], user__full_name="Aiko Admin")


# --- Activity log ----------------------------------------------------------------------------------


def record(admin, action: str, when: str, **after):
    with time_machine.travel(datetime.fromisoformat(when).replace(tzinfo=UTC), tick=False):
        return audit_record(action=action, organization=admin.organization, actor=admin.user, after=after)


@pytest.fixture
def logged(admin):
    record(admin, "membership.created", "2026-03-01T09:00:00")
    record(admin, "membership.roles_changed", "2026-03-02T10:30:15", acting_partner="Contoso & <Co> KK")
    with time_machine.travel(datetime(2026, 3, 3, 8, 0, tzinfo=UTC), tick=False):
        audit_record(action="subscription.created", organization=admin.organization)  # by the system
    return admin


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_second_request_of_the_activity_log_is_read_from_the_memo_and_is_the_same_page(
    client, logged, language
):
    logged.user.preferred_language = language
    logged.user.save(update_fields=["preferred_language"])
    client.force_login(logged.user)
    first = body_of(client.get(page_url("activity", logged.organization)))
    assert first.count('<td class="nowrap">2026-03-0') == 3

    hits, misses = memo.hits, memo.misses
    second = body_of(client.get(page_url("activity", logged.organization)))

    assert memo.hits - hits >= 3 + 1  # the rows and the filter form
    assert memo.misses == misses  # nothing printed anew
    assert second == first


def test_the_activity_log_shows_a_new_event_and_its_rows_in_the_members_language(client, logged):
    client.force_login(logged.user)
    before = body_of(client.get(page_url("activity", logged.organization)))
    assert "user.profile_updated</code>" not in before
    assert '<td><span class="muted">System</span></td>' in before

    record(logged, "user.profile_updated", "2026-03-04T11:12:13", acting_partner="Fabrikam KK")
    after = body_of(client.get(page_url("activity", logged.organization)))

    assert after.count('<td class="nowrap">2026-03-0') == 4
    assert (
        '<td class="nowrap">2026-03-04 11:12:13</td>\n'
        '      <td>Profile updated<br><code class="muted">user.profile_updated</code></td>\n'
        f'      <td>{logged.user.email}<br><span class="muted activity-partner">as partner '
        "<bdi>Fabrikam KK</bdi></span></td>"
    ) in after
    logged.user.preferred_language = "ja"
    logged.user.save(update_fields=["preferred_language"])
    japanese = body_of(client.get(page_url("activity", logged.organization)))
    assert "パートナー <bdi>Contoso &amp; &lt;Co&gt; KK</bdi> として" in japanese
    assert '<td><span class="muted">システム</span></td>' in japanese
    assert "as partner" not in japanese and "System</span>" not in japanese


def test_the_activity_filter_shows_what_was_chosen_and_its_errors(client, logged):
    client.force_login(logged.user)
    url = page_url("activity", logged.organization)
    everything = body_of(client.get(url))
    assert '<option value="" selected>All actions</option>' in everything

    chosen = body_of(client.get(url, {"action": "membership.created", "date_from": "2026-03-01"}))
    assert '<option value="membership.created" selected>Member added</option>' in chosen
    assert '<option value="" selected>' not in chosen
    assert '<input type="date" name="date_from" value="2026-03-01"' in chosen
    assert chosen.count('<td class="nowrap">2026-03-0') == 1

    hits = memo.hits
    again = body_of(client.get(url, {"action": "membership.created", "date_from": "2026-03-01"}))
    assert memo.hits - hits >= 2 and again == chosen

    # The same selection with a field in error: the form prints its errors and what was sent, as sent.
    for _ in range(2):
        wrong = body_of(
            client.get(url, {"action": "membership.created", "date_from": "2026-02-31"}), status=400
        )
        assert '<input type="text" name="date_from" value="2026-02-31"' in wrong
        assert '<div class="field__errors" id="id_date_from_error"><p>Enter a valid date.</p>' in wrong
        assert '<option value="membership.created" selected>Member added</option>' in wrong
    nobody = body_of(client.get(url, {"user": "nobody-here@example.com"}), status=400)
    assert "<p>No member of this organization has this email address.</p>" in nobody
    assert 'value="nobody-here@example.com"' in nobody


# --- User management -------------------------------------------------------------------------------


def member_row(body: str, email: str) -> str:
    [row] = [row for row in body.split("<tr>")[1:] if f'<span class="muted">{email}</span>' in row]
    return row.split("</tr>")[0]


@pytest.fixture
def team(admin):
    colleagues = [
        MembershipFactory(organization=admin.organization, roles=roles, user__full_name=name)
        for name, roles in (
            ("Ben Billing", [Role.BILLING_ADMIN]),
            ("Chie Agent", [Role.ADMIN_AGENT, Role.SALES_AGENT]),
        )
    ]
    return admin, colleagues


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_second_request_of_user_management_is_read_from_the_memo_and_is_the_same_page(
    client, team, language
):
    admin, _colleagues = team
    MembershipInvitationFactory(organization=admin.organization, email="new.person@example.com")
    admin.user.preferred_language = language
    admin.user.save(update_fields=["preferred_language"])
    client.force_login(admin.user)
    first = client.get(page_url("users", admin.organization))
    rows = first.content.decode().count('class="badge badge--active"')
    assert rows == 3 + 1  # the members, and the inviting administrator the factory made

    hits, misses = memo.hits, memo.misses
    second = client.get(page_url("users", admin.organization))

    assert memo.hits - hits >= 2  # the members' table (one memo for the same rows) and the invitation
    assert memo.misses == misses  # nothing printed anew
    assert body_of(second) == body_of(first)
    # The invitation's resend form is outside the memo: each response has a token of its own.
    [first_token, second_token] = (
        CSRF_TOKEN.search(response.content.decode().split('action="/o/')[-1])[1]
        for response in (first, second)
    )
    assert first_token and second_token and first_token != second_token


def test_user_management_shows_a_members_new_name_roles_and_status_at_once(client, team):
    admin, (ben, chie) = team
    client.force_login(admin.user)
    url = page_url("users", admin.organization)
    before = body_of(client.get(url))
    assert ">Ben Billing</a>" in member_row(before, ben.user.email)
    assert "<td>Admin agent, Sales agent</td>" in member_row(before, chie.user.email)
    assert "(you)" in member_row(before, admin.user.email)
    assert "(you)" not in member_row(before, ben.user.email)

    User.objects.filter(pk=ben.user.pk).update(full_name="Ben Renamed")
    MembershipRole.objects.filter(membership=chie).delete()
    MembershipRole.objects.create(membership=chie, role=Role.GLOBAL_ADMIN)
    MembershipRole.objects.create(membership=chie, role=Role.USER_MANAGEMENT_ADMIN)
    Membership.objects.filter(pk=ben.pk).update(status=Membership.Status.DEACTIVATED)
    after = body_of(client.get(url))

    ben_row = member_row(after, ben.user.email)
    assert ">Ben Renamed</a>" in ben_row and "Ben Billing" not in after
    assert '<span class="badge badge--deactivated">Deactivated</span>' in ben_row
    assert "<td>Global admin, User management admin</td>" in member_row(after, chie.user.email)

    # The same rows for another member: "you" is on that member's own row only.
    client.force_login(chie.user)
    theirs = body_of(client.get(url))
    assert "(you)" in member_row(theirs, chie.user.email)
    assert "(you)" not in member_row(theirs, admin.user.email)


def test_an_invitation_shows_as_expired_once_its_time_is_past(client, admin):
    expires_at = timezone.now() + timedelta(hours=2)
    MembershipInvitationFactory(
        organization=admin.organization, email="late@example.com", expires_at=expires_at
    )
    client.force_login(admin.user)
    url = page_url("users", admin.organization)
    before = body_of(client.get(url))
    assert f"<td>{expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC</td>" in before
    assert "badge--expired" not in before

    with time_machine.travel(expires_at + timedelta(minutes=1)):
        after = body_of(client.get(url))

    assert '<td><span class="badge badge--expired">Expired</span></td>' in after
    assert ">Resend</button>" in after and ">Revoke</a>" in after
