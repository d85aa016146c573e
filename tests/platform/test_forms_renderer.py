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


class Inputs(forms.Form):
    q = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": NASTY}))
    agree = forms.BooleanField(required=False)
    when = forms.DateField(required=False)
    upload = forms.FileField(required=False)
    pair = forms.SplitDateTimeField(required=False)


@pytest.mark.parametrize(
    "data",
    [{}, {"q": NASTY, "agree": "on", "when": "2026-11-25"}, {"q": "a", "when": "nope", "pair_0": "x"}],
)
def test_other_widgets_are_djangos_html_and_printed_again_from_the_memo(data):
    from portal.memo import memo

    memo.clear()
    django = Inputs(data or None, renderer=DjangoTemplates())
    first = Inputs(data or None, renderer=PortalFormRenderer())
    html = [str(first[name]) for name in first.fields]
    assert html == [str(django[name]) for name in django.fields]
    assert memo.misses and not memo.hits
    misses = memo.misses
    again = Inputs(data or None, renderer=PortalFormRenderer())
    assert [str(again[name]) for name in again.fields] == html
    assert memo.hits == misses and memo.misses == misses  # every widget printed from the memo


def test_a_widget_is_keyed_by_its_value_and_language():
    from django.utils import translation

    from portal.memo import memo

    memo.clear()
    renderer = PortalFormRenderer()
    assert 'value="a"' in str(Inputs({"q": "a"}, renderer=renderer)["q"])
    assert 'value="b"' in str(Inputs({"q": "b"}, renderer=renderer)["q"])
    assert 'value="b"' not in str(Inputs({}, renderer=renderer)["q"])
    assert memo.misses == 3
    # a widget template may translate a word: each language has its own entry
    for language in ("en", "ja", "en"):
        with translation.override(language):
            str(Inputs({"q": "a"}, renderer=renderer)["q"])
    assert (memo.misses, memo.hits) == (4, 2)
