"""{% memo %} (portal/memo.py): a fragment's HTML kept per process, keyed by every value it prints, so what a
page shows is what it would show without the memo: new data, another language, another user."""

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import NamedTuple

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from accounts.models import Organization
from accounts.roles import Role
from portal.memo import Derived, FragmentMemo, Key, Unfreezable, freeze, memo
from tests.factories.accounts import PASSWORD, MembershipFactory, OrganizationFactory, UserFactory
from tests.support.pages import CSRF_TOKEN, csrf_masked


class Row(NamedTuple):
    name: str
    seats: int


@dataclass(frozen=True)
class Item:
    label: str
    active: bool


@dataclass
class Mutable:
    label: str


def _render(source: str, **context) -> str:
    return Template("{% load i18n memo %}" + source).render(Context(context))


def test_equal_keys_exactly_for_values_that_print_alike():
    assert freeze("a") == freeze("a")
    assert freeze("<b>") != freeze(mark_safe("<b>"))
    assert freeze(True) != freeze(1) and freeze(0) != freeze(False) and freeze(1) != freeze(1.0)
    assert freeze(Decimal("1.0")) != freeze(Decimal("1.00")) and freeze(-0.0) != freeze(0.0)
    assert freeze(Decimal("1.50")) == freeze(Decimal("1.50")) and freeze(2.5) == freeze(2.5)
    # the same distinctions inside a sequence
    assert freeze(("a", 1, None)) == freeze(("a", 1, None)) != freeze(("a", True, None))
    assert freeze(("<b>", 1)) != freeze((mark_safe("<b>"), 1))
    assert freeze([Decimal("1.0")]) != freeze([Decimal("1.00")]) and freeze((1, 0.0)) != freeze((1, -0.0))
    assert freeze(Row("a", 1)) != freeze(Item("a", 1)) != freeze(("a", 1))
    moment = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    tokyo = moment.astimezone(timezone(timedelta(hours=9)))
    assert moment == tokyo and freeze(moment) != freeze(tokyo)  # the same instant, printed otherwise
    named = moment.astimezone(timezone(timedelta(hours=9), "JST"))
    assert named == tokyo and freeze(named) != freeze(tokyo)  # the same offset, another name ("T")
    assert freeze(("a", moment)) != freeze(("a", tokyo)) != freeze(("a", named))
    assert freeze(("a", tokyo)) == freeze(("a", moment.astimezone(timezone(timedelta(hours=9)))))
    assert freeze(tokyo) == freeze(moment.astimezone(timezone(timedelta(hours=9))))
    assert freeze(moment.time()) != freeze(moment.replace(tzinfo=None).time().replace(microsecond=1))
    assert freeze(Row("a", 1)) == freeze(Row("a", 1)) != freeze(("a", 1))
    assert freeze(Item("a", True)) != freeze(Item("a", False))
    assert freeze({"a": [1, (2, None)]}) == freeze({"a": [1, (2, None)]}) != freeze({"a": [1, (2, 0)]})
    assert freeze(Organization.Kind.RESELLER) == freeze(Organization.Kind.RESELLER)
    assert freeze(SimpleLazyObject(lambda: Row("a", 1))) == freeze(Row("a", 1))
    public_id = uuid.uuid4()
    assert freeze(public_id) == freeze(uuid.UUID(str(public_id)))
    with translation.override("ja"):
        assert freeze(gettext_lazy("Customers")) == (str, "顧客")


@pytest.mark.django_db
def test_what_a_memo_cannot_key_by_what_it_is_is_refused():
    organization = OrganizationFactory()
    for value in (organization, Mutable("a"), {"a": organization}, object()):
        with pytest.raises(Unfreezable):
            freeze(value)


def test_a_fragment_prints_what_it_would_print_without_the_memo():
    source = "{% memo row=row %}<td>{{ row.name }}</td><td>{{ row.seats }}</td>{% endmemo %}"
    plain = "<td>{{ row.name }}</td><td>{{ row.seats }}</td>"
    for row in (Row("Contoso <Japan>", 3), Row("Fabrikam", 4), Row("Contoso <Japan>", 3)):
        assert _render(source, row=row) == _render("{% load i18n %}" + plain, row=row)
    assert _render(source, row=Row("Fabrikam", 5)) == "<td>Fabrikam</td><td>5</td>"


