"""A fake Microsoft identity platform and Microsoft Graph, handed to msal as its ``http_client``.

msal and our Graph reads run their real code; only the network is replaced. ``FakeEntra`` answers, in
process and without sockets, what they ask of ``login.microsoftonline.com`` and ``graph.microsoft.com``:

- the OpenID discovery document of a tenant-independent authority (``/organizations``, ``/common``);
- the token endpoint: it checks the client id and secret, that the code is one it issued and is used
  once, the redirect URI, and the PKCE ``code_verifier`` against the ``code_challenge`` of the authorize
  URL; it answers like Entra (access token, ``client_info``, an RS256-signed ID token carrying the nonce
  exactly as the authorize URL sent it) or with Entra's error shapes (``invalid_client``,
  ``invalid_grant`` with AADSTS numbers);
- Graph ``/me/memberOf/microsoft.graph.directoryRole`` (paged) and ``/organization``, for the bearer
  tokens it issued.

The browser's part (Microsoft's sign-in page and the redirect back) is ``sign_in`` / ``refuse``: they
read the authorize URL that the portal produced and return the query the portal's redirect URI receives.
Everything secret it sees or issues is kept in ``secrets`` so that tests can prove none reached a log.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

LOGIN = "https://login.microsoftonline.com"
GRAPH = "https://graph.microsoft.com/v1.0"
GLOBAL_ADMINISTRATOR = ("62e90394-69f5-4237-9190-012177145e10", "Global Administrator")
USER_ADMINISTRATOR = ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator")
GLOBAL_READER = ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader")
# Entra puts this "default user role" template id in every member's ``wids``.
MEMBER_ROLE_TEMPLATE_ID = "b79fbf4d-3ef9-4689-8143-76b194e85509"
PERSONAL_ACCOUNTS_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"
REMOVE = object()  # as a claim override: leave the claim out of the ID token

_SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_KEY_ID = "fake-entra-key-1"


@dataclass
class FakeTenant:
    tenant_id: str
    display_name: str
    domains: list[str]  # the first one is the default domain
    country: str | None  # countryLetterCode; None as Graph gives it without Organization.Read.All

    def organization(self) -> dict:
        return {
            "id": self.tenant_id,
            "displayName": self.display_name,
            "countryLetterCode": self.country,
            "verifiedDomains": [
                {
                    "capabilities": "Email, OfficeCommunicationsOnline",
                    "isDefault": index == 0,
                    "isInitial": name.endswith(".onmicrosoft.com"),
                    "name": name,
                    "type": "Managed",
                }
                # The default domain last: the portal must not rely on Graph's order.
                for index, name in sorted(enumerate(self.domains), key=lambda item: item[0] == 0)
            ],
        }


@dataclass
class FakeUser:
    tenant: FakeTenant
    user_principal_name: str
    display_name: str
    email: str | None = None  # the optional ``email`` claim
    wids: list[str] | None = None  # None: the app registration asks for no role claims
    directory_roles: list[tuple[str, str]] = field(default_factory=list)  # as /me/memberOf lists them
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))


class FakeResponse:
    """What msal's ``http_client`` contract asks for: ``status_code``, ``text``, ``headers``."""

    def __init__(self, status_code: int, body: Any = None, headers: dict | None = None):
        self.status_code = status_code
        self.text = json.dumps(body) if body is not None else ""
        self.headers = {"Content-Type": "application/json", **(headers or {})}

    def json(self) -> Any:
        return json.loads(self.text)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise AssertionError(f"HTTP {self.status_code}")


@dataclass
class Request:
    method: str
    url: str  # without the query
    query: dict[str, str]
    headers: dict[str, str]
    data: dict[str, str]


@dataclass
class _Grant:
    user: FakeUser
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str
    code_challenge: str
    claims: dict
    used: bool = False


