import pytest
from django.urls import reverse
from kombu import Connection

from portal.celery import app as celery_app

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_login(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_checks_database_and_broker(client):
    response = client.get(reverse("readyz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_readyz_is_unavailable_when_the_broker_is_unreachable(client, monkeypatch):
    # A broker nobody listens on, in place of the configured one.
    monkeypatch.setattr(
        celery_app, "connection_for_write", lambda *args, **kwargs: Connection("redis://127.0.0.1:1/0")
    )
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "error"},
    }