def test_the_second_render_is_read_from_the_memo_and_new_values_render_anew():
    memo.clear()
    template = Template("{% load memo %}{% memo name=name %}<p>{{ name }}</p>{% endmemo %}")
    assert template.render(Context({"name": "a"})) == "<p>a</p>"
    assert (memo.hits, memo.misses) == (0, 1)
    assert template.render(Context({"name": "a"})) == "<p>a</p>"
    assert (memo.hits, memo.misses) == (1, 1)
    assert template.render(Context({"name": "b"})) == "<p>b</p>"
    assert (memo.hits, memo.misses) == (1, 2)


def test_the_body_sees_the_named_values_only():
    # a variable the key would not hold cannot be printed from the memo: it is not there
    assert _render("{% memo a=a %}[{{ a }}|{{ b }}]{% endmemo %}", a="1", b="2") == "[1|]"


def test_two_tags_never_share_fragments():
    source = "{% memo v=v %}one {{ v }}{% endmemo %} {% memo v=v %}two {{ v }}{% endmemo %}"
    assert _render(source, v="x") == "one x two x"


@pytest.mark.parametrize(("language", "expected"), [("en", "Customers"), ("ja", "顧客")])
def test_the_language_is_in_the_key(language, expected):
    template = Template('{% load i18n memo %}{% memo v=v %}{% translate "Customers" %}{% endmemo %}')
    template.render(Context({"v": 1}))  # another language first, then this one
    with translation.override(language):
        assert template.render(Context({"v": 1})) == expected


def test_the_time_zone_is_in_the_key():
    template = Template('{% load memo %}{% memo at=at %}{{ at|date:"H:i" }}{% endmemo %}')
    at = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    with override_settings(TIME_ZONE="UTC"):
        assert template.render(Context({"at": at})) == "12:00"
        from django.utils import timezone as django_timezone

        with django_timezone.override("Asia/Tokyo"):
            assert template.render(Context({"at": at})) == "21:00"
        assert template.render(Context({"at": at})) == "12:00"


def test_a_csrf_token_in_a_memo_is_refused_when_the_template_compiles():
    with pytest.raises(TemplateSyntaxError, match="CSRF"):
        Template("{% load memo %}{% memo a=a %}<form>{% csrf_token %}</form>{% endmemo %}")
    with pytest.raises(TemplateSyntaxError, match="block"):
        Template("{% load memo %}{% memo a=a %}<title>{% block title %}{% endblock %}</title>{% endmemo %}")
    with pytest.raises(TemplateSyntaxError, match="name=value"):
        Template("{% load memo %}{% memo a %}{% endmemo %}")


@pytest.mark.django_db
def test_an_unkeyable_value_fails_under_strict_and_renders_without_the_memo_otherwise(caplog):
    organization = OrganizationFactory(legal_name="Contoso")
    template = Template("{% load memo %}{% memo o=o %}{{ o.legal_name }}{% endmemo %}")
    with pytest.raises(Unfreezable):
        template.render(Context({"o": organization}))
    memo.clear()
    with override_settings(TEMPLATE_MEMO_STRICT=False), caplog.at_level(logging.WARNING, "portal.memo"):
        assert template.render(Context({"o": organization})) == "Contoso"
        organization.legal_name = "Contoso Japan"
        assert template.render(Context({"o": organization})) == "Contoso Japan"
    assert len(memo) == 0
    assert [record.getMessage() for record in caplog.records] == [
        "template memo at ?:1 not used: a memo cannot key a accounts.models.Organization"
    ]  # once per fragment


