"""The transition helper, the status constraints built from the choices, and the rule that only an app's
services write a status."""

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction

from accounts.models import Membership, MembershipStatus, Organization
from accounts.roles import Role
from accounts.transitions import MEMBERSHIP_STATUS, ORGANIZATION_STATUS
from portal.audit.models import AuditEvent
from portal.errors import InvalidTransition
from portal.invitations.models import LINK_INVITATION_STATUS, LinkInvitationStatus
from portal.transitions import Transitions, transition_apply, transition_claim
from tests.factories.accounts import MembershipFactory, MembershipInvitationFactory, OrganizationFactory

# --- the table ---------------------------------------------------------------------------------------


def test_a_table_allows_exactly_its_moves():
    assert MEMBERSHIP_STATUS.allows("active", "deactivated")
    assert MEMBERSHIP_STATUS.allows("deactivated", "active")
    assert not MEMBERSHIP_STATUS.allows("active", "active")
    assert LINK_INVITATION_STATUS.sources_of("accepted") == {"pending"}
    for final in ("accepted", "declined", "revoked", "expired"):
        assert not any(LINK_INVITATION_STATUS.allows(final, other) for other in LinkInvitationStatus.values)


def test_a_table_naming_an_unknown_status_is_refused_when_declared():
    with pytest.raises(ValueError, match="lacks"):
        Transitions(MembershipStatus, {MembershipStatus.ACTIVE: {"archived"}})


def test_a_refused_move_names_both_statuses_in_words():
    with pytest.raises(InvalidTransition) as refused:
        ORGANIZATION_STATUS.check("active", "active")
    assert (refused.value.current, refused.value.requested) == ("Active", "Active")
    assert refused.value.code == "invalid_transition"


# --- the helpers ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_transition_apply_saves_only_the_status_and_writes_before_and_after():
    membership = MembershipFactory(roles=[Role.SALES_AGENT])
    # A stale in-memory copy must not be written back: only the status column is saved.
    Organization.objects.filter(pk=membership.organization_id).update(legal_name="Renamed KK")
    membership.organization.legal_name = "Stale KK"
    moved = transition_apply(
        membership,
        MembershipStatus.DEACTIVATED,
        transitions=MEMBERSHIP_STATUS,
        action="membership.deactivated",
        organization_id=membership.organization_id,
    )
    assert moved.status == "deactivated"
    assert Membership.objects.get(pk=membership.pk).status == "deactivated"
    assert Organization.objects.get(pk=membership.organization_id).legal_name == "Renamed KK"
    event = AuditEvent.objects.get(action="membership.deactivated", target_id=str(membership.public_id))
    assert (event.before, event.after) == ({"status": "active"}, {"status": "deactivated"})


@pytest.mark.django_db
def test_transition_apply_reads_the_status_under_the_lock_not_from_the_stale_object():
    membership = MembershipFactory(roles=[Role.SALES_AGENT])
    Membership.objects.filter(pk=membership.pk).update(status=MembershipStatus.DEACTIVATED)
    events = AuditEvent.objects.count()
    with pytest.raises(InvalidTransition):
        transition_apply(
            membership,  # still says "active" in memory
            MembershipStatus.DEACTIVATED,
            transitions=MEMBERSHIP_STATUS,
            action="membership.deactivated",
        )
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_transition_claim_moves_a_row_for_exactly_one_caller():
    invitation = MembershipInvitationFactory()
    model = type(invitation)
    claim = {"transitions": LINK_INVITATION_STATUS, "changes": {"reason": "first"}}
    assert transition_claim(model, invitation.pk, "pending", "declined", **claim) is True
    assert transition_claim(model, invitation.pk, "pending", "revoked", **claim) is False
    invitation.refresh_from_db()
    assert (invitation.status, invitation.reason) == ("declined", "first")
    with pytest.raises(InvalidTransition):
        transition_claim(model, invitation.pk, "declined", "accepted", transitions=LINK_INVITATION_STATUS)


# --- the database ---------------------------------------------------------------------------------------


def _status_models():
    for model in apps.get_models():
        field = next((f for f in model._meta.get_fields() if f.name == "status" and f.concrete), None)
        if field is not None and field.choices:
            yield model, field


def test_every_status_column_has_a_check_constraint_built_from_its_choices():
    missing = []
    for model, field in _status_models():
        values = sorted(value for value, _label in field.choices)
        conditions = [c.condition for c in model._meta.constraints if getattr(c, "condition", None)]
        matching = [
            condition
            for condition in conditions
            for child in condition.children
            if isinstance(child, tuple) and child[0] == "status__in" and sorted(child[1]) == values
        ]
        if not matching:
            missing.append(model._meta.label)
    assert missing == []


def test_no_model_copies_a_status_list_by_hand():
    """Constraints come from ``status_constraint(label, Status)``, never from a list of literals."""
    copied = []
    for package in PROJECT_PACKAGES:
        # models.py, or an app's models/ package
        model_files = [
            path
            for path in (ROOT / package).rglob("*.py")
            if "migrations" not in path.parts and (path.name == "models.py" or "models" in path.parts)
        ]
        for path in sorted(model_files):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.keyword)
                    and (node.arg or "").endswith("status__in")
                    and isinstance(node.value, ast.List | ast.Tuple | ast.Set)
                ):
                    copied.append(f"{path.relative_to(ROOT)}:{node.value.lineno}")
    assert copied == []


@pytest.mark.django_db
def test_the_database_refuses_an_unknown_status():
    organization = OrganizationFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE accounts_organization SET status = 'archived' WHERE id = %s", [organization.pk]
            )


# --- the rule: status is written by services only --------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = ("accounts", "portal", "enrollment", "providers", "customers", "commerce")
WRITING_METHODS = {"update", "create", "get_or_create", "update_or_create", "bulk_create"}


def _writer_allowed(path: Path) -> bool:
    relative = path.relative_to(ROOT)
    return (
        relative.name == "services.py"
        or "services" in relative.parts[:-1]
        or relative.as_posix() == "portal/transitions.py"
    )


def status_writes(source: str) -> list[int]:
    """Line numbers where ``source`` assigns a status: ``x.status = …``, ``.update(status=…)`` and other
    writing calls with a ``status`` keyword, ``setattr(x, "status", …)``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Attribute) and t.attr == "status" for t in targets):
            lines.append(node.lineno)
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in WRITING_METHODS and any(k.arg == "status" for k in node.keywords):
                lines.append(node.lineno)
            if (
                name == "setattr"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value == "status"
            ):
                lines.append(node.lineno)
    return lines


def test_the_scan_finds_every_way_of_writing_a_status():
    source = (
        "obj.status = 'x'\n"
        "Model.objects.filter(pk=1).update(status='x')\n"
        "Model.objects.create(status='x')\n"
        "setattr(obj, 'status', 'x')\n"
        "Model.objects.filter(status='x')\n"  # a read
        "status = 'x'\n"  # a local name
    )
    assert status_writes(source) == [1, 2, 3, 4]


def test_only_services_write_a_status():
    offenders = []
    for package in PROJECT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts or _writer_allowed(path):
                continue
            for line in status_writes(path.read_text(encoding="utf-8")):
                offenders.append(f"{path.relative_to(ROOT)}:{line}")
    assert offenders == [], "Status written outside an app's services: " + ", ".join(offenders)
