"""The Microsoft Entra ID mode of the directory-tenant step, through the real msal code and our Graph reads,
against the fake identity provider of ``fake_idp`` (only the network is fake).

Each test plays the two requests of the wizard: the start (its session saved, as the response would) and
the redirect back (the session loaded again from the session store, the query as ``request.GET``)."""

import logging
import time
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.contrib.sessions.backends.cache import SessionStore
from django.http import QueryDict

from accounts.models import DirectoryTenantSource
from enrollment.directory import base, entra
from enrollment.directory.base import DirectoryAdmin, VerifiedTenant
from enrollment.directory.entra import (
    SESSION_KEY,
    entra_configured,
    entra_sign_in_finish,
    entra_sign_in_start,
)
from tests.enrollment.fake_idp import (
    GLOBAL_ADMINISTRATOR,
    GLOBAL_READER,
    LOGIN,
    MEMBER_ROLE_TEMPLATE_ID,
    PERSONAL_ACCOUNTS_TENANT_ID,
    REMOVE,
    USER_ADMINISTRATOR,
    FakeEntra,
    FakeTenant,
    FakeUser,
)

CLIENT_ID = "3f0c2a61-8d4e-4b7a-9c15-6e2d8f1a0b47"
CLIENT_SECRET = "Qx8~fake.client-secret_4tP2vR9sLmN7wK3jH6"
REDIRECT_URI = "https://portal.test/enrollment/directory/entra/return/"
GA_TEMPLATE_ID = GLOBAL_ADMINISTRATOR[0]

CONTOSO = FakeTenant(
    tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
    display_name="Contoso Japan KK",
    domains=["contoso.co.jp", "ContosoJP.onmicrosoft.com", "contoso.jp"],
    country="JP",
)
FABRIKAM = FakeTenant(
    tenant_id="0b6f1d43-5c2e-4f7a-8e19-3d4c5b6a7f80",
    display_name="Fabrikam, Inc.",
    domains=["fabrikam.com", "fabrikam.onmicrosoft.com"],
    country=None,  # what Graph says without Organization.Read.All
)
PERSONAL = FakeTenant(
    tenant_id=PERSONAL_ACCOUNTS_TENANT_ID, display_name="Microsoft Accounts", domains=[], country=None
)


def global_admin(**changes) -> FakeUser:
    return FakeUser(
        tenant=CONTOSO,
        user_principal_name="aiko.sato@contoso.co.jp",
        display_name="Aiko Sato",
        email="Aiko.Sato@contoso.co.jp",
        wids=[GA_TEMPLATE_ID, MEMBER_ROLE_TEMPLATE_ID],
        directory_roles=[GLOBAL_ADMINISTRATOR],
        **changes,
    )


def ordinary_user() -> FakeUser:
    return FakeUser(
        tenant=CONTOSO,
        user_principal_name="ken.ito@contoso.co.jp",
        display_name="Ken Ito",
        wids=[MEMBER_ROLE_TEMPLATE_ID, USER_ADMINISTRATOR[0]],
        directory_roles=[USER_ADMINISTRATOR],
    )


@pytest.fixture(autouse=True)
def entra_settings(settings):
    settings.ENTRA_CLIENT_ID = CLIENT_ID
    settings.ENTRA_CLIENT_SECRET = CLIENT_SECRET
    settings.ENTRA_AUTHORITY = f"{LOGIN}/organizations"
    settings.ENTRA_GRAPH_URL = "https://graph.microsoft.com/v1.0"
    return settings