def test_the_memo_keeps_its_most_recently_used_fragments_only():
    fragments = FragmentMemo(entries=2)
    fragments.put("a", "A")
    fragments.put("b", "B")
    assert fragments.get("a") == "A"  # a is now the most recently used
    fragments.put("c", "C")
    assert (fragments.get("a"), fragments.get("b"), fragments.get("c")) == ("A", None, "C")
    assert len(fragments) == 2
    small = FragmentMemo(entries=10, characters=5)
    small.put("a", "AA")
    small.put("b", "BB")
    small.put("a", "AAA")  # replaced: counted once
    assert (small.get("a"), small.get("b")) == ("AAA", "BB")
    small.put("c", "CC")  # 7 characters: the least recently used goes
    assert (small.get("a"), small.get("b"), small.get("c")) == (None, "BB", "CC")
    small.put("d", "DDDDDD")  # larger than the whole memo: not kept, nothing dropped
    assert (small.get("d"), len(small)) == (None, 2)
    nothing = FragmentMemo(entries=0)
    nothing.put("a", "A")
    assert nothing.get("a") is None


def test_a_key_hashes_once_and_equals_exactly_the_same_value():
    fragments = FragmentMemo(entries=10)
    rows = (("a", (1, 2)), ("b", (3,)))
    fragments.put(Key(rows), "ROWS")
    assert fragments.get((("a", (1, 2)), ("b", (3,)))) == "ROWS"  # a plain tuple is wrapped alike
    assert fragments.get(Key((("a", (1, 2)), ("b", (4,))))) is None
    assert Key(rows) == Key(tuple(rows)) and Key(rows) != rows and Key((1,)) != Key((True, 1))
    assert len(fragments) == 1


BUILT: list = []


def rows_of(names, seats):
    """A Derived's build: a module-level function of its sources alone (it notes that it ran)."""
    BUILT.append(names)
    return [Row(name, seats) for name in names]


def test_a_derived_value_is_keyed_by_its_sources_and_built_on_a_miss_only():
    memo.clear()
    BUILT.clear()
    template = Template(
        "{% load memo %}{% memo rows=rows %}"
        "{% for row in rows %}[{{ row.name }} {{ row.seats }}]{% endfor %}{% endmemo %}"
    )

    def page(names, seats):
        return template.render(Context({"rows": Derived(rows_of, names, seats)}))

    assert page(("a", "b"), 1) == "[a 1][b 1]"
    assert page(("a", "b"), 1) == "[a 1][b 1]"  # from the memo: not built again
    assert BUILT == [("a", "b")]
    # any source that changes is a new key, built and printed anew
    assert page(("a", "c"), 1) == "[a 1][c 1]"
    assert page(("a", "b"), 2) == "[a 2][b 2]"
    assert page(("a", "b"), True) == "[a True][b True]"  # True is not 1 in a key
    assert BUILT == [("a", "b"), ("a", "c"), ("a", "b"), ("a", "b")]
    # keyed by the function too: another build of the same sources is another fragment
    assert freeze(Derived(rows_of, ("a",), 1)) == freeze(Derived(rows_of, ("a",), 1))
    assert freeze(Derived(rows_of, ("a",), 1)) != freeze(Derived(sorted, ("a",), 1))
    # outside a memo it is the list it builds
    derived = Derived(rows_of, ("x",), 3)
    assert list(derived) == [Row("x", 3)] and len(derived) == 1 and derived


def test_a_derived_value_needs_a_function_whose_values_are_keyed():
    seats = 1
    with pytest.raises(TypeError):
        Derived(lambda names: [(name, seats) for name in names], ("a",))  # a closure reads seats
    with pytest.raises(TypeError):
        Derived(lambda names: names, ("a",))  # a lambda of a function is made anew on every call


@pytest.mark.django_db
def test_the_shell_shows_a_new_name_at_once():
    """The top bar and the switcher are memoized: a renamed organization or user shows on the next page."""
    user = UserFactory(full_name="Aiko Tanaka")
    organization = OrganizationFactory(legal_name="Fabrikam Cloud Solutions")
    other = OrganizationFactory(legal_name="Contoso Distribution")
    MembershipFactory(user=user, organization=organization, roles=[Role.GLOBAL_ADMIN])
    MembershipFactory(user=user, organization=other, roles=[Role.GLOBAL_ADMIN])
    browser = Client()
    assert (
        browser.post(reverse("account_login"), {"login": user.email, "password": PASSWORD}).status_code == 302
    )
    page = reverse("accounts:organization_dashboard", args=[organization.public_id])

    first = browser.get(page).content.decode()
    assert "Fabrikam Cloud Solutions" in first and "Contoso Distribution" in first and ">Aiko<" in first
    assert browser.get(page).content.decode().count("Fabrikam Cloud Solutions") == first.count(
        "Fabrikam Cloud Solutions"
    )

    Organization.objects.filter(pk=other.pk).update(legal_name="Contoso Japan")
    user.full_name = "Haruto Sato"
    user.save(update_fields=["full_name"])
    second = browser.get(page).content.decode()
    assert "Contoso Japan" in second and "Contoso Distribution" not in second
    assert ">Haruto<" in second and ">Aiko<" not in second


