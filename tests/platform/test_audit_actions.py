"""Every audit action the code writes is declared by its app, with a label in both languages; the history
of one object is served by its index."""

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection
from django.utils import translation

from accounts.roles import Role
from portal.audit.catalogue import action_choices, action_label, is_declared
from portal.audit.models import AuditEvent
from portal.audit.selectors import audit_history
from portal.audit.services import audit_record
from portal.invitations.audit import LINK_INVITATION_ACTIONS
from portal.invitations.models import LinkInvitation
from tests.factories.accounts import MembershipFactory

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = ("accounts", "portal", "enrollment", "providers", "customers", "commerce")
WRITERS = {"audit_record", "transition_apply"}


def written_actions(source: str) -> set[str]:
    """The literal ``action=`` values of calls to the audit writers in ``source``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        for keyword in node.keywords:
            if (keyword.arg == "action" and isinstance(keyword.value, ast.Constant) and name in WRITERS) or (
                keyword.arg == "action"
                and isinstance(keyword.value, ast.Constant)
                and "." in str(keyword.value.value)
            ):
                found.add(keyword.value.value)
    return found


def code_actions() -> dict[str, str]:
    actions = {}
    for package in PROJECT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for action in written_actions(path.read_text(encoding="utf-8")):
                actions[action] = str(path.relative_to(ROOT))
    for model in apps.get_models():
        if issubclass(model, LinkInvitation):
            for suffix in LINK_INVITATION_ACTIONS:
                actions[f"{model.AUDIT_PREFIX}.{suffix}"] = model._meta.label
    return actions


def test_the_scan_reads_literal_actions():
    source = (
        "audit_record(action='thing.done')\n"
        "transition_apply(x, 'y', action='thing.moved')\n"
        "f(action='plain')\n"
    )
    assert written_actions(source) == {"thing.done", "thing.moved"}


def test_every_action_the_code_writes_is_declared():
    actions = code_actions()
    assert "membership.roles_changed" in actions and "membership_invitation.superseded" in actions
    undeclared = {action: where for action, where in actions.items() if not is_declared(action)}
    assert undeclared == {}


def test_every_declared_action_reads_in_english_and_japanese():
    untranslated = []
    for action, english in action_choices():
        with translation.override("ja"):
            japanese = action_label(action)
        if english == action or japanese == english:
            untranslated.append(action)
    assert untranslated == []


@pytest.mark.django_db
def test_the_history_of_one_object_is_an_index_seek():
    member = MembershipFactory(roles=[Role.SALES_AGENT])
    other = MembershipFactory(organization=member.organization, roles=[Role.SALES_AGENT])
    for action, target in [
        ("membership.created", member),
        ("membership.created", other),
        ("membership.roles_changed", member),
    ]:
        audit_record(action=action, organization_id=member.organization_id, target=target)
    audit_record(action="membership.removed", organization_id=member.organization_id + 1, target=member)
    history = audit_history(organization_id=member.organization_id, target=member)
    assert [event.action for event in history] == ["membership.roles_changed", "membership.created"]
    # Give the planner statistics where the organization has many events about other objects (with an
    # empty or tiny table, walking the organization's time index costs the same and either plan wins).
    AuditEvent.objects.bulk_create(
        AuditEvent(
            action="membership.created",
            organization_id=member.organization_id,
            target_type="accounts.membership",
            target_id=f"other-{n}",
        )
        for n in range(3000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditevent")
        cursor.execute("SET enable_seqscan = off")
        fresh = audit_history(organization_id=member.organization_id, target=member)
        sql, params = fresh[:20].query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")
        # On PostgreSQL the table is partitioned by month: each partition has its copy of the index.
        cursor.execute("SELECT relid::regclass::text FROM pg_partition_tree('audit_target_history_idx')")
        index_and_partitions = {name for (name,) in cursor.fetchall()}
        # The partition that holds the rows (this month's) has statistics; the empty ones (next months,
        # DEFAULT) have none, and the planner may pick any index there: it reads nothing from them.
        cursor.execute("SELECT DISTINCT tableoid::regclass::text FROM audit_auditevent")
        holding = {name for (name,) in cursor.fetchall()}
    scans = re.findall(r" using (\S+) on (\S+)", plan)
    used = {index for index, table in scans if table in holding or table == "audit_auditevent"}
    assert used and used <= index_and_partitions, plan
    assert "Sort" not in plan.replace("Sort Key", "")
