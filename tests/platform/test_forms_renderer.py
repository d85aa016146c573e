"""Selects written in Python are the HTML Django's own templates write, escaping included."""

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe

from portal.forms_renderer import PortalFormRenderer

NASTY = "\"><script>alert('x')</script>&amp;"


class Everything(forms.Form):
    plain = forms.ChoiceField(choices=[("", "All actions"), ("a", "Alpha"), ("b", "B & <b>")])
    grouped = forms.ChoiceField(
        choices=[("Fruit", [("apple", "Apple"), ("pear", NASTY)]), ("Veg", [(NASTY, "Leek")]), ("x", "Loose")]
    )
    many = forms.MultipleChoiceField(choices=[(1, "One"), (2, "Two"), (3, mark_safe("<em>Three</em>"))])
    flagged = forms.ChoiceField(
        choices=[("y", "Yes"), ("n", "No")],
        widget=forms.Select(
            attrs={"disabled": True, "data-x": NASTY, "hidden": False, "aria-describedby": "h"}
        ),
    )
    numbers = forms.TypedChoiceField(
        choices=[(None, "None"), (0, "Zero"), (1.5, "One and a half")], coerce=str
    )


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"plain": "b", "grouped": NASTY, "many": ["1", "3"], "flagged": "n", "numbers": "0"},
        {"plain": "nope", "grouped": "pear", "many": ["9"]},
    ],
)
def test_every_select_is_the_html_of_djangos_templates(data):
    ours = Everything(data or None, renderer=PortalFormRenderer())
    django = Everything(data or None, renderer=DjangoTemplates())

    for name in Everything.base_fields:
        assert str(ours[name]) == str(django[name]), name


def test_the_portal_uses_it_and_a_select_renders_no_template_per_option(settings, django_assert_num_queries):
    from django.forms.renderers import get_default_renderer
    from django.template import engines

    assert isinstance(get_default_renderer(), PortalFormRenderer)
    renderer = PortalFormRenderer()
    rendered = []
    original = renderer.engine.get_template

    def counting(name):
        rendered.append(name)
        return original(name)

    renderer.engine.get_template = counting
    html = str(Everything(renderer=renderer)["plain"])
    assert html.count("<option") == 3
    assert rendered == []
    assert engines  # the project's engines are untouched
