"""Activity log: the organization's own events, newest first, filtered, paginated, exported."""

import csv
import io
import json
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from portal.audit.services import audit_record
from tests.factories.accounts import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return MembershipFactory(roles=[Role.GLOBAL_ADMIN])


def url(admin, name="accounts:activity"):
    return reverse(name, kwargs={"organization_public_id": admin.organization.public_id})


def event_at(when: str, *, action: str, organization, actor=None):
    with time_machine.travel(datetime.fromisoformat(when).replace(tzinfo=UTC), tick=False):
        return audit_record(action=action, organization=organization, actor=actor)


def test_only_this_organizations_events_newest_first(client, admin):
    other = OrganizationFactory()
    event_at("2026-01-01T10:00", action="first.thing", organization=admin.organization)
    event_at("2026-01-02T10:00", action="second.thing", organization=admin.organization)
    event_at("2026-01-03T10:00", action="foreign.thing", organization=other)
    client.force_login(admin.user)
    events = list(client.get(url(admin)).context["page"].object_list)
    actions = [e.action for e in events]
    assert actions.index("second.thing") < actions.index("first.thing")
    assert "foreign.thing" not in actions


def test_filters_by_date_action_and_user(client, admin):
    colleague = MembershipFactory(organization=admin.organization, roles=[Role.SALES_AGENT])
    event_at("2026-01-01T10:00", action="customer.invited", organization=admin.organization, actor=admin.user)
    event_at(
        "2026-02-01T10:00", action="customer.invited", organization=admin.organization, actor=colleague.user
    )
    event_at("2026-02-02T10:00", action="user.changed", organization=admin.organization, actor=colleague.user)
    client.force_login(admin.user)
    response = client.get(
        url(admin),
        {
            "date_from": "2026-01-15",
            "date_to": "2026-02-28",
            "action": "customer.invited",
            "user": colleague.user.pk,
        },
    )
    events = list(response.context["page"].object_list)
    assert [(e.action, e.actor_id) for e in events] == [("customer.invited", colleague.user.pk)]


def test_bad_filter_input_is_explained_at_the_field(client, admin):
    client.force_login(admin.user)
    response = client.get(url(admin), {"date_from": "2026-03-01", "date_to": "2026-02-01", "action": "nope"})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors["date_to"] == ["The end date must be on or after the start date."]
    assert "action" in errors


@pytest.mark.parametrize(
    "filters",
    [
        {"date_from": "2026-03-01", "date_to": "2026-02-01"},
        {"date_from": "2026-02-31"},
        {"action": "no.such.action"},
        {"user": "999999"},
    ],
)
def test_invalid_filters_list_nothing_and_export_nothing(client, admin, filters):
    event_at("2026-02-15T10:00", action="customer.invited", organization=admin.organization, actor=admin.user)
    client.force_login(admin.user)

    response = client.get(url(admin), filters)
    assert response.status_code == 400
    assert response.context["page"] is None
    body = response.content.decode()
    assert '<code class="muted">customer.invited</code>' not in body
    assert "<table" not in body
    assert "Correct the filters marked below to see the activity log." in body
    assert "Nothing is listed until the filters are corrected." in body
    assert "Export CSV" not in body  # no link to export what the page cannot show

    export = client.get(url(admin, "accounts:activity_export"), filters)
    assert export.status_code == 400
    assert not export.streaming
    assert export["Content-Type"].startswith("text/html")
    assert "<table" not in export.content.decode()
    assert "Correct the filters marked below to see the activity log." in export.content.decode()


def test_a_reversed_date_range_is_marked_at_its_field(client, admin):
    client.force_login(admin.user)
    body = client.get(url(admin), {"date_from": "2026-03-01", "date_to": "2026-02-01"}).content.decode()
    assert 'aria-invalid="true"' in body
    assert 'aria-describedby="id_date_to_error"' in body
    assert '<input type="date" name="date_to" value="2026-02-01"' in body
    error = "<p>The end date must be on or after the start date.</p>"
    assert f'<div class="field__errors" id="id_date_to_error">{error}' in body


