"""portal.templatetags.addresses: an address breaks between its parts, and stays escaped."""

from django.template import Context, Template


def _render(value) -> str:
    return Template("{% load addresses %}{{ value|address_breaks }}").render(Context({"value": value}))


def test_an_address_may_break_before_each_at_sign_and_dot():
    assert _render("yuto.matsumoto@sakuralogistics.onportal.example") == (
        "yuto<wbr>.matsumoto<wbr>@sakuralogistics<wbr>.onportal<wbr>.example"
    )


def test_an_address_is_escaped_before_the_breaks_go_in():
    assert _render('<b>"x"</b>@a.example') == "&lt;b&gt;&quot;x&quot;&lt;/b&gt;<wbr>@a<wbr>.example"
    assert _render("plain") == "plain"
