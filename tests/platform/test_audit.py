"""Audit events: written by one service, carrying who/what/where, and never changed afterwards."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from portal.audit.models import AppendOnlyError, AuditEvent
from portal.audit.services import audit_record
from tests.factories.accounts import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_audit_record_captures_actor_target_and_change():
    user = UserFactory(email="ann@example.com")
    event = audit_record(
        action="user.profile_updated",
        actor=user,
        organization_id=42,
        target=user,
        before={"preferred_language": "en"},
        after={"preferred_language": "ja"},
    )
    event.refresh_from_db()
    assert event.actor == user
    assert event.actor_label == "ann@example.com"
    assert event.organization_id == 42
    assert event.target_type == "accounts.user"
    assert event.target_id == str(user.pk)
    assert event.target_label == "ann@example.com"
    assert event.before == {"preferred_language": "en"}
    assert event.after == {"preferred_language": "ja"}
    assert event.occurred_at.tzinfo is not None


def test_audit_from_a_request_carries_its_request_id_and_ip(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        reverse("profile"),
        {"full_name": "Ann Example", "preferred_language": "ja"},
        HTTP_X_REQUEST_ID="req-1234567890",
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 302
    assert response["X-Request-ID"] == "req-1234567890"
    event = AuditEvent.objects.get(action="user.profile_updated")
    assert event.request_id == "req-1234567890"
    assert event.ip == "203.0.113.9"
    assert event.after == {"full_name": "Ann Example", "preferred_language": "ja"}


def test_an_unsafe_incoming_request_id_is_replaced(client):
    response = client.get(reverse("healthz"), HTTP_X_REQUEST_ID="bad id\r\nX-Evil: 1")
    assert response["X-Request-ID"] != "bad id\r\nX-Evil: 1"
    assert len(response["X-Request-ID"]) == 32


def test_audit_events_cannot_be_changed_or_deleted_through_the_model():
    event = audit_record(action="test.happened")
    event.action = "test.rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.happened"


def test_the_database_refuses_to_change_or_delete_audit_events():
    assert connection.vendor == "postgresql", "the test command runs on PostgreSQL"
    event = audit_record(action="test.happened")
    for statement in (
        "UPDATE audit_auditevent SET action = 'test.rewritten' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.happened"


def test_queryset_update_is_refused_on_postgresql():
    assert connection.vendor == "postgresql", "the test command runs on PostgreSQL"
    event = audit_record(action="test.happened")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="test.rewritten")
    assert AuditEvent.objects.get(pk=event.pk).action == "test.happened"


def test_admin_shows_audit_events_read_only(client):
    staff = StaffFactory(is_superuser=True)
    event = audit_record(action="test.happened", actor=staff)
    client.force_login(staff)

    changelist = client.get(reverse("admin:audit_auditevent_changelist"))
    assert changelist.status_code == 200
    assert "test.happened" in changelist.content.decode()

    detail = client.get(reverse("admin:audit_auditevent_change", args=[event.pk]))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()

    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    response = client.post(reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()