def read_csv(response) -> list[list[str]]:
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())  # the UTF-8 byte-order mark that spreadsheet programs need
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_csv_starts_with_a_byte_order_mark_and_shows_changes_as_json(client, admin):
    audit_record(
        action="membership.roles_changed",
        organization=admin.organization,
        actor=admin.user,
        before={"roles": ["sales_agent"], "name": "株式会社ファブリカム"},
        after={"roles": ["billing_admin", "sales_agent"], "active": True, "note": None},
    )
    client.force_login(admin.user)
    response = client.get(url(admin, "accounts:activity_export"))
    assert response.status_code == 200
    rows = read_csv(response)
    assert rows[0] == [
        "time_utc", "action", "action_label", "actor", "target_type", "target",
        "request_id", "ip", "before", "after",
    ]  # fmt: skip
    row = next(row for row in rows[1:] if row[1] == "membership.roles_changed")
    assert row[8] == '{"name": "株式会社ファブリカム", "roles": ["sales_agent"]}'
    assert row[9] == '{"active": true, "note": null, "roles": ["billing_admin", "sales_agent"]}'
    assert json.loads(row[9]) == {"active": True, "note": None, "roles": ["billing_admin", "sales_agent"]}


def test_query_count_is_constant(client, admin):
    client.force_login(admin.user)
    for n in range(5):
        audit_record(action=f"thing.{n}", organization=admin.organization, actor=admin.user)
    client.get(url(admin))
    with CaptureQueriesContext(connection) as few:
        client.get(url(admin))
    for n in range(120):
        audit_record(action=f"thing.{n % 7}", organization=admin.organization, actor=admin.user)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url(admin) + "?page=2")
    assert len(many) == len(few)
    assert len(response.context["page"].object_list) == 50


def test_csv_export_neutralises_spreadsheet_formulas(client, admin):
    hostile = OrganizationFactory()
    audit_record(
        action="organization.renamed",
        organization=admin.organization,
        actor=admin.user,
        target=hostile,
        after={"legal_name": '=HYPERLINK("http://evil")'},
    )
    hostile.legal_name = "=cmd|' /C calc'!A0"
    audit_record(action="organization.viewed", organization=admin.organization, target=hostile)
    client.force_login(admin.user)
    response = client.get(url(admin, "accounts:activity_export"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = read_csv(response)
    assert rows[0][:4] == ["time_utc", "action", "action_label", "actor"]
    cells = [cell for row in rows[1:] for cell in row]
    assert all(not cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert "'=cmd|' /C calc'!A0" in cells


def test_export_needs_its_own_permission(client, admin):
    agent = MembershipFactory(organization=admin.organization, roles=[Role.ADMIN_AGENT])
    client.force_login(agent.user)
    assert client.get(url(agent)).status_code == 200
    assert client.get(url(agent, "accounts:activity_export")).status_code == 403


def test_actions_read_as_words_in_both_languages(client, admin):
    audit_record(action="membership.roles_changed", organization=admin.organization, actor=admin.user)
    client.force_login(admin.user)
    english = client.get(url(admin)).content.decode()
    assert "Roles changed" in english
    admin.user.preferred_language = "ja"
    admin.user.save()
    japanese = client.get(url(admin)).content.decode()
    assert "ロールの変更" in japanese
    assert "membership.roles_changed" in japanese  # the code stays visible for support and exports


def test_an_unreadable_date_stays_visible_next_to_its_error(client, admin):
    client.force_login(admin.user)
    body = client.get(url(admin), {"date_from": "2026-02-31", "date_to": "2026-03-01"}).content.decode()
    assert '<input type="text" name="date_from" value="2026-02-31"' in body
    assert '<input type="date" name="date_to" value="2026-03-01"' in body
    assert '<div class="field__errors" id="id_date_from_error"><p>Enter a valid date.</p>' in body
