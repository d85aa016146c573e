"""Links every page shows, worked out once per process instead of once per link and request.

``reverse()`` walks the URL resolver on each call (about 20-40 µs): the side navigation, the organization
switcher and the top bar of every page made 15-25 of them. An organization page's URL differs between
organizations only by the organization's public id, so each route is reversed once, with a placeholder
id, and the real id is put in its place; routes without arguments are reversed once. Both are keyed by
the URLconf and script prefix in force, so a different mount point or URLconf never sees another's URLs.
"""

import functools
import uuid

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

_PLACEHOLDER = str(uuid.uuid5(uuid.NAMESPACE_URL, "portal.links/organization"))


@functools.lru_cache(maxsize=512)
def _organization_template(route: str, urlconf, prefix: str) -> str | None:
    try:
        url = reverse(route, kwargs={"organization_public_id": _PLACEHOLDER})
    except NoReverseMatch:
        return None
    if url.count(_PLACEHOLDER) != 1:  # pragma: no cover - a route that repeats its organization
        raise ValueError(f"{route} does not hold the organization's id exactly once")
    return url


def organization_url(route: str, public_id) -> str | None:
    """``reverse(route, kwargs={"organization_public_id": public_id})``, or None when it does not reverse."""
    template = _organization_template(route, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())
    return None if template is None else template.replace(_PLACEHOLDER, str(public_id))


@functools.lru_cache(maxsize=128)
def _plain(route: str, urlconf, prefix: str) -> str:
    return reverse(route)


def url(route: str) -> str:
    """``reverse(route)`` for a route without arguments."""
    return _plain(route, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())
