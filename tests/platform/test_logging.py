import json
import logging

import pytest

from portal import request_context
from portal.logging import JsonFormatter, RequestContextFilter, TextFormatter, redact


def test_json_log_lines_carry_the_request_id():
    request_context.bind(request_id="abc123def456", ip="198.51.100.4")
    try:
        record = logging.makeLogRecord(
            {
                "name": "portal",
                "levelname": "INFO",
                "msg": "Sent %s",
                "args": ("x",),
                "outbox_id": "42",
            }
        )
        RequestContextFilter().filter(record)
        entry = json.loads(JsonFormatter().format(record))
    finally:
        request_context.clear()
    assert entry["message"] == "Sent x"
    assert entry["request_id"] == "abc123def456"
    assert entry["level"] == "INFO"
    assert entry["outbox_id"] == "42"
    assert entry["time"].endswith("+00:00")


TOKEN = "q3Vd-_x9Lr0T2bYkA7mPzW4nH8sJ1cEfG5uI6oKaBcD"  # the shape of an invitation token


@pytest.mark.parametrize(
    ("line", "redacted"),
    [
        (
            f'"GET /invitations/membership/{TOKEN}/ HTTP/1.1" 302',
            '"GET /invitations/membership/[redacted]/ HTTP/1.1" 302',
        ),
        (
            f"Not Found: /invitations/membership/{TOKEN}/x/",
            "Not Found: /invitations/membership/[redacted]/x/",
        ),
        (f"GET /invitations/customer/{TOKEN}", "GET /invitations/customer/[redacted]"),
        (
            f"<WSGIRequest: GET '/invitations/partnership/{TOKEN}/'>",
            "<WSGIRequest: GET '/invitations/partnership/[redacted]/'>",
        ),
        # The token-free invitation pages stay readable.
        ("POST /invitations/membership/accept/ 302", "POST /invitations/membership/accept/ 302"),
        ("POST /invitations/membership/decline/", "POST /invitations/membership/decline/"),
        ("GET /invitations/membership/ 200", "GET /invitations/membership/ 200"),
        (
            "/accounts/password/reset/key/1a-cbx4zq-9f8e7d6c5b4a39281706f5e4d3c2b1a0/",
            "/accounts/password/reset/key/[redacted]/",
        ),
        ("/accounts/password/reset/key/1a-set-password/", "/accounts/password/reset/key/1a-set-password/"),
        ("/accounts/confirm-email/MQ:1tQabc:Zx9y-8W7v/", "/accounts/confirm-email/[redacted]/"),
        ("/accounts/confirm-email/", "/accounts/confirm-email/"),
        (
            f"/accounts/login/?next=/invitations/membership/{TOKEN}/",
            "/accounts/login/?next=/invitations/membership/[redacted]/",
        ),
        (
            f"/accounts/login/?next=%2Finvitations%2Fmembership%2F{TOKEN}%2F&x=1",
            "/accounts/login/?next=%2Finvitations%2Fmembership%2F[redacted]%2F&x=1",
        ),
        ("/callback/?code=0.AbC-dEf&state=xyz", "/callback/?code=[redacted]&state=xyz"),
        ("/x/?a=1&token=s3cr3t#top", "/x/?a=1&token=[redacted]#top"),
        ("/x/?Reset_Key=s3cr3t&KEY=k", "/x/?Reset_Key=[redacted]&KEY=[redacted]"),
        ("/x/?postcode=100-0001&page=2", "/x/?postcode=100-0001&page=2"),
    ],
)
def test_redact_hides_link_secrets_and_keeps_the_rest(line, redacted):
    assert redact(line) == redacted


def log_record(message: str, **extra) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {
            "name": "django.request",
            "levelname": "WARNING",
            "msg": "Not Found: %s",
            "args": (message,),
            **extra,
        }
    )
    RequestContextFilter().filter(record)
    return record


def test_text_lines_are_redacted():
    formatter = TextFormatter("%(levelname)s %(name)s [%(request_id)s] %(message)s")
    line = formatter.format(log_record(f"/invitations/membership/{TOKEN}/nothing/"))
    assert line == "WARNING django.request [-] Not Found: /invitations/membership/[redacted]/nothing/"


def test_json_lines_are_redacted_in_every_field_and_stay_json():
    class Request:
        def __repr__(self):
            return f"<WSGIRequest: GET '/invitations/membership/{TOKEN}/nothing/'>"

    line = JsonFormatter().format(
        log_record(f"/invitations/membership/{TOKEN}/nothing/", status_code=404, request=Request())
    )
    assert TOKEN not in line
    entry = json.loads(line)
    assert entry["message"] == "Not Found: /invitations/membership/[redacted]/nothing/"
    assert entry["request"] == "<WSGIRequest: GET '/invitations/membership/[redacted]/nothing/'>"
    assert entry["status_code"] == 404


def test_the_configured_text_format_redacts(settings):
    """The formatter that settings.LOGGING names for text lines is the redacting one."""
    assert settings.LOGGING["formatters"]["text"]["()"] == "portal.logging.TextFormatter"
    assert settings.LOGGING["formatters"]["json"]["()"] == "portal.logging.JsonFormatter"
