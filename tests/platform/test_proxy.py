"""What arrives at the edge: forwarded headers are believed only from proxies of ours (TRUSTED_PROXY_COUNT,
default 0), by the audit context, allauth's rate limits and HTTPS detection alike; a disallowed host gets
the portal's 400 page with every security header.

The real components run here: production settings served by gunicorn with the repository's
gunicorn.conf.py, and nginx with the repository's configuration in front of it, on the test database."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import redis
import requests
from allauth.usersessions.models import UserSession
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.urls import reverse
from requests.adapters import HTTPAdapter

from portal.audit.models import AuditEvent
from tests.factories.accounts import PASSWORD, UserFactory
from tests.support.processes import (
    PRODUCTION,
    ROOT,
    Gunicorn,
    collect_static,
    production_environment,
    run_python,
    wait_for_port,
)
from tests.support.services import free_port

CLIENT = "127.0.0.7"  # the test as a client: an address apart from 127.0.0.1 (servers and proxies)
FORGED = {"X-Forwarded-For": "198.51.100.66", "X-Forwarded-Proto": "https"}
TOO_MANY = "Too many failed login attempts. Try again later."
WRONG = "The email address and/or password you specified are not correct."
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


# --- One setting --------------------------------------------------------------------------------------

PRINT_PROXY_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps([
    settings.TRUSTED_PROXY_COUNT,
    settings.ALLAUTH_TRUSTED_PROXY_COUNT,
    settings.SECURE_PROXY_SSL_HEADER,
]))
"""


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, [0, 0, None]),
        ({"TRUSTED_PROXY_COUNT": "1"}, [1, 1, ["HTTP_X_FORWARDED_PROTO", "https"]]),
        (PRODUCTION, [0, 0, None]),
        ({**PRODUCTION, "TRUSTED_PROXY_COUNT": "1"}, [1, 1, ["HTTP_X_FORWARDED_PROTO", "https"]]),
    ],
    ids=["development", "development-one-proxy", "production", "production-one-proxy"],
)
def test_one_setting_decides_whose_forwarded_headers_are_believed(tmp_path, env, expected):
    result = run_python(PRINT_PROXY_SETTINGS, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == expected


def test_a_negative_proxy_count_is_refused(tmp_path):
    result = run_python(PRINT_PROXY_SETTINGS, {"TRUSTED_PROXY_COUNT": "-1"}, tmp_path)
    assert result.returncode != 0
    assert "TRUSTED_PROXY_COUNT must be 0 or more" in result.stderr


# --- In process: malformed headers and the disallowed host ----------------------------------------------


@pytest.mark.django_db
def test_a_forwarded_for_with_fewer_hops_than_proxies_is_ignored_not_a_500(client, settings):
    """Two proxies configured, one hop received: the header was not written by our proxies. allauth's
    own function would raise ImproperlyConfigured (a 500) on every sign-in; the client is REMOTE_ADDR."""
    settings.TRUSTED_PROXY_COUNT = settings.ALLAUTH_TRUSTED_PROXY_COUNT = 2
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "2/m/ip"}
    one_hop = {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "198.51.100.66"}

    errors = [
        client.post(reverse("account_login"), {"login": f"n{i}@example.com", "password": "x"}, **one_hop)
        .context["form"]
        .non_field_errors()
        for i in range(3)
    ]
    # Counted against REMOTE_ADDR.
    assert errors == [[WRONG], [WRONG], [TOO_MANY]]

    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("profile"), {"full_name": "Ann", "preferred_language": "en"}, **one_hop)
    assert response.status_code == 302
    assert AuditEvent.objects.get(action="user.profile_updated").ip == "203.0.113.9"