@pytest.mark.django_db
def test_the_dashboard_cards_come_from_the_memo_and_show_new_figures_at_once():
    user = UserFactory(full_name="Aiko Tanaka")
    organization = OrganizationFactory(legal_name="Fabrikam Cloud Solutions")
    MembershipFactory(user=user, organization=organization, roles=[Role.GLOBAL_ADMIN])
    browser = Client()
    signed_in = browser.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert signed_in.status_code == 302
    page = reverse("accounts:organization_dashboard", args=[organization.public_id])
    browser.get(page)  # shows the "signed in" message once

    first_response = browser.get(page)
    first = csrf_masked(first_response.content.decode())
    hits, misses = memo.hits, memo.misses
    second_response = browser.get(page)
    second = csrf_masked(second_response.content.decode())
    assert second == first
    cards = first.count('<article class="card')
    # the shell and the cards (the Admin agent card's form included) come from the memo, nothing anew
    assert cards >= 3 and memo.hits > hits and memo.misses == misses
    assert "Add me to the Admin agent group" in second  # its form, with this response's own token:
    tokens = CSRF_TOKEN.findall(second_response.content.decode())
    assert len(tokens) == 3 and len(set(tokens)) == 1  # language switcher, sign out, the card's form
    assert not set(tokens) & set(CSRF_TOKEN.findall(first_response.content.decode()))

    def members_shown(html: str) -> str:
        return re.search(r"Active members</dt><dd>(\d+)</dd>", html).group(1)

    assert members_shown(second) == "1"
    MembershipFactory(organization=organization)
    assert members_shown(browser.get(page).content.decode()) == "2"


def test_a_language_block_around_a_memo_is_in_its_key():
    """The language and time zone are read once per template render, except for a memo inside a block
    that switches them for a part of the template (an email in its recipient's language, say)."""
    template = Template(
        '{% load i18n memo %}{% memo v=v %}{% translate "Customers" %}{% endmemo %}|'
        '{% language recipient %}{% memo v=v %}{% translate "Customers" %}{% endmemo %}{% endlanguage %}'
    )
    with translation.override("en"):
        assert template.render(Context({"v": 1, "recipient": "ja"})) == "Customers|顧客"
        assert template.render(Context({"v": 1, "recipient": "en"})) == "Customers|Customers"
    with translation.override("ja"):
        assert template.render(Context({"v": 1, "recipient": "en"})) == "顧客|Customers"


def test_a_name_that_names_nothing_fails_under_strict_and_says_where():
    """A memo inside another sees the outer one's names only: a value the outer one did not pass would
    print nothing, silently. Under TEMPLATE_MEMO_STRICT (the tests) it is an error; ``|default`` says a
    value may be missing."""
    inner_misses = Template(
        "{% load memo %}{% memo rows=rows %}{% for row in rows %}"
        "{% memo row=row label=label %}{{ label }}{{ row }}{% endmemo %}{% endfor %}{% endmemo %}"
    )
    with pytest.raises(TemplateSyntaxError, match=r"label=label names nothing here"):
        inner_misses.render(Context({"rows": [1, 2], "label": "#"}))
    with override_settings(TEMPLATE_MEMO_STRICT=False):
        assert inner_misses.render(Context({"rows": [1, 2], "label": "#"})) == "12"  # what strict prevents
    optional = Template('{% load memo %}{% memo label=label|default:"" %}[{{ label }}]{% endmemo %}')
    assert optional.render(Context({})) == "[]"


