"""The Microsoft Graph reads of the Entra ID sign-in, on the same injected transport as msal.

Only two reads, both with the signed-in Global Administrator's delegated token: the directory roles of
``/me`` (when the ID token's ``wids`` claim does not already show Global Administrator) and the
``/organization`` (id, name, verified domains, country). The token is only ever put in the
``Authorization`` header of requests to ``ENTRA_GRAPH_URL``; paging links elsewhere are not followed.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from enrollment.directory.base import ProviderError, ProviderUnavailable

logger = logging.getLogger(__name__)

MAX_PAGES = 20  # a person holds a handful of directory roles; this only bounds a misbehaving server

CONSENT_MISSING = _(
    "Microsoft Entra ID did not let the portal read your organization's details. Sign in again as a "
    "Global Administrator and accept the permissions the portal asks for on behalf of your organization."
)


class HttpResponse(Protocol):
    status_code: int
    text: str


class HttpClient(Protocol):
    """What msal and these reads need from a transport: a ``requests.Session`` has it."""

    def get(self, url: str, params: Any = None, headers: Any = None, **kwargs: Any) -> HttpResponse: ...

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **kwargs: Any
    ) -> HttpResponse: ...

    def close(self) -> None: ...


def graph_base_url() -> str:
    return settings.ENTRA_GRAPH_URL.rstrip("/")


def graph_get(http: HttpClient, url: str, *, access_token: str, params: dict | None = None) -> dict:
    """One Graph GET, its JSON body, or a ``DirectoryError`` in the person's words."""
    try:
        response = http.get(
            url,
            params=params,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
    except OSError as error:  # requests' exceptions are OSErrors
        raise ProviderUnavailable(reason=f"graph_unreachable {type(error).__name__}") from None
    if response.status_code in (401, 403):
        raise ProviderError(CONSENT_MISSING, reason=f"graph_{response.status_code}")
    if response.status_code >= 500 or response.status_code == 429:
        raise ProviderUnavailable(reason=f"graph_{response.status_code}")
    if response.status_code != 200:
        raise ProviderError(reason=f"graph_{response.status_code}")
    try:
        body = json.loads(response.text)
    except ValueError:
        raise ProviderError(reason="graph_not_json") from None
    if not isinstance(body, dict):
        raise ProviderError(reason="graph_not_json")
    return body


def directory_role_template_ids(http: HttpClient, *, access_token: str) -> set[str]:
    """The role template ids of the signed-in user's active directory roles (``/me/memberOf``)."""
    base = graph_base_url()
    url: str | None = f"{base}/me/memberOf/microsoft.graph.directoryRole"
    params: dict | None = {"$select": "id,roleTemplateId,displayName"}
    template_ids: set[str] = set()
    for _page in range(MAX_PAGES):
        if url is None:
            break
        body = graph_get(http, url, access_token=access_token, params=params)
        for item in body.get("value") or []:
            if not isinstance(item, dict):
                continue
            if item.get("@odata.type", "#microsoft.graph.directoryRole") != "#microsoft.graph.directoryRole":
                continue
            if isinstance(item.get("roleTemplateId"), str):
                template_ids.add(item["roleTemplateId"].lower())
        next_link = body.get("@odata.nextLink")
        # The bearer token goes to the Graph we were configured with, nowhere else.
        url = next_link if isinstance(next_link, str) and next_link.startswith(f"{base}/") else None
        params = None  # a nextLink already carries the query
    else:
        logger.warning("Graph /me/memberOf: stopped after %d pages", MAX_PAGES)
    return template_ids


def organization_get(http: HttpClient, *, access_token: str) -> dict:
    """The signed-in user's organization (``/organization``): id, name, verified domains, country."""
    body = graph_get(
        http,
        f"{graph_base_url()}/organization",
        access_token=access_token,
        params={"$select": "id,displayName,countryLetterCode,verifiedDomains"},
    )
    organizations = body.get("value")
    if (
        not isinstance(organizations, list)
        or len(organizations) != 1
        or not isinstance(organizations[0], dict)
    ):
        raise ProviderError(reason="graph_organization_missing")
    return organizations[0]