@pytest.fixture
def idp():
    fake = FakeEntra(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    yield fake
    assert fake.unexpected == []


def start(idp) -> tuple[str, str]:
    """The first request: returns the Microsoft sign-in URL and the session key (the cookie)."""
    session = SessionStore()
    auth_url = entra_sign_in_start(session=session, redirect_uri=REDIRECT_URI, http_client=idp)
    session.save()
    return auth_url, session.session_key


def finish(idp, session_key: str, query: dict) -> VerifiedTenant:
    """The redirect back: the session as the next request loads it, the query as request.GET."""
    session = SessionStore(session_key=session_key)
    try:
        return entra_sign_in_finish(
            session=session, query_params=QueryDict(urlencode(query)), http_client=idp
        )
    finally:
        session.save()


def sign_in(idp, user, **claims):
    auth_url, session_key = start(idp)
    return finish(idp, session_key, idp.sign_in(auth_url, user=user, claims=claims))


def flow_in_session(session_key: str):
    return SessionStore(session_key=session_key).get(SESSION_KEY)


# --- Accepted ----------------------------------------------------------------------------------


def test_a_global_admin_is_accepted_with_the_tenant_facts_from_graph(idp):
    admin = global_admin()
    auth_url, session_key = start(idp)

    # The sign-in URL: our client, PKCE S256, a nonce, our scopes, no refresh token, account picker.
    query = {key: values[0] for key, values in parse_qs(urlsplit(auth_url).query).items()}
    assert auth_url.startswith(f"{LOGIN}/organizations/oauth2/v2.0/authorize?")
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert set(query["scope"].split()) == {"User.Read", "Organization.Read.All", "openid", "profile"}
    assert query["prompt"] == "select_account"
    flow = flow_in_session(session_key)
    assert flow["state"] == query["state"]
    assert flow["code_verifier"] and flow["nonce"]
    assert flow["code_verifier"] not in auth_url and flow["nonce"] not in auth_url

    tenant = finish(idp, session_key, idp.sign_in(auth_url, user=admin))

    assert tenant == VerifiedTenant(
        tenant_id=uuid.UUID(CONTOSO.tenant_id),
        display_name="Contoso Japan KK",
        verified_domains=["contoso.co.jp", "contosojp.onmicrosoft.com", "contoso.jp"],
        country="JP",
        source=DirectoryTenantSource.ENTRA,
        admin=DirectoryAdmin(
            object_id=uuid.UUID(admin.object_id),
            user_principal_name="aiko.sato@contoso.co.jp",
            email="aiko.sato@contoso.co.jp",
            display_name="Aiko Sato",
        ),
    )
    # wids showed the role, so Graph was asked for the organization only.
    assert idp.calls() == [
        "GET login/organizations/v2.0/.well-known/openid-configuration",
        "GET login/organizations/v2.0/.well-known/openid-configuration",
        "POST login/organizations/oauth2/v2.0/token",
        "GET graph/organization",
    ]
    token_request = idp.requests[2]
    assert token_request.data["client_secret"] == CLIENT_SECRET
    assert token_request.data["code_verifier"] == flow["code_verifier"]  # the fake checked it too
    assert token_request.data["redirect_uri"] == REDIRECT_URI
    organization_request = idp.requests[3]
    assert organization_request.headers["Authorization"].startswith("Bearer ")
    assert organization_request.query == {"$select": "id,displayName,countryLetterCode,verifiedDomains"}
    assert flow_in_session(session_key) is None  # the flow is spent


def test_a_global_admin_found_only_through_member_of_is_accepted(idp):
    # No wids claim (the app registration asks for none): /me/memberOf decides, its second page included.
    admin = FakeUser(
        tenant=FABRIKAM,
        user_principal_name="dana@fabrikam.com",
        display_name="Dana Whitfield",
        wids=None,
        directory_roles=[USER_ADMINISTRATOR, GLOBAL_READER, GLOBAL_ADMINISTRATOR],
    )

    tenant = sign_in(idp, admin)

    assert tenant.tenant_id == uuid.UUID(FABRIKAM.tenant_id)
    assert tenant.display_name == "Fabrikam, Inc."
    assert tenant.verified_domains == ["fabrikam.com", "fabrikam.onmicrosoft.com"]
    assert tenant.country == ""  # Graph did not say; the wizard asks
    assert tenant.admin.user_principal_name == "dana@fabrikam.com"
    assert tenant.admin.email == ""  # no email claim
    assert idp.calls()[3:] == [
        "GET graph/me/memberOf/microsoft.graph.directoryRole",
        "GET graph/me/memberOf/microsoft.graph.directoryRole",
        "GET graph/organization",
    ]
    assert idp.requests[4].query["$skiptoken"] == "2"


def test_a_verified_tenant_survives_json_storage(idp):
    tenant = sign_in(idp, global_admin())

    session = SessionStore()
    session["tenant"] = tenant.as_dict()
    session.save()

    assert VerifiedTenant.from_dict(SessionStore(session_key=session.session_key)["tenant"]) == tenant


def test_a_token_just_past_its_expiry_is_accepted_within_the_clock_leeway(idp):
    now = int(time.time())

    tenant = sign_in(idp, global_admin(), exp=now - 30, nbf=now + 30)

    assert tenant.tenant_id == uuid.UUID(CONTOSO.tenant_id)


# --- Refused: who signed in ----------------------------------------------------------------------


def test_an_ordinary_user_is_refused_with_a_clear_message(idp):
    with pytest.raises(base.NotGlobalAdmin) as refused:
        sign_in(idp, ordinary_user())

    assert refused.value.code == "not_global_admin"
    assert refused.value.message == (
        "The account ken.ito@contoso.co.jp is not a Global Administrator of its tenant. Sign in with a "
        "Global Administrator of your company's tenant, or ask one to complete this step."
    )
    # wids lacked the role, so memberOf was asked; the organization was never read.
    assert idp.calls()[3:] == ["GET graph/me/memberOf/microsoft.graph.directoryRole"]


def test_a_personal_microsoft_account_is_refused(idp, entra_settings):
    # /organizations already keeps personal accounts out; the check holds even on /common.
    entra_settings.ENTRA_AUTHORITY = f"{LOGIN}/common"
    person = FakeUser(
        tenant=PERSONAL,
        user_principal_name="aiko1987@outlook.com",
        display_name="Aiko",
        directory_roles=[GLOBAL_ADMINISTRATOR],
        wids=[GA_TEMPLATE_ID],
    )

    with pytest.raises(base.PersonalAccount) as refused:
        sign_in(idp, person)

    assert refused.value.code == "personal_account"
    assert refused.value.message == (
        "You signed in with a personal Microsoft account. Sign in with a work account of your "
        "company's Microsoft Entra ID tenant instead."
    )
    assert not any("graph" in call for call in idp.calls())


# --- Refused: the redirect back ------------------------------------------------------------------


def test_a_state_mismatch_is_refused_before_any_code_is_redeemed(idp):
    auth_url, session_key = start(idp)
    answer = idp.sign_in(auth_url, user=global_admin())

    with pytest.raises(base.StateMismatch) as refused:
        finish(idp, session_key, {**answer, "state": "forged-state"})

    assert refused.value.code == "state_mismatch"
    assert refused.value.message == (
        "This sign-in does not match the one you started here: it may have expired, or have been "
        "started in another browser or tab. Start the sign-in again."
    )
    assert "POST login/organizations/oauth2/v2.0/token" not in idp.calls()
    # The flow is spent: the genuine answer arriving afterwards is refused too.
    with pytest.raises(base.StateMismatch):
        finish(idp, session_key, answer)
    assert "POST login/organizations/oauth2/v2.0/token" not in idp.calls()


def test_a_redirect_without_a_sign_in_started_in_this_session_is_refused(idp):
    auth_url, _started_elsewhere = start(idp)
    answer = idp.sign_in(auth_url, user=global_admin())
    other_session = SessionStore()
    other_session.save()

    with pytest.raises(base.StateMismatch) as refused:
        finish(idp, other_session.session_key, answer)

    assert refused.value.reason == "no_flow_in_session"


def test_a_replayed_redirect_is_refused(idp):
    auth_url, session_key = start(idp)
    answer = idp.sign_in(auth_url, user=global_admin())
    finish(idp, session_key, answer)

    with pytest.raises(base.StateMismatch):
        finish(idp, session_key, answer)

    assert idp.calls().count("POST login/organizations/oauth2/v2.0/token") == 1


def test_declined_consent_is_a_provider_error_in_plain_words(idp):
    auth_url, session_key = start(idp)
    answer = idp.refuse(
        auth_url,
        error="access_denied",
        description="AADSTS65004: User declined to consent to access the app.",
    )

    with pytest.raises(base.ProviderError) as refused:
        finish(idp, session_key, answer)

    assert refused.value.code == "provider_error"
    assert refused.value.reason == "access_denied AADSTS65004"
    assert refused.value.message == (
        "The sign-in with Microsoft Entra ID was cancelled, or the permissions the portal asks for were "
        "not granted. Sign in again and accept them to continue."
    )
    assert "POST login/organizations/oauth2/v2.0/token" not in idp.calls()
    assert flow_in_session(session_key) is None


def test_a_token_endpoint_error_names_its_code_not_its_description(idp, entra_settings):
    auth_url, session_key = start(idp)
    answer = idp.sign_in(auth_url, user=global_admin())
    entra_settings.ENTRA_CLIENT_SECRET = "an-expired-secret"  # rotated between the two legs

    with pytest.raises(base.ProviderError) as refused:
        finish(idp, session_key, answer)

    assert refused.value.message == (
        "Microsoft Entra ID could not complete the sign-in (invalid_client AADSTS7000215). Sign in again; "
        "if it keeps failing, give this code to the program staff."
    )


def test_the_token_endpoint_checks_the_pkce_verifier(idp):
    auth_url, session_key = start(idp)
    answer = idp.sign_in(auth_url, user=global_admin())
    session = SessionStore(session_key=session_key)
    session[SESSION_KEY] = {**session[SESSION_KEY], "code_verifier": "x" * 43}  # not the challenge's
    session.save()

    with pytest.raises(base.ProviderError) as refused:
        finish(idp, session_key, answer)

    assert refused.value.reason == "invalid_grant AADSTS501481"


# --- Refused: the ID token -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        pytest.param(
            {"aud": "9b1c4e2d-0000-4000-8000-000000000001"}, "audience", id="another app's audience"
        ),
        pytest.param({"aud": REMOVE}, "audience", id="no audience"),
        pytest.param({"iss": f"{LOGIN}/{FABRIKAM.tenant_id}/v2.0"}, "issuer", id="another tenant's issuer"),
        pytest.param({"iss": f"https://sts.windows.net/{CONTOSO.tenant_id}/"}, "issuer", id="v1 issuer"),
        pytest.param(
            {"iss": f"https://login.example.net/{CONTOSO.tenant_id}/v2.0"}, "issuer", id="foreign host"
        ),
        pytest.param({"tid": REMOVE}, "tenant", id="no tenant"),
        pytest.param({"tid": "contoso"}, "tenant", id="tenant not a GUID"),
        pytest.param(
            {"exp": int(time.time()) - 600, "iat": int(time.time()) - 4200}, "expired", id="expired"
        ),
        pytest.param({"exp": REMOVE}, "expired", id="no expiry"),
        # Computed when the test runs, not when it is collected: a long run must not make it valid.
        pytest.param({"nbf": lambda: int(time.time()) + 900}, "not_yet_valid", id="not yet valid"),
        pytest.param({"nonce": "f" * 64}, "nonce", id="nonce mismatch"),
        pytest.param({"nonce": REMOVE}, "nonce", id="no nonce"),
        pytest.param({"oid": REMOVE}, "object_id", id="no object id"),
    ],
)
def test_an_id_token_failing_a_check_is_refused(idp, claims, reason):
    claims = {name: value() if callable(value) else value for name, value in claims.items()}
    with pytest.raises(base.InvalidToken) as refused:
        sign_in(idp, global_admin(), **claims)

    assert (refused.value.code, refused.value.reason) == ("invalid_token", reason)
    assert refused.value.message == (
        "The answer from Microsoft Entra ID could not be verified, so it was not accepted. "
        "Start the sign-in again."
    )
    assert not any("graph" in call for call in idp.calls())  # nothing is read with a doubtful token