# --- Holes: what a memo never keeps ----------------------------------------------------------------------


def test_a_hole_is_printed_anew_on_every_render_around_the_kept_html():
    memo.clear()
    template = Template(
        "{% load memo %}{% memo name=name %}<p>{{ name }}|{% hole %}{{ path }}{% endhole %}|{{ name }}</p>"
        "{% endmemo %}"
    )
    assert template.render(Context({"name": "a", "path": "/one"})) == "<p>a|/one|a</p>"
    # the memo's values are the same, the hole's are not: the kept HTML, the new hole
    assert template.render(Context({"name": "a", "path": "/two?x=<b>"})) == "<p>a|/two?x=&lt;b&gt;|a</p>"
    assert (memo.hits, memo.misses) == (1, 1)
    assert template.render(Context({"name": "b", "path": "/two"})) == "<p>b|/two|b</p>"


def test_a_hole_sees_the_context_around_the_memo_not_the_memos_values():
    source = "{% memo name=name %}{{ secret }}[{% hole %}{{ secret }}{{ name }}{% endhole %}]{% endmemo %}"
    # the body does not see what the memo is not keyed by; the hole sees the page's context
    assert _render(source, name="a", secret="s") == "[sa]"


def test_a_csrf_token_or_a_block_may_be_in_a_hole_only():
    Template("{% load memo %}{% memo a=a %}<form>{% hole %}{% csrf_token %}{% endhole %}</form>{% endmemo %}")
    Template(
        "{% load memo %}{% memo a=a %}<p>{% hole %}{% block t %}{% endblock %}{% endhole %}</p>{% endmemo %}"
    )
    with pytest.raises(TemplateSyntaxError, match="CSRF"):
        Template(
            "{% load memo %}{% memo a=a %}{% hole %}{% endhole %}{% if a %}{% csrf_token %}{% endif %}"
            "{% endmemo %}"
        )
    with pytest.raises(TemplateSyntaxError, match="no arguments"):
        Template("{% load memo %}{% hole a %}{% endhole %}")


def test_holes_in_an_inner_memo_or_a_loop_are_printed_in_the_outermost_context():
    memo.clear()
    template = Template(
        "{% load memo %}{% memo items=items %}{% for item in items %}{% memo item=item %}"
        "<{{ item }}:{% hole %}{{ page }}{% endhole %}>{% endmemo %}{% endfor %}{% endmemo %}"
    )
    assert template.render(Context({"items": ("a", "b"), "page": "1"})) == "<a:1><b:1>"
    assert (memo.hits, memo.misses) == (0, 3)
    assert template.render(Context({"items": ("a", "b"), "page": "2"})) == "<a:2><b:2>"  # outer memo's
    assert (memo.hits, memo.misses) == (1, 3)
    assert template.render(Context({"items": ("b", "c"), "page": "3"})) == "<b:3><c:3>"  # b kept, c anew
    assert (memo.hits, memo.misses) == (2, 5)


def test_a_hole_outside_any_memo_is_as_if_it_were_not_there():
    assert _render("<{% hole %}{{ a }}{% endhole %}>", a="<x>") == "<&lt;x&gt;>"


@pytest.mark.django_db
def test_the_shell_keeps_its_html_but_not_its_tokens_or_path(client):
    membership = MembershipFactory(roles=[Role.GLOBAL_ADMIN])
    client.force_login(membership.user)
    dashboard = reverse(
        "accounts:organization_dashboard",
        kwargs={"organization_public_id": membership.organization.public_id},
    )
    first = client.get(dashboard).content.decode()
    hits = memo.hits
    second = client.get(dashboard + "?from=x").content.decode()
    assert memo.hits > hits
    tokens = [re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page) for page in (first, second)]
    assert len(tokens[0]) == len(tokens[1]) >= 2  # the language switcher's, Sign out's and the page's
    assert not set(tokens[0]) & set(tokens[1])  # each response masks its token anew
    assert f'name="next" value="{dashboard}"' in first
    assert f'name="next" value="{dashboard}?from=x"' in second
    assert csrf_masked(second).replace("?from=x", "") == csrf_masked(first)
