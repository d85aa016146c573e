"""User management and the activity log read their first page, which nearly every visit is, through a query
compiled once per process (``portal.prepared``): it reads exactly what the page's queryset reads, the page
and its links are the ones ``keyset_page`` makes, and the page is the same whichever way it was read. The
filter form of a visit that sent no filters is not made at all, unless something reads it."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.http import QueryDict
from django.urls import reverse

from accounts import selectors
from accounts.forms import ActivityFilterForm, ActivityFilterValues, activity_action_choices
from accounts.models import Membership
from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.audit.services import audit_record
from portal.lists import DEFAULT_PAGE_SIZE, cursor_for, keyset_first_page, keyset_page
from tests.factories.accounts import MembershipFactory, MembershipInvitationFactory
from tests.support.pages import body_of

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def page_url(name: str, organization) -> str:
    return reverse(f"accounts:{name}", kwargs={"organization_public_id": organization.public_id})


def main_of(response) -> str:
    """The page's own part (the shell's language switcher links back to the URL, query included)."""
    return body_of(response).split('<main id="main"')[1].split("</main>")[0]


def _loaded(instance) -> dict:
    """The columns and annotations a row was read with (not the deferred ones)."""
    return {name: value for name, value in vars(instance).items() if name != "_state"}


@pytest.fixture
def admin():
    return MembershipFactory(roles=[Role.GLOBAL_ADMIN], user__full_name="Aiko Admin")


@pytest.fixture
def crowd(admin):
    """55 more members (more than a page), 23 pending invitations (more than a page), one revoked, and
    another organization's members and invitations, which no list of ``admin``'s may show."""
    organization = admin.organization
    for n in range(55):
        with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n), tick=False):
            MembershipFactory(
                organization=organization, roles=[Role.SALES_AGENT, Role.BILLING_ADMIN][: n % 3]
            )
    for n in range(23):
        MembershipInvitationFactory(
            organization=organization, email=f"invitee-{n:02}@example.com", invited_by=admin.user
        )
    MembershipInvitationFactory(
        organization=organization, email="a-revoked@example.com", status="revoked", invited_by=admin.user
    )
    other = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    MembershipInvitationFactory(organization=other.organization, email="a-stranger@example.com")
    return admin


def test_the_first_members_are_the_ones_the_members_queryset_reads(crowd):
    organization = crowd.organization
    for count in (1, 51, 100):
        prepared = selectors.member_rows_first(organization, count=count)
        orm = list(
            selectors.member_rows(selectors.organization_members(organization=organization)).order_by(
                *selectors.MEMBERS_ORDERING
            )[:count]
        )
        assert [_loaded(row) for row in prepared] == [_loaded(row) for row in orm]
        assert len(prepared) == min(count, 56)
        assert prepared[0].get_deferred_fields() == orm[0].get_deferred_fields()
    ours = set(Membership.objects.filter(organization=organization).values_list("pk", flat=True))
    assert {row.pk for row in selectors.member_rows_first(organization, count=100)} == ours


def test_the_roles_of_a_page_of_members_are_read_in_the_catalogues_order(crowd):
    members = list(Membership.objects.filter(organization=crowd.organization).prefetch_related("roles"))
    codes = selectors.member_role_codes(members)
    assert codes == {member.pk: member.role_names for member in members}
    assert codes[crowd.pk] == [Role.GLOBAL_ADMIN]
    assert {tuple(held) for held in codes.values()} == {
        (Role.GLOBAL_ADMIN,),
        (),
        (Role.SALES_AGENT,),
        (Role.BILLING_ADMIN, Role.SALES_AGENT),
    }
    assert selectors.member_role_codes([]) == {}


def test_the_first_invitations_are_the_ones_the_invitations_queryset_reads(crowd):
    organization = crowd.organization
    for count in (1, 21, 50):
        prepared = selectors.organization_invitations_pending_first(organization, count=count)
        orm = list(selectors.organization_invitations_pending(organization=organization)[:count])
        assert [_loaded(row) for row in prepared] == [_loaded(row) for row in orm]
        assert len(prepared) == min(count, 23)
    emails = [row.email for row in selectors.organization_invitations_pending_first(organization, count=50)]
    assert emails == [f"invitee-{n:02}@example.com" for n in range(23)]


def test_the_newest_events_are_the_ones_the_activity_queryset_reads(admin):
    organization = admin.organization
    for n in range(60):
        with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=n % 40), tick=False):
            audit_record(
                action="membership.created",
                organization=organization,
                actor=admin.user if n % 2 else None,
                after={"acting_partner": "Contoso KK"} if n % 3 == 0 else {},
            )
    audit_record(action="membership.created", organization=MembershipFactory().organization)
    for count in (1, 51, 100):
        prepared = selectors.activity_rows_first(organization, count=count)
        orm = list(selectors.activity_rows(selectors.activity_events(organization=organization))[:count])
        assert [_loaded(row) for row in prepared] == [_loaded(row) for row in orm]
        assert len(prepared) == min(count, 60)
        assert {row.acting_partner for row in prepared} <= {"Contoso KK", None}
    assert AuditEvent.objects.exclude(organization_id=organization.pk).exists()


@pytest.mark.parametrize("query", ["", "invitations_after=somewhere", "date_from=&action=", "after=&before="])
def test_the_first_members_page_is_the_one_keyset_page_makes(crowd, query):
    organization = crowd.organization
    query = QueryDict(query)
    with time_machine.travel(NOW, tick=False):  # the cursors are signed with the time
        prepared = keyset_first_page(
            selectors.member_rows_first(organization, count=DEFAULT_PAGE_SIZE + 1),
            ordering=selectors.MEMBERS_ORDERING,
            query=query,
        )
        orm = keyset_page(
            selectors.member_rows(selectors.organization_members(organization=organization)),
            ordering=selectors.MEMBERS_ORDERING,
            query=query,
        )
    assert [_loaded(row) for row in prepared.object_list] == [_loaded(row) for row in orm.object_list]
    assert (prepared.next_query, prepared.previous_query, prepared.first_query) == (
        orm.next_query,
        orm.previous_query,
        orm.first_query,
    )
    assert prepared.next_query is not None


@pytest.mark.parametrize("query", ["", "after=somewhere", "invitations_after=&invitations_before="])
def test_the_first_invitations_page_is_the_one_keyset_page_makes(crowd, query):
    organization = crowd.organization
    query = QueryDict(query)
    size = selectors.INVITATIONS_PAGE_SIZE
    with time_machine.travel(NOW, tick=False):  # the cursors are signed with the time
        prepared = keyset_first_page(
            selectors.organization_invitations_pending_first(organization, count=size + 1),
            ordering=selectors.INVITATIONS_ORDERING,
            query=query,
            size=size,
            prefix="invitations_",
        )
        orm = keyset_page(
            selectors.organization_invitations_pending(organization=organization),
            ordering=selectors.INVITATIONS_ORDERING,
            query=query,
            size=size,
            prefix="invitations_",
        )
        cursor = cursor_for(orm.object_list[-1], ordering=selectors.INVITATIONS_ORDERING)
    assert [_loaded(row) for row in prepared.object_list] == [_loaded(row) for row in orm.object_list]
    assert len(prepared.object_list) == size
    assert (prepared.next_query, prepared.previous_query, prepared.first_query) == (
        orm.next_query,
        orm.previous_query,
        orm.first_query,
    )
    assert QueryDict(prepared.next_query)["invitations_after"] == cursor
    assert QueryDict(prepared.next_query).get("after") == query.get("after")


def test_a_first_page_of_invitations_without_more_links_nowhere(admin):
    MembershipInvitationFactory(organization=admin.organization, email="only@example.com")
    page = keyset_first_page(
        selectors.organization_invitations_pending_first(admin.organization, count=21),
        ordering=selectors.INVITATIONS_ORDERING,
        query=QueryDict("after=x"),
        size=20,
        prefix="invitations_",
    )
    assert [row.email for row in page.object_list] == ["only@example.com"]
    assert (page.next_query, page.previous_query, page.first_query) == (None, None, None)


def test_user_management_is_the_same_page_read_either_way(client, crowd):
    """A forged cursor of one list is ignored (the first page, read by the queryset); the page is then the
    one the compiled query read, links included."""
    client.force_login(crowd.user)
    url = page_url("users", crowd.organization)
    with time_machine.travel(NOW, tick=False):
        prepared = main_of(client.get(url))
        members_by_orm = main_of(client.get(url + "?after=forged"))
        invitations_by_orm = main_of(client.get(url + "?invitations_after=forged"))
    assert members_by_orm == prepared.replace(
        'href="?invitations_after=', 'href="?after=forged&amp;invitations_after='
    )
    assert invitations_by_orm == prepared.replace(
        'href="?after=', 'href="?invitations_after=forged&amp;after='
    )
    assert prepared.count('rel="next"') == 2 and "a-revoked@example.com" not in prepared


def test_the_activity_log_is_the_same_page_read_either_way(client, admin):
    for n in range(55):
        with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=n), tick=False):
            audit_record(action="membership.created", organization=admin.organization, actor=admin.user)
    client.force_login(admin.user)
    url = page_url("activity", admin.organization)
    with time_machine.travel(NOW, tick=False):
        prepared = main_of(client.get(url))
        empty_filters = main_of(client.get(url + "?date_from=&date_to=&action=&user="))
        by_orm = main_of(client.get(url + "?after=forged"))
    assert prepared.count('<td class="nowrap">2026-03-01') == 50 and 'rel="next"' in prepared
    # the same rows; the filters sent (all empty) are kept in the next page's link, as they were before
    assert (
        empty_filters.split("<tbody>")[1].split("</tbody>")[0]
        == prepared.split("<tbody>")[1].split("</tbody>")[0]
    )
    assert 'href="?date_from=&amp;date_to=&amp;action=&amp;user=&amp;after=' in empty_filters
    assert by_orm == prepared


def test_the_activity_log_without_filters_does_not_make_its_form_but_gives_it_to_whoever_reads_it(
    client, admin
):
    assert ActivityFilterValues.unbound() == ActivityFilterValues.of(
        ActivityFilterForm(actions=activity_action_choices("en"))
    )
    admin.user.preferred_language = "ja"
    admin.user.save(update_fields=["preferred_language"])
    client.force_login(admin.user)
    response = client.get(page_url("activity", admin.organization))
    assert response.context["filter_values"] == ActivityFilterValues.unbound()
    form = response.context["form"]
    assert not form.is_bound
    # made in the member's language, whatever language is active when it is read
    assert dict(form.fields["action"].choices)[""] == "すべての操作"


def test_the_export_link_is_printed_for_those_who_may_export_only(client, admin):
    """Export CSV is printed in a memo: a member who may not export never sees it, even right after one
    who may, and it keeps the filters of the page it is on."""
    viewer = MembershipFactory(organization=admin.organization, roles=[Role.USER_MANAGEMENT_ADMIN])
    audit_record(action="membership.created", organization=admin.organization, actor=admin.user)
    activity = page_url("activity", admin.organization)
    export = reverse(
        "accounts:activity_export", kwargs={"organization_public_id": admin.organization.public_id}
    )
    invite = reverse("accounts:user_invite", kwargs={"organization_public_id": admin.organization.public_id})
    for _ in range(2):
        client.force_login(admin.user)
        assert f'href="{export}">Export CSV</a>' in body_of(client.get(activity))
        filtered = body_of(client.get(activity, {"action": "membership.created"}))
        assert f'href="{export}?action=membership.created">Export CSV</a>' in filtered
        client.force_login(viewer.user)
        assert "Export CSV" not in body_of(client.get(activity))
        assert f'href="{invite}">Add user</a>' in body_of(client.get(page_url("users", admin.organization)))
    wrong = body_of(client.get(activity, {"date_from": "never"}), status=400)
    assert "Export CSV" not in wrong
    client.force_login(admin.user)
    assert "Export CSV" not in body_of(client.get(activity, {"date_from": "never"}), status=400)
