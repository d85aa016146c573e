"""portal.links and the page shell's links: reversed once per process, the same URLs reverse() gives, under
any script prefix and URLconf."""

import uuid

import pytest
from django.test import RequestFactory
from django.urls import clear_script_prefix, reverse, set_script_prefix
from django.utils import translation

from portal.context_processors import SHELL_ROUTES, SHELL_STATIC, portal
from portal.links import organization_url, url
from portal.navigation import registered_pages


def test_every_organization_page_links_where_reverse_does():
    public_id = uuid.uuid4()
    entries = registered_pages()
    assert len(entries) >= 10
    for entry in entries:
        expected = reverse(entry.route, kwargs={"organization_public_id": public_id})
        assert organization_url(entry.route, public_id) == expected
        assert organization_url(entry.route, str(public_id)) == expected
    assert organization_url("no-such-route", public_id) is None


def test_links_follow_the_script_prefix():
    public_id = uuid.uuid4()
    set_script_prefix("/portal/")
    try:
        dashboard = organization_url("accounts:organization_dashboard", public_id)
        assert dashboard == reverse("accounts:organization_dashboard", args=[public_id])
        assert dashboard.startswith("/portal/o/")
        assert url("profile") == reverse("profile") and url("profile").startswith("/portal/")
    finally:
        clear_script_prefix()
    assert organization_url("accounts:organization_dashboard", public_id) == f"/o/{public_id}/"


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_shell_context_is_what_the_template_tags_gave(language):
    from django.templatetags.static import static

    with translation.override(language):
        context = portal(RequestFactory().get("/"))
    assert context["shell_urls"] == {key: reverse(route) for key, route in SHELL_ROUTES.items()}
    assert context["shell_static"] == {key: static(path) for key, path in SHELL_STATIC.items()}
    other = {"en": ("ja", "日本語"), "ja": ("en", "English")}[language]
    assert context["shell_languages"] == (other,)
