"""Microsoft Entra ID mode of the directory-tenant step: msal's confidential-client authorization-code flow.

Two legs, two requests of the wizard:

1. ``entra_sign_in_start`` keeps msal's flow (state, PKCE code verifier, nonce) in the server-side
   session under one key and returns the Microsoft sign-in URL to send the browser to;
2. ``entra_sign_in_finish`` takes the query of the redirect back, redeems the code (with the PKCE
   verifier and the client secret), checks the ID token itself — msal 1.38+ only decodes it —, requires
   the Global Administrator role and reads the tenant from Microsoft Graph.

Every byte on the network goes through one ``http_client`` (``requests.Session``-like), which tests
replace with a fake identity provider; msal itself is never mocked. Nothing is kept: the flow leaves the
session at the second leg whatever its outcome, tokens stay in local variables and no token, code,
verifier or secret is logged (nor the provider's error description, which may quote them).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import msal
import requests
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django_countries import countries
from msal.exceptions import MsalServiceError

from accounts.models import DirectoryTenantSource
from enrollment.directory import graph
from enrollment.directory.base import (
    GLOBAL_ADMINISTRATOR_ROLE_TEMPLATE_ID,
    DirectoryAdmin,
    DirectoryError,
    InvalidToken,
    NotConfigured,
    NotGlobalAdmin,
    PersonalAccount,
    ProviderError,
    ProviderUnavailable,
    StateMismatch,
    VerifiedTenant,
)
from enrollment.directory.graph import HttpClient

logger = logging.getLogger(__name__)

SESSION_KEY = "enrollment.directory.entra_flow"
# Personal Microsoft accounts all sign in through this one tenant.
PERSONAL_ACCOUNTS_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"
# Organization.Read.All (a Global Administrator consents for the organization) gives the country.
SCOPES = ["User.Read", "Organization.Read.All"]
CLOCK_SKEW_SECONDS = 120
HTTP_TIMEOUT_SECONDS = (5, 20)  # connect, read
# Only these keys of the redirect's query reach msal.
AUTH_RESPONSE_KEYS = ("state", "code", "error", "error_description", "error_uri")
DECLINED_ERRORS = {"access_denied", "consent_required", "interaction_required"}
SAFE_ERROR_CODE = re.compile(r"[a-z0-9_]{1,64}")
AADSTS_CODE = re.compile(r"\bAADSTS\d{4,7}\b")

DECLINED = _(
    "The sign-in with Microsoft Entra ID was cancelled, or the permissions the portal asks for were not "
    "granted. Sign in again and accept them to continue."
)
PROVIDER_FAILED = _(
    "Microsoft Entra ID could not complete the sign-in (%(code)s). Sign in again; if it keeps failing, "
    "give this code to the program staff."
)


def entra_configured() -> bool:
    """Whether this portal offers the Microsoft Entra ID mode (client id, secret and authority set)."""
    return bool(settings.ENTRA_CLIENT_ID and settings.ENTRA_CLIENT_SECRET and settings.ENTRA_AUTHORITY)


class EntraTransport(requests.Session):
    """The production transport: requests, with a timeout on every call (requests has no default)."""

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", HTTP_TIMEOUT_SECONDS)
        return super().request(method, url, *args, **kwargs)


def entra_http_client() -> HttpClient:
    """A new production transport; the functions below close the ones they make."""
    return EntraTransport()


def entra_sign_in_start(
    *, session: MutableMapping[str, Any], redirect_uri: str, http_client: HttpClient | None = None
) -> str:
    """Begin the sign-in: keep the flow in the session, return the URL to redirect the browser to."""
    try:
        _require_configured()
        with _transport(http_client) as http:
            app = _msal_app(http)
            _quiet_query_mode_warning()
            flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=redirect_uri, prompt="select_account")
    except DirectoryError as error:
        logger.warning("Microsoft Entra ID sign-in not started: %s (%s)", error.code, error.reason)
        raise
    # One sign-in at a time: a newer start replaces an older one, whose redirect then fails.
    session[SESSION_KEY] = flow
    return flow["auth_uri"]


def entra_sign_in_finish(
    *,
    session: MutableMapping[str, Any],
    query_params: Mapping[str, str],
    http_client: HttpClient | None = None,
) -> VerifiedTenant:
    """Complete the sign-in from the redirect's query: a Global Administrator's tenant, or DirectoryError."""
    try:
        _require_configured()
        flow = session.pop(SESSION_KEY, None)  # single use, whatever happens next
        auth_response = {key: str(query_params[key]) for key in AUTH_RESPONSE_KEYS if key in query_params}
        _check_state(flow, auth_response)
        with _transport(http_client) as http:
            result = _redeem(http, flow, auth_response)
            claims = _checked_id_token_claims(result.get("id_token_claims"), nonce=flow["nonce"])
            access_token = result.get("access_token")
            if not isinstance(access_token, str) or not access_token:
                raise InvalidToken(reason="access_token_missing")
            if not _is_global_admin(http, claims=claims, access_token=access_token):
                raise NotGlobalAdmin(account=_user_principal_name(claims), reason="role_missing")
            organization = graph.organization_get(http, access_token=access_token)
        tenant = _verified_tenant(claims, organization)
    except DirectoryError as error:
        logger.warning("Microsoft Entra ID sign-in refused: %s (%s)", error.code, error.reason)
        raise
    logger.info(
        "Microsoft Entra ID sign-in verified: tenant %s, administrator object %s",
        tenant.tenant_id,
        tenant.admin.object_id,
    )
    return tenant


def _require_configured() -> None:
    if not entra_configured():
        raise NotConfigured()


def _quiet_query_mode_warning() -> None:
    # The answer comes back in the query of a GET, not as form_post: a cross-site POST arrives without the
    # SameSite=Lax session cookie that holds the flow (and would need a CSRF exemption). PKCE, single-use
    # codes and a return view that redirects at once cover what form_post would. msal warns on every
    # query-mode flow; an identical filter replaces itself, so calling this each time adds nothing.
    warnings.filterwarnings(
        "ignore", message="response_mode='form_post' is recommended", category=UserWarning, module=r"msal\."
    )


@contextmanager
def _transport(http_client: HttpClient | None) -> Iterator[HttpClient]:
    if http_client is not None:
        yield http_client
        return
    http = entra_http_client()
    try:
        yield http
    finally:
        http.close()


class _NoTokenCache(msal.TokenCache):
    """Keeps nothing: a sign-in here is a one-time proof, so no token outlives the request.

    It also keeps msal from writing its debug line about each token response, which names the code.
    """

    def add(self, event, **kwargs):
        return None


def _msal_app(http: HttpClient) -> msal.ConfidentialClientApplication:
    # Built per call, never at import: msal's constructor fetches the OpenID discovery document.
    try:
        return msal.ConfidentialClientApplication(
            settings.ENTRA_CLIENT_ID,
            client_credential=settings.ENTRA_CLIENT_SECRET,
            authority=settings.ENTRA_AUTHORITY,
            http_client=http,
            instance_discovery=False,
            token_cache=_NoTokenCache(),
            exclude_scopes=["offline_access"],  # no refresh token: nothing to keep
        )
    except (OSError, MsalServiceError) as error:
        raise ProviderUnavailable(reason=f"discovery_unreachable {type(error).__name__}") from None
    except ValueError:
        # msal's words: the authority is not an https URL, or its discovery document was refused.
        logger.error("Microsoft Entra ID: the authority in ENTRA_AUTHORITY could not be discovered")
        raise NotConfigured(reason="authority_invalid") from None


def _check_state(flow: Any, auth_response: dict[str, str]) -> None:
    if not isinstance(flow, dict) or not isinstance(flow.get("state"), str) or not flow.get("nonce"):
        raise StateMismatch(reason="no_flow_in_session")
    if not hmac.compare_digest(flow["state"].encode(), auth_response.get("state", "").encode()):
        raise StateMismatch(reason="state_differs")


def _redeem(http: HttpClient, flow: dict, auth_response: dict[str, str]) -> dict:
    """msal checks the state again, posts code + PKCE verifier + secret, and checks the nonce."""
    try:
        result = _msal_app(http).acquire_token_by_auth_code_flow(dict(flow), auth_response)
    except (OSError, MsalServiceError) as error:
        raise ProviderUnavailable(reason=f"token_endpoint_unreachable {type(error).__name__}") from None
    except ValueError:  # neither a code nor an error in the redirect, or a token answer that is not JSON
        raise ProviderError(reason="malformed_response") from None
    except RuntimeError:  # msal's nonce check; its message quotes the nonces, so it goes nowhere
        raise InvalidToken(reason="nonce") from None
    if "error" in result:
        raise _provider_error(result)
    return result


def _provider_error(result: dict) -> ProviderError:
    error = result.get("error")
    code = error if isinstance(error, str) and SAFE_ERROR_CODE.fullmatch(error) else "unknown"
    # Only the AADSTS number of the description: the rest may quote what was sent, a secret included.
    aadsts = AADSTS_CODE.search(str(result.get("error_description") or ""))
    reason = f"{code} {aadsts.group()}" if aadsts else code
    if code in DECLINED_ERRORS:
        return ProviderError(DECLINED, reason=reason)
    return ProviderError(PROVIDER_FAILED % {"code": reason}, reason=reason)


def _checked_id_token_claims(claims: Any, *, nonce: str) -> dict:
    """The ID token's claims, once audience, issuer, tenant, lifetime and nonce are right.

    The signature is not checked: the token came straight from the token endpoint over TLS, which OpenID
    Connect Core §3.1.3.7 accepts in place of it; everything we rely on is checked below.
    """
    if not isinstance(claims, dict):
        raise InvalidToken(reason="id_token_missing")
    if claims.get("aud") != settings.ENTRA_CLIENT_ID:
        raise InvalidToken(reason="audience")
    tenant_id = claims.get("tid")
    if _as_uuid(tenant_id) is None:
        raise InvalidToken(reason="tenant")
    authority_host = urlsplit(settings.ENTRA_AUTHORITY).netloc
    if claims.get("iss") != f"https://{authority_host}/{tenant_id}/v2.0":
        raise InvalidToken(reason="issuer")
    now = time.time()
    expires_at, not_before = claims.get("exp"), claims.get("nbf")
    if not _is_number(expires_at) or now > expires_at + CLOCK_SKEW_SECONDS:
        raise InvalidToken(reason="expired")
    if not_before is not None and (not _is_number(not_before) or now + CLOCK_SKEW_SECONDS < not_before):
        raise InvalidToken(reason="not_yet_valid")
    # msal sent sha256(nonce) in the authorize URL and checked it already; a second look costs nothing.
    expected_nonce = hashlib.sha256(nonce.encode("ascii")).hexdigest()
    if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), expected_nonce.encode()):
        raise InvalidToken(reason="nonce")
    if str(_as_uuid(tenant_id)) == PERSONAL_ACCOUNTS_TENANT_ID:
        raise PersonalAccount(reason="personal_account")
    if _as_uuid(claims.get("oid")) is None:
        raise InvalidToken(reason="object_id")
    return claims


def _is_global_admin(http: HttpClient, *, claims: dict, access_token: str) -> bool:
    # ``wids`` comes only when the app registration asks for directory roles (groupMembershipClaims).
    wids = claims.get("wids")
    if isinstance(wids, list) and GLOBAL_ADMINISTRATOR_ROLE_TEMPLATE_ID in wids:
        return True
    role_ids = graph.directory_role_template_ids(http, access_token=access_token)
    return GLOBAL_ADMINISTRATOR_ROLE_TEMPLATE_ID in role_ids


def _verified_tenant(claims: dict, organization: dict) -> VerifiedTenant:
    tenant_id = _as_uuid(claims["tid"])
    if _as_uuid(organization.get("id")) != tenant_id:
        raise ProviderError(reason="organization_mismatch")
    display_name = organization.get("displayName")
    if not isinstance(display_name, str) or not display_name.strip():
        raise ProviderError(reason="organization_unnamed")
    country = str(organization.get("countryLetterCode") or "").upper()
    return VerifiedTenant(
        tenant_id=tenant_id,
        display_name=display_name.strip(),
        verified_domains=_domain_names(organization.get("verifiedDomains")),
        country=country if country in countries else "",
        source=DirectoryTenantSource.ENTRA,
        admin=DirectoryAdmin(
            object_id=_as_uuid(claims["oid"]),
            user_principal_name=_user_principal_name(claims),
            email=str(claims.get("email") or "").lower(),
            display_name=str(claims.get("name") or ""),
        ),
    )


def _domain_names(verified_domains: Any) -> list[str]:
    """Lower-case domain names, the tenant's default domain first, each once."""
    if not isinstance(verified_domains, list):
        return []
    entries = [entry for entry in verified_domains if isinstance(entry, dict) and entry.get("name")]
    entries.sort(key=lambda entry: not entry.get("isDefault"))  # stable: Graph's order otherwise
    return list(dict.fromkeys(str(entry["name"]).lower() for entry in entries))


def _user_principal_name(claims: dict) -> str:
    # ``upn`` is an optional claim; ``preferred_username`` carries the UPN for work accounts.
    return str(claims.get("upn") or claims.get("preferred_username") or "")


def _as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
