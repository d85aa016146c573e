"""No link secret in any log line. A real gunicorn, started with the repository's gunicorn.conf.py, serves
requests whose URLs carry invitation tokens, password-reset and confirmation keys and secret query
parameters; its access log, its error log and the portal's own lines (text and JSON) are read back."""

import json
import secrets

import pytest
import requests

from tests.support.processes import Gunicorn, shared_database_url


def new_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies or CA bundles from this machine's environment
    return session


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_link_secrets_never_reach_the_logs(tmp_path, log_format):
    invitation = secrets.token_urlsafe(32)
    other_invitation = secrets.token_urlsafe(32)
    reset_key = f"cbx4zq-{secrets.token_hex(16)}"
    confirmation_key = f"MQ:1tQabc:{secrets.token_urlsafe(20)}"
    query_token = secrets.token_urlsafe(16)
    raw_secrets = [invitation, other_invitation, reset_key, confirmation_key, query_token]

    env = {"DATABASE_URL": shared_database_url(), "LOG_FORMAT": log_format}
    with Gunicorn(env, tmp_path) as server:
        session = new_session()
        # The invitation link, opened from a page whose URL held a reset key (the Referer).
        landing = session.get(
            f"{server.url}/invitations/membership/{invitation}/",
            headers={"Referer": f"https://portal.test/accounts/password/reset/key/1a-{reset_key}/"},
            allow_redirects=False,
        )
        assert (landing.status_code, landing.headers["Location"]) == (302, "/invitations/membership/")
        session.get(f"{server.url}/accounts/login/")
        # POST to the landing: a 405 with Django's "Method Not Allowed (POST): <path>" warning.
        not_allowed = session.post(
            f"{server.url}/invitations/membership/{invitation}/",
            headers={"X-CSRFToken": session.cookies["csrftoken"]},
        )
        assert not_allowed.status_code == 405
        # The same without a CSRF cookie: a 403 with "Forbidden (CSRF cookie not set.): <path>".
        assert new_session().post(f"{server.url}/invitations/membership/{invitation}/").status_code == 403
        # Below a token: a 404 with "Not Found: <path>".
        not_found = new_session().get(f"{server.url}/invitations/membership/{invitation}/nothing/")
        assert not_found.status_code == 404
        new_session().get(f"{server.url}/accounts/password/reset/key/1a-{reset_key}/")
        new_session().get(f"{server.url}/accounts/confirm-email/{confirmation_key}/")
        signin = new_session().get(
            f"{server.url}/accounts/login/",
            params={"next": f"/invitations/membership/{other_invitation}/", "token": query_token},
        )
        assert signin.status_code == 200

    access_log, errors = server.stdout, server.stderr
    for secret in raw_secrets:
        assert secret not in access_log
        assert secret not in errors

    # gunicorn's access log: each line redacted, the request id at its end.
    assert (
        '"GET /invitations/membership/[redacted]/ HTTP/1.1" 302 0 '
        '"https://portal.test/accounts/password/reset/key/[redacted]/" "python-requests/'
    ) in access_log
    for request_line, status in [
        ("POST /invitations/membership/[redacted]/", 405),
        ("POST /invitations/membership/[redacted]/", 403),
        ("GET /invitations/membership/[redacted]/nothing/", 404),
        ("GET /accounts/password/reset/key/[redacted]/", 200),
        ("GET /accounts/confirm-email/[redacted]/", 404),
        (
            "GET /accounts/login/?next=%2Finvitations%2Fmembership%2F[redacted]%2F&token=[redacted]",
            200,
        ),
    ]:
        assert f'"{request_line} HTTP/1.1" {status} ' in access_log
    not_found_line = next(line for line in access_log.splitlines() if "/nothing/" in line)
    assert not_found_line.endswith(f"ms {not_found.headers['X-Request-ID']}")

    # Django's own warnings about those requests.
    warnings = {
        "django.request": [
            "Method Not Allowed (POST): /invitations/membership/[redacted]/",
            "Not Found: /invitations/membership/[redacted]/nothing/",
        ],
        "django.security.csrf": ["Forbidden (CSRF cookie not set.): /invitations/membership/[redacted]/"],
    }
    if log_format == "text":
        for logger, messages in warnings.items():
            for message in messages:
                assert f"WARNING {logger} [" in errors
                assert f"] {message}\n" in errors
        assert (
            f"WARNING django.request [{not_found.headers['X-Request-ID']}] "
            "Not Found: /invitations/membership/[redacted]/nothing/\n"
        ) in errors
    else:
        entries = [json.loads(line) for line in errors.splitlines() if line.startswith("{")]
        logged = {(entry["logger"], entry["message"]) for entry in entries}
        for logger, messages in warnings.items():
            for message in messages:
                assert (logger, message) in logged
        entry = next(entry for entry in entries if entry["message"].startswith("Not Found: "))
        assert entry["request"] == "<WSGIRequest: GET '/invitations/membership/[redacted]/nothing/'>"
        assert entry["status_code"] == 404
        assert entry["request_id"] == not_found.headers["X-Request-ID"]


def test_gunicorns_error_log_is_redacted_too(tmp_path):
    """gunicorn names a failed request's URI in its error log ("Error handling request <uri>")."""
    from gunicorn.config import Config

    from portal.gunicorn_logging import RedactingLogger

    token = secrets.token_urlsafe(32)
    config = Config()
    config.set("errorlog", str(tmp_path / "error.log"))
    RedactingLogger(config).exception(
        "Error handling request %s", f"/invitations/membership/{token}/", exc_info=False
    )
    line = (tmp_path / "error.log").read_text()
    assert token not in line
    assert line.endswith("[ERROR] Error handling request /invitations/membership/[redacted]/\n")