@pytest.mark.django_db
def test_a_disallowed_host_gets_the_portals_400_page_with_every_security_header(client):
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    page = response.content.decode()
    assert "<h1>Bad request</h1>" in page
    assert "evil.example" not in page
    assert {name: response.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Request-ID"]


# --- Real servers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def static_root(tmp_path_factory) -> Path:
    return collect_static(tmp_path_factory.mktemp("collected"))


@pytest.fixture
def private_redis_url() -> str:
    """A Redis database of its own (cache: rate-limit counters; broker), emptied first."""
    base = os.environ.get("REDIS_URL", "")
    if not base.startswith("redis://"):
        pytest.fail("This test needs the real Redis: run it through bin/test")
    url = re.sub(r"/\d+$", "/9", base)
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def production(tmp_path, static_root, private_redis_url):
    """The production environment for a gunicorn serving https://127.0.0.1:<port>."""

    def environment(port: int, **overrides: str) -> dict:
        return production_environment(
            tmp_path,
            static_root,
            SITE_URL=f"https://127.0.0.1:{port}",
            REDIS_URL=private_redis_url,
            CELERY_BROKER_URL=private_redis_url,
            **overrides,
        )

    return environment


@pytest.fixture
def certificate(tmp_path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with openssl."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class FromAddress(HTTPAdapter):
    """Connects from a chosen loopback address, so that the client is not 127.0.0.1."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, source_address=(self.address, 0), **kwargs)


class Browser:
    """A client session (cookies, CSRF tokens) against one server, connecting from ``address``.

    ``as_proxy``: the test plays a TLS-terminating proxy talking plain HTTP to gunicorn, so it passes on
    the browser's Secure cookies over that hop (requests would keep them for HTTPS)."""

    def __init__(
        self, url: str, *, address: str = CLIENT, verify: Path | bool = False, as_proxy: bool = False
    ):
        self.url = url
        self.as_proxy = as_proxy
        self.origin = url.replace("http://", "https://") if as_proxy else url  # what the browser sees
        self.attempts = 0
        self.session = requests.Session()
        self.session.trust_env = False  # this machine's CA bundle variables would override ``verify``
        self.session.verify = str(verify) if isinstance(verify, Path) else verify
        self.session.mount("http://", FromAddress(address))
        self.session.mount("https://", FromAddress(address))

    def get(self, path: str, **headers: str) -> requests.Response:
        return self._kept(
            self.session.get(self.url + path, headers=headers, allow_redirects=False, timeout=30)
        )

    def _kept(self, response: requests.Response) -> requests.Response:
        if self.as_proxy:
            for cookie in self.session.cookies:
                cookie.secure = False
        return response

    def submit(self, path: str, data: dict, **headers: str) -> requests.Response:
        """GET the form, POST it back with its CSRF token, as a browser on this origin would."""
        form = self.get(path, **headers)
        assert form.status_code == 200, form.status_code
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        headers = {"Referer": self.origin + path, **headers}
        return self._kept(
            self.session.post(
                self.url + path,
                data={"csrfmiddlewaretoken": token, **data},
                headers=headers,
                allow_redirects=False,
                timeout=30,
            )
        )

    def sign_in(self, email: str, **headers: str) -> None:
        response = self.submit("/accounts/login/", {"login": email, "password": PASSWORD}, **headers)
        assert response.status_code == 302, response.text

    def profile_update(self, full_name: str, **headers: str) -> None:
        response = self.submit("/profile/", {"full_name": full_name, "preferred_language": "en"}, **headers)
        assert response.status_code == 302, response.text

    def failed_sign_ins(self, forwarded_for: list[str]) -> list[str]:
        """One failed sign-in per X-Forwarded-For value, each with an unknown email; the form's message."""
        messages = []
        for address in forwarded_for:
            self.attempts += 1
            headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": address}
            email = f"nobody{self.attempts}@example.com"  # a new key each time: only the per-IP limit counts
            response = self.submit("/accounts/login/", {"login": email, "password": "wrong"}, **headers)
            assert response.status_code == 200
            messages.append(
                TOO_MANY if TOO_MANY in response.text else WRONG if WRONG in response.text else ""
            )
        return messages


def production_user():
    """A user whose password production's hashers can check (the test settings hash with MD5)."""
    user = UserFactory()
    hasher = Argon2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt())
    user.save(update_fields=["password"])
    return user


def audited_ip() -> str:
    return AuditEvent.objects.get(action="user.profile_updated").ip


@pytest.mark.django_db(transaction=True)
def test_by_default_forged_forwarded_headers_change_nothing(tmp_path, production, certificate):
    """No proxy trusted (the default): gunicorn serves clients directly. A client's X-Forwarded-For is not
    its address (audit rows, sessions, rate limits) and its X-Forwarded-Proto does not make HTTPS."""
    port = free_port()
    with Gunicorn(production(port), tmp_path, port=port) as server:
        browser = Browser(server.url)
        claimed_https = browser.get("/healthz", **FORGED)
        assert claimed_https.status_code == 301
        assert claimed_https.headers["Location"] == f"https://127.0.0.1:{port}/healthz"
        assert "Strict-Transport-Security" not in claimed_https.headers
        # A disallowed host over plain HTTP is sent to the canonical host, the headers on the way.
        evil = browser.get("/", Host="evil.example")
        assert (evil.status_code, evil.headers["Location"]) == (301, f"https://127.0.0.1:{port}/")
        assert {name: evil.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS

    # Over TLS (gunicorn terminating it itself), signed in and audited.
    user = production_user()
    tls_port = free_port()
    with Gunicorn(production(tls_port), tmp_path, tls=certificate, port=tls_port) as server:
        browser = Browser(server.url, verify=certificate[0])
        browser.sign_in(user.email, **FORGED)
        browser.profile_update("Ann Forged", **FORGED)
        assert audited_ip() == CLIENT
        assert list(UserSession.objects.filter(user=user).values_list("ip", flat=True)) == [CLIENT]

        # Every attempt claims another address; all of them count against the connection's.
        anonymous = Browser(server.url, verify=certificate[0])
        messages = anonymous.failed_sign_ins([f"198.51.100.{attempt}" for attempt in range(11)])
        assert messages == [WRONG] * 10 + [TOO_MANY]


@pytest.mark.django_db(transaction=True)
def test_behind_one_trusted_proxy_its_client_address_and_scheme_are_believed(tmp_path, production):
    """TRUSTED_PROXY_COUNT=1, the test playing the proxy (at 127.0.0.1): the client is the last
    X-Forwarded-For hop, the one the proxy wrote, for audit rows, sessions and rate limits alike."""
    user = production_user()
    port = free_port()
    with Gunicorn(production(port, TRUSTED_PROXY_COUNT="1"), tmp_path, port=port) as server:
        proxy = Browser(server.url, address="127.0.0.1", as_proxy=True)
        via_proxy = {"X-Forwarded-For": "203.0.113.250, 198.51.100.23", "X-Forwarded-Proto": "https"}
        health = proxy.get("/healthz", **via_proxy)
        assert health.status_code == 200
        assert health.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"

        proxy.sign_in(user.email, **via_proxy)
        proxy.profile_update("Ann Proxied", **via_proxy)
        assert audited_ip() == "198.51.100.23"
        assert list(UserSession.objects.filter(user=user).values_list("ip", flat=True)) == ["198.51.100.23"]

        # Rate limits count per client: eleven clients are not limited, one client eleven times is.
        anonymous = Browser(server.url, address="127.0.0.1", as_proxy=True)
        assert anonymous.failed_sign_ins([f"198.51.100.{100 + n}" for n in range(11)]) == [WRONG] * 11
        assert anonymous.failed_sign_ins(["198.51.100.200"] * 11) == [WRONG] * 10 + [TOO_MANY]
        # A header the proxy cannot have written is ignored (neither a 403 nor a 500): REMOTE_ADDR.
        assert anonymous.failed_sign_ins(["not-an-address"]) == [WRONG]

        # A disallowed host over HTTPS: the portal's 400 page with every security header.
        evil = proxy.get("/", Host="evil.example", **via_proxy)
        assert evil.status_code == 400
        assert "<h1>Bad request</h1>" in evil.text
        assert {name: evil.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
        assert "frame-ancestors 'none'" in evil.headers["Content-Security-Policy"]
        assert evil.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "Ignored an X-Forwarded-For header that does not match TRUSTED_PROXY_COUNT=1" in server.stderr


# --- nginx with the repository's configuration in front of gunicorn -------------------------------------

NGINX_TEMPLATE = ROOT / "deploy" / "nginx" / "templates" / "default.conf.template"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        pytest.fail("nginx is not installed (bin/test installs Debian's nginx)")
    return found


class Nginx:
    """nginx running the repository's configuration, rendered as the official image renders it."""

    def __init__(self, tmp_path: Path, values: dict[str, str]):
        self.directory = tmp_path / "nginx"
        (self.directory / "temp").mkdir(parents=True)
        rendered = NGINX_TEMPLATE.read_text()
        for name, value in values.items():
            rendered = rendered.replace("${" + name + "}", value)
        assert "${" not in rendered, "a PORTAL_* variable of the template was left unset"
        (self.directory / "portal.conf").write_text(rendered)
        temp = self.directory / "temp"
        (self.directory / "nginx.conf").write_text(
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"worker_processes 1;\npid {self.directory}/nginx.pid;\n"
            + f"error_log {self.directory}/error.log notice;\n"
            + "events { worker_connections 64; }\n"
            + "http {\n"
            + "".join(
                f"    {kind}_temp_path {temp}/{kind};\n"
                for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            )
            + f"    include {self.directory}/portal.conf;\n}}\n"
        )
        self.https_port = int(values["PORTAL_HTTPS_LISTEN"].rsplit(":", 1)[1])
        self.access_log_path = self.directory / "access.log"

    def __enter__(self) -> "Nginx":
        command = [nginx_binary(), "-p", f"{self.directory}/", "-c", f"{self.directory}/nginx.conf"]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        with self.access_log_path.open("wb") as stdout:
            self.process = subprocess.Popen(
                [*command, "-g", "daemon off;"], stdout=stdout, stderr=subprocess.STDOUT
            )
        wait_for_port(self.https_port, self.process, self.directory / "error.log")
        return self

    def __exit__(self, *exc_info) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    @property
    def access_log(self) -> str:
        return self.access_log_path.read_text()


@pytest.mark.django_db(transaction=True)
def test_behind_the_shipped_nginx_a_client_cannot_choose_its_address_or_scheme(
    tmp_path, production, certificate
):
    user = production_user()
    https_port, http_port = free_port(), free_port()
    cert, key = certificate
    web = Gunicorn(production(https_port, TRUSTED_PROXY_COUNT="1"), tmp_path)
    values = {
        "PORTAL_SERVER_NAME": "127.0.0.1",
        "PORTAL_HTTP_LISTEN": f"127.0.0.1:{http_port}",
        "PORTAL_HTTPS_LISTEN": f"127.0.0.1:{https_port}",
        "PORTAL_TLS_CERTIFICATE": str(cert),
        "PORTAL_TLS_CERTIFICATE_KEY": str(key),
        "PORTAL_UPSTREAM": f"127.0.0.1:{web.port}",
    }
    with web, Nginx(tmp_path, values) as nginx:
        browser = Browser(f"https://127.0.0.1:{https_port}", verify=cert)
        # The client claims another address and plain HTTP; nginx overwrites both.
        forged = {"X-Forwarded-For": "198.51.100.66", "X-Forwarded-Proto": "http"}
        health = browser.get("/healthz", **forged)
        assert health.status_code == 200  # seen as HTTPS: no redirect
        assert health.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"

        browser.sign_in(user.email, **forged)
        browser.profile_update("Ann Behind Nginx", **forged)
        assert audited_ip() == CLIENT
        assert list(UserSession.objects.filter(user=user).values_list("ip", flat=True)) == [CLIENT]

        # Plain HTTP gets nothing but a redirect to the canonical HTTPS address.
        plain = Browser(f"http://127.0.0.1:{http_port}").get("/healthz")
        assert (plain.status_code, plain.headers["Location"]) == (301, "https://127.0.0.1/healthz")

        # An invitation link: neither nginx's log nor gunicorn's shows the token; one request id joins them.
        token = "q3Vd-_x9Lr0T2bYkA7mPzW4nH8sJ1cEfG5uI6oKaBcD"
        landing = browser.get(f"/invitations/membership/{token}/")
        assert landing.status_code == 302
        request_id = landing.headers["X-Request-ID"]
    assert token not in nginx.access_log
    assert token not in web.stdout + web.stderr
    nginx_line = next(line for line in nginx.access_log.splitlines() if line.endswith(request_id))
    assert nginx_line.startswith(f"{CLIENT} [")
    assert " GET 302 " in nginx_line
    gunicorn_line = next(line for line in web.stdout.splitlines() if line.endswith(request_id))
    assert '"GET /invitations/membership/[redacted]/ HTTP/1.1" 302' in gunicorn_line
    assert gunicorn_line.startswith("127.0.0.1 ")  # gunicorn sees the proxy; the portal sees the client


# --- The shipped deployment ------------------------------------------------------------------------------


def compose_services() -> dict[str, str]:
    """docker-compose.yml's services, each as the text of its block (no YAML parser is installed)."""
    text = (ROOT / "docker-compose.yml").read_text()
    body = text.split("\nservices:\n", 1)[1].split("\nvolumes:\n", 1)[0]
    blocks = re.split(r"\n(?=  [a-z][a-z0-9_-]*:\n)", "\n" + body)
    return {block.strip().split(":", 1)[0]: block for block in blocks if block.strip()}


def test_the_proxy_is_the_only_published_service_and_the_one_trusted_hop():
    services = compose_services()
    published = {name for name, block in services.items() if re.search(r"^    ports:", block, re.M)}
    assert published == {"proxy"}
    assert '    ports: ["80:80", "443:443"]' in services["proxy"]
    assert '    expose: ["8000"]' in services["web"]
    assert "PORTAL_UPSTREAM: web:8000" in services["proxy"]
    assert "./deploy/nginx/templates:/etc/nginx/templates:ro" in services["proxy"]
    assert ":/etc/nginx/certs:ro" in services["proxy"]
    assert '    TRUSTED_PROXY_COUNT: "1"' in (ROOT / "docker-compose.yml").read_text()


def test_the_nginx_configuration_overwrites_the_forwarded_headers():
    template = NGINX_TEMPLATE.read_text()
    directives = re.findall(r"^\s*proxy_set_header\s+(\S+)\s+(.+?);", template, re.M)
    assert ("X-Forwarded-For", "$remote_addr") in directives
    assert ("X-Forwarded-Proto", "$scheme") in directives
    assert "$proxy_add_x_forwarded_for" not in template
    # Only PORTAL_* placeholders, which the image's envsubst (NGINX_ENVSUBST_FILTER) fills in.
    assert set(re.findall(r"\$\{(\w+)\}", template)) == {
        "PORTAL_SERVER_NAME",
        "PORTAL_HTTP_LISTEN",
        "PORTAL_HTTPS_LISTEN",
        "PORTAL_TLS_CERTIFICATE",
        "PORTAL_TLS_CERTIFICATE_KEY",
        "PORTAL_UPSTREAM",
    }