# --- Refused: Graph and the network ---------------------------------------------------------------


def test_graph_refusing_the_organization_asks_for_consent(idp):
    idp.graph_status["/organization"] = 403

    with pytest.raises(base.ProviderError) as refused:
        sign_in(idp, global_admin())

    assert refused.value.reason == "graph_403"
    assert refused.value.message == (
        "Microsoft Entra ID did not let the portal read your organization's details. Sign in again as a "
        "Global Administrator and accept the permissions the portal asks for on behalf of your organization."
    )


def test_an_organization_of_another_tenant_is_refused(idp):
    idp.organization_overrides["id"] = FABRIKAM.tenant_id

    with pytest.raises(base.ProviderError) as refused:
        sign_in(idp, global_admin())

    assert refused.value.reason == "organization_mismatch"


def test_an_unreachable_identity_provider_is_said_plainly(idp):
    idp.unreachable = True

    with pytest.raises(base.ProviderUnavailable) as refused:
        start(idp)

    assert refused.value.code == "provider_unavailable"
    assert refused.value.message == (
        "Microsoft Entra ID could not be reached. Wait a few minutes, then sign in again."
    )


@pytest.mark.parametrize("missing", ["ENTRA_CLIENT_ID", "ENTRA_CLIENT_SECRET", "ENTRA_AUTHORITY"])
def test_without_configuration_the_mode_is_off(idp, entra_settings, missing):
    setattr(entra_settings, missing, "")
    session = SessionStore()

    assert entra_configured() is False
    with pytest.raises(base.NotConfigured) as refused:
        entra_sign_in_start(session=session, redirect_uri=REDIRECT_URI, http_client=idp)
    with pytest.raises(base.NotConfigured):
        entra_sign_in_finish(session=session, query_params={"code": "c", "state": "s"}, http_client=idp)

    assert refused.value.code == "not_configured"
    assert refused.value.message == "Sign-in with Microsoft Entra ID is not available on this portal."
    assert idp.requests == []
    assert SESSION_KEY not in session