class FakeEntra:
    """The fake identity provider and Graph; pass it wherever the portal takes an ``http_client``."""

    def __init__(self, *, client_id: str, client_secret: str, graph_url: str = GRAPH, page_size: int = 2):
        self.client_id = client_id
        self.client_secret = client_secret
        self.graph_url = graph_url.rstrip("/")
        self.page_size = page_size
        self.requests: list[Request] = []
        self.unexpected: list[str] = []
        self.secrets: set[str] = {client_secret}
        self.graph_status: dict[str, int] = {}  # path below the Graph URL -> forced HTTP status
        self.organization_overrides: dict[str, Any] = {}
        self.unreachable = False  # every request fails as if the network were down
        self._grants: dict[str, _Grant] = {}
        self._access_tokens: dict[str, FakeUser] = {}

    # --- The transport -------------------------------------------------------------------------
    def get(self, url, params=None, headers=None, **kwargs):
        return self._handle("GET", url, params, headers, None)

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        return self._handle("POST", url, params, headers, data)

    def close(self):
        pass

    def _handle(self, method, url, params, headers, data) -> FakeResponse:
        if self.unreachable:
            import requests

            raise requests.ConnectionError(f"Failed to resolve {urlsplit(url).hostname}")
        parts = urlsplit(url)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        query.update(params or {})
        base = f"{parts.scheme}://{parts.netloc}{parts.path}"
        request = Request(method, base, query, dict(headers or {}), dict(data or {}))
        self.requests.append(request)
        if base.startswith(f"{LOGIN}/"):
            segments = parts.path.strip("/").split("/")
            if method == "GET" and segments[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                return FakeResponse(200, self._discovery(segments[0]))
            if method == "POST" and segments[1:] == ["oauth2", "v2.0", "token"]:
                return self._token(request)
        if method == "GET" and base.startswith(f"{self.graph_url}/"):
            return self._graph(request, base.removeprefix(self.graph_url))
        self.unexpected.append(f"{method} {url}")
        return FakeResponse(404, {"error": "not_found"})

    # --- Microsoft's sign-in page and the redirect back ----------------------------------------
    def sign_in(self, auth_url: str, *, user: FakeUser, claims: dict | None = None) -> dict[str, str]:
        """The person signs in as ``user``; returns the query of the redirect to the portal.

        ``claims`` override the ID token's claims (``REMOVE`` drops one), for the tests of bad tokens.
        """
        request = self._authorize_request(auth_url)
        code = secrets.token_urlsafe(48)
        self.secrets.add(code)
        self._grants[code] = _Grant(
            user=user,
            client_id=request["client_id"],
            redirect_uri=request["redirect_uri"],
            scope=request["scope"],
            nonce=request["nonce"],
            code_challenge=request["code_challenge"],
            claims=dict(claims or {}),
        )
        return {"code": code, "state": request["state"], "session_state": str(uuid.uuid4())}

    def refuse(self, auth_url: str, *, error: str, description: str) -> dict[str, str]:
        """Sign-in ends without a code (the person cancelled, declined consent, ...)."""
        request = self._authorize_request(auth_url)
        return {"error": error, "error_description": description, "state": request["state"]}

    def _authorize_request(self, auth_url: str) -> dict[str, str]:
        parts = urlsplit(auth_url)
        assert f"{parts.scheme}://{parts.netloc}" == LOGIN, auth_url
        assert parts.path.endswith("/oauth2/v2.0/authorize"), auth_url
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        assert query["client_id"] == self.client_id
        assert query["response_type"] == "code"
        assert query["code_challenge_method"] == "S256"
        assert "openid" in query["scope"].split()
        for name in ("redirect_uri", "state", "nonce", "code_challenge"):
            assert query.get(name), f"the authorize URL lacks {name}"
        return query

    # --- Endpoints -----------------------------------------------------------------------------
    def _discovery(self, tenant: str) -> dict:
        base = f"{LOGIN}/{tenant}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{LOGIN}/{{tenantid}}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "cloud_instance_name": "microsoftonline.com",
            "msgraph_host": "graph.microsoft.com",
        }

    def _token(self, request: Request) -> FakeResponse:
        data = request.data
        for name in ("code", "code_verifier"):
            if data.get(name):
                self.secrets.add(data[name])
        if data.get("grant_type") != "authorization_code":
            return _oauth_error(
                400, "unsupported_grant_type", "AADSTS70003: The grant type is not supported."
            )
        if data.get("client_id") != self.client_id or data.get("client_secret") != self.client_secret:
            return _oauth_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request "
                f"is the client secret value, not the client secret ID, for a secret added to app "
                f"'{data.get('client_id')}'.",
            )
        grant = self._grants.get(data.get("code", ""))
        if grant is None or grant.used:
            return _oauth_error(
                400, "invalid_grant", "AADSTS54005: OAuth2 Authorization code was already redeemed."
            )
        grant.used = True
        if data.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error(400, "invalid_grant", "AADSTS50148: The redirect_uri does not match.")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(data.get("code_verifier", "").encode()).digest())
        if challenge.rstrip(b"=").decode() != grant.code_challenge:
            return _oauth_error(
                400,
                "invalid_grant",
                "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the "
                "authorization request.",
            )
        user = grant.user
        access_token = secrets.token_urlsafe(64)
        id_token = self._id_token(grant)
        self._access_tokens[access_token] = user
        self.secrets.update({access_token, id_token})
        client_info = {"uid": user.object_id, "utid": user.tenant.tenant_id}
        return FakeResponse(
            200,
            {
                "token_type": "Bearer",
                "scope": "Organization.Read.All User.Read profile openid email",
                "expires_in": 4523,
                "ext_expires_in": 4523,
                "access_token": access_token,
                "id_token": id_token,
                "client_info": _b64(json.dumps(client_info).encode()),
            },
        )

    def _id_token(self, grant: _Grant) -> str:
        user, now = grant.user, int(time.time())
        tenant_id = user.tenant.tenant_id
        claims: dict[str, Any] = {
            "aud": grant.client_id,
            "iss": f"{LOGIN}/{tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": user.display_name,
            "nonce": grant.nonce,  # as the authorize URL carried it (msal sends a hash of its nonce)
            "oid": user.object_id,
            "preferred_username": user.user_principal_name,
            "sub": _b64(hashlib.sha256(f"{grant.client_id}{user.object_id}".encode()).digest()),
            "tid": tenant_id,
            "uti": secrets.token_urlsafe(16),
            "ver": "2.0",
        }
        if user.email:
            claims["email"] = user.email
        if user.wids is not None:
            claims["wids"] = list(user.wids)
        for name, value in grant.claims.items():
            if value is REMOVE:
                claims.pop(name, None)
            else:
                claims[name] = value
        header = {"typ": "JWT", "alg": "RS256", "kid": _KEY_ID}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = _SIGNING_KEY.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"

    def _graph(self, request: Request, path: str) -> FakeResponse:
        authorization = request.headers.get("Authorization", "")
        user = self._access_tokens.get(authorization.removeprefix("Bearer "))
        if not authorization.startswith("Bearer ") or user is None:
            return _graph_error(401, "InvalidAuthenticationToken", "Access token validation failure.")
        if path in self.graph_status:
            return _graph_error(
                self.graph_status[path], "Authorization_RequestDenied", "Insufficient privileges."
            )
        if path == "/me/memberOf/microsoft.graph.directoryRole":
            start = int(request.query.get("$skiptoken", "0"))
            roles = user.directory_roles[start : start + self.page_size]
            body: dict[str, Any] = {
                "@odata.context": f"{self.graph_url}/$metadata#directoryObjects",
                "value": [
                    {
                        "@odata.type": "#microsoft.graph.directoryRole",
                        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{user.tenant.tenant_id}/{template_id}")),
                        "roleTemplateId": template_id,
                        "displayName": display_name,
                    }
                    for template_id, display_name in roles
                ],
            }
            if start + self.page_size < len(user.directory_roles):
                body["@odata.nextLink"] = (
                    f"{self.graph_url}{path}?$select=id,roleTemplateId,displayName"
                    f"&$skiptoken={start + self.page_size}"
                )
            return FakeResponse(200, body)
        if path == "/organization":
            organization = {**user.tenant.organization(), **self.organization_overrides}
            return FakeResponse(
                200, {"@odata.context": f"{self.graph_url}/$metadata#organization", "value": [organization]}
            )
        self.unexpected.append(f"GET {request.url}")
        return _graph_error(404, "Request_ResourceNotFound", "Resource not found.")

    # --- For assertions ------------------------------------------------------------------------
    def calls(self) -> list[str]:
        """``METHOD path`` of every request, in order; the hosts shortened to ``login`` and ``graph``."""
        names = []
        for request in self.requests:
            url = request.url.replace(LOGIN, "login").replace(self.graph_url, "graph")
            names.append(f"{request.method} {url}")
        return names


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _oauth_error(status: int, error: str, description: str) -> FakeResponse:
    trace = (
        f"\r\nTrace ID: {uuid.uuid4()}\r\nCorrelation ID: {uuid.uuid4()}\r\nTimestamp: 2026-11-02 10:00:00Z"
    )
    return FakeResponse(
        status,
        {
            "error": error,
            "error_description": description + trace,
            "error_codes": [int(description.split(":")[0].removeprefix("AADSTS"))],
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
    )


def _graph_error(status: int, code: str, message: str) -> FakeResponse:
    return FakeResponse(status, {"error": {"code": code, "message": message}})
