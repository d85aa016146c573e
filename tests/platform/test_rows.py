"""portal.rows: what a list view writes out for its rows is exactly what the template tags it replaces
print, in both languages and any time zone (the dates, a sentence with an escaped name, a plural, a
choice's label, a row's link)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone as django_timezone
from django.utils import translation
from django.utils.translation import gettext, ngettext

from commerce.models import Subscription, SubscriptionStatus
from portal.rows import RowLink, choice_labels, day, minute, sentence

DATES = [
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(987, 6, 5, 4, 3, tzinfo=UTC),
    datetime(2026, 3, 1, 0, 30, tzinfo=timezone(timedelta(hours=9))),
    None,
]


def rendered(source: str, **values) -> str:
    return Template("{% load i18n %}" + source).render(Context(values))


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/Los_Angeles"])
@pytest.mark.parametrize("value", DATES)
def test_the_dates_are_the_date_filters(value, zone):
    with django_timezone.override(zone):
        assert day(value) == rendered('{{ value|date:"Y-m-d" }}', value=value)
        assert minute(value) == rendered('{{ value|date:"Y-m-d H:i" }}', value=value)


@pytest.mark.parametrize("language", ["en", "ja"])
@pytest.mark.parametrize("name", ["Fabrikam KK", 'Tom & Jerry <"Cloud"> O\'Brien'])
def test_a_sentence_is_the_blocktranslate_with_its_value_escaped(language, name):
    with translation.override(language):
        written = sentence(gettext("Pages of %(customer)s"), customer=name)
        tag = rendered(
            "{% blocktranslate trimmed with customer=name %}Pages of {{ customer }}{% endblocktranslate %}",
            name=name,
        )

    assert written == tag
    assert "<" not in written.replace("&lt;", "")


@pytest.mark.parametrize("language", ["en", "ja"])
@pytest.mark.parametrize("count", [0, 1, 2, 30, 1200])
def test_a_plural_sentence_is_the_blocktranslate_count(language, count):
    with translation.override(language):
        written = sentence(ngettext("in %(days)s day", "in %(days)s days", count), days=count)
        tag = rendered(
            "{% blocktranslate trimmed count days=count %}in {{ days }} day{% plural %}"
            "in {{ days }} days{% endblocktranslate %}",
            count=count,
        )

    assert written == tag


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_choice_labels_are_get_display(language):
    with translation.override(language):
        labels = choice_labels(Subscription, "status")
        for status in [*SubscriptionStatus.values, "unknown"]:
            subscription = Subscription(status=status)
            assert labels.get(status, status) == str(subscription.get_status_display())


def test_a_row_link_is_the_reversed_route():
    organization_id = "6f0c1c1e-58a5-4c55-9f55-2a0c4b1a7e11"
    customer_id = "0b7f6a52-1d1e-4a77-8a43-9f7c0c3f2d10"
    link = RowLink("customers:customer", "customer_id", organization_public_id=organization_id)

    assert link(customer_id) == reverse(
        "customers:customer", kwargs={"organization_public_id": organization_id, "customer_id": customer_id}
    )