class RecordingAdapter(requests.adapters.BaseAdapter):
    """requests' own plumbing up to the socket, which it replaces: it records each call's timeout."""

    def __init__(self):
        super().__init__()
        self.timeouts = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.timeouts.append(timeout)
        response = requests.Response()
        response.status_code, response._content, response.request = 200, b"{}", request
        return response

    def close(self):
        pass


def test_the_production_transport_never_waits_without_a_timeout():
    transport = entra.entra_http_client()
    adapter = RecordingAdapter()
    transport.mount("https://", adapter)

    transport.get("https://graph.microsoft.com/v1.0/organization")
    transport.post(f"{LOGIN}/organizations/oauth2/v2.0/token", data={"grant_type": "authorization_code"})
    transport.get("https://graph.microsoft.com/v1.0/me", timeout=3)

    assert adapter.timeouts == [entra.HTTP_TIMEOUT_SECONDS, entra.HTTP_TIMEOUT_SECONDS, 3]


# --- Nothing secret in the logs ---------------------------------------------------------------------


def test_no_token_code_or_secret_reaches_the_logs(idp, entra_settings, caplog):
    caplog.set_level(logging.DEBUG)
    leaked_in_description = "leaked-" + uuid.uuid4().hex
    idp.secrets.add(leaked_in_description)

    tenant = sign_in(idp, global_admin())
    with pytest.raises(base.NotGlobalAdmin):
        sign_in(idp, ordinary_user())
    with pytest.raises(base.InvalidToken):
        sign_in(idp, global_admin(), nonce="0" * 64)
    auth_url, session_key = start(idp)
    with pytest.raises(base.ProviderError) as declined:
        finish(
            idp,
            session_key,
            idp.refuse(auth_url, error="access_denied", description=f"AADSTS65004: {leaked_in_description}"),
        )
    auth_url, session_key = start(idp)
    answer = idp.sign_in(auth_url, user=global_admin())
    entra_settings.ENTRA_CLIENT_SECRET = "not-" + CLIENT_SECRET
    idp.secrets.add(entra_settings.ENTRA_CLIENT_SECRET)
    with pytest.raises(base.ProviderError) as wrong_secret:
        finish(idp, session_key, answer)

    logged = "\n".join(
        [caplog.text]
        + [record.getMessage() for record in caplog.records]
        + [repr(record.args) for record in caplog.records]
    )
    assert len(idp.secrets) > 10  # client secrets, codes, verifiers, access and ID tokens
    for secret in idp.secrets:
        assert secret not in logged
        assert secret not in declined.value.message and secret not in wrong_secret.value.message
    # What the logs do say: outcomes, codes and identifiers.
    messages = [
        record.getMessage() for record in caplog.records if record.name == "enrollment.directory.entra"
    ]
    assert messages == [
        f"Microsoft Entra ID sign-in verified: tenant {tenant.tenant_id}, administrator object "
        f"{tenant.admin.object_id}",
        "Microsoft Entra ID sign-in refused: not_global_admin (role_missing)",
        "Microsoft Entra ID sign-in refused: invalid_token (nonce)",
        "Microsoft Entra ID sign-in refused: provider_error (access_denied AADSTS65004)",
        "Microsoft Entra ID sign-in refused: provider_error (invalid_client AADSTS7000215)",
    ]
    idp.unreachable = True
    with pytest.raises(base.ProviderUnavailable):
        start(idp)
    assert caplog.records[-1].getMessage() == (
        "Microsoft Entra ID sign-in not started: provider_unavailable (discovery_unreachable ConnectionError)"
    )
