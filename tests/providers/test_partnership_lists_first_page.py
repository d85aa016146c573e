"""The first page of the partnership lists (a provider's Indirect resellers, a reseller's Indirect providers
and the requests it sent) is read by a query compiled once per process (``providers.selectors``
``partnership_list_rows_first``, ``requests_sent_list_rows_first``): the same page as ``keyset_page``
gives, with the same links; a search and the next pages still are ``keyset_page``'s. The pages print their
content through ``{% memo %}`` but their page links (signed cursors, new every second)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.http import QueryDict
from django.urls import reverse

from accounts.roles import Role
from portal.lists import keyset_first_page, keyset_page
from portal.memo import memo
from providers import selectors
from providers.models import Partnership, PartnershipRequest
from tests.factories.accounts import MembershipFactory
from tests.factories.providers import (
    PartnershipFactory,
    PartnershipRequestFactory,
    ProviderFactory,
    ResellerFactory,
)
from tests.support.pages import body_of

pytestmark = pytest.mark.django_db

STARTED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def page_url(name: str, organization, query: str = "") -> str:
    path = reverse(f"providers:{name}", kwargs={"organization_public_id": organization.public_id})
    return f"{path}?{query}" if query else path


def signed_in(client, organization, language="en"):
    member = MembershipFactory(
        organization=organization, roles=[Role.GLOBAL_ADMIN], user__preferred_language=language
    )
    client.force_login(member.user)
    return member


def partnered(provider=None, reseller=None, *, count: int, ended_every: int = 0) -> list[Partnership]:
    """``count`` partnerships of the provider (or the reseller) with new organizations, the newest last;
    every ``ended_every``-th one ended."""
    made = []
    for number in range(count):
        ended = ended_every and number % ended_every == 0
        made.append(
            PartnershipFactory(
                provider=provider or ProviderFactory(legal_name=f"Provider {number:03d}"),
                reseller=reseller or ResellerFactory(legal_name=f"Reseller {number:03d}"),
                started_at=STARTED + timedelta(minutes=number),
                status=Partnership.Status.ENDED if ended else Partnership.Status.ACTIVE,
            )
        )
    return made


#: A page link's signed cursor: its value, then the time it was signed and the signature.
CURSOR = re.compile(r"((?:after|before)=[\w-]+)%3A[\w-]+%3A[\w-]+")


def cursors_masked(body: str) -> str:
    """The page with its links' cursors masked: a cursor signed a second later differs."""
    return CURSOR.sub(r"\1", body)


def same_rows(page, expected, *names) -> bool:
    return [tuple(getattr(row, name) for name in names) for row in page.object_list] == [
        tuple(getattr(row, name) for name in names) for row in expected.object_list
    ]


@pytest.mark.parametrize("count", [0, 3, 50, 51, 120])
@pytest.mark.parametrize("side", ["provider", "reseller"])
def test_the_first_page_of_partnerships_is_the_one_keyset_page_gives(side, count):
    organization = ProviderFactory() if side == "provider" else ResellerFactory()
    partnered(**{side: organization}, count=count, ended_every=3)
    query = QueryDict("status=all&x=%C3%A9")
    for status in ("", Partnership.Status.ACTIVE, Partnership.Status.ENDED):
        expected = keyset_page(
            selectors.partnership_list_rows(organization, status=status),
            ordering=selectors.PARTNERSHIP_ORDERING,
            query=query,
        )

        rows = selectors.partnership_list_rows_first(
            organization, status=status, ordering=selectors.PARTNERSHIP_ORDERING, count=51
        )
        page = keyset_first_page(rows, ordering=selectors.PARTNERSHIP_ORDERING, query=query)

        assert page == expected
        other = (
            ("other_partner_id",) if side == "provider" else ("other_contact_email", "other_contact_phone")
        )
        assert same_rows(
            page, expected, "pk", "public_id", "status", "started_at", "ended_at", "other_name",
            "other_country", *other,
        )  # fmt: skip


@pytest.mark.parametrize("count", [0, 10, 11, 25])
def test_the_first_page_of_the_requests_sent_is_the_one_keyset_page_gives(count):
    reseller = ResellerFactory()
    for number in range(count):
        PartnershipRequestFactory(reseller=reseller, provider=ProviderFactory(legal_name=f"P {number}"))
    query = QueryDict("after=abc&status=ended")
    expected = keyset_page(
        selectors.requests_sent_list_rows(reseller),
        ordering=selectors.REQUEST_ORDERING,
        query=query,
        size=10,
        prefix="requests_",
    )

    rows = selectors.requests_sent_list_rows_first(reseller, ordering=selectors.REQUEST_ORDERING, count=11)
    page = keyset_first_page(
        rows, ordering=selectors.REQUEST_ORDERING, query=query, size=10, prefix="requests_"
    )

    assert page == expected
    assert same_rows(page, expected, "pk", "status", "message", "created_at", "provider_name")
    if count > 10:
        assert page.next_query.startswith("after=abc&status=ended&requests_after=")


def test_a_provider_pages_through_its_resellers_and_searches_them(client):
    provider = ProviderFactory()
    partnerships = partnered(provider=provider, count=53)
    newest_first = [partnership.public_id for partnership in reversed(partnerships)]
    signed_in(client, provider)

    first = client.get(page_url("resellers", provider))
    second = client.get(page_url("resellers", provider, first.context["page"].next_query))
    found = client.get(page_url("resellers", provider, "q=Reseller 05"))

    assert [row.public_id for row in first.context["page"].object_list] == newest_first[:50]
    assert [row.public_id for row in second.context["page"].object_list] == newest_first[50:]
    assert 'rel="next"' in body_of(first) and 'rel="prev"' not in body_of(first)
    assert 'rel="prev"' in body_of(second) and 'rel="next"' not in body_of(second)
    assert body_of(second).count('<td class="table__name">') == 3
    assert [row.name for row in found.context["rows"]] == ["Reseller 052", "Reseller 051", "Reseller 050"]
    nothing = body_of(client.get(page_url("resellers", provider, "q=nobody")))
    assert '<p class="empty">No reseller matches these filters.</p>' in nothing
    refused = body_of(client.get(page_url("resellers", provider, "status=unknown")), status=400)
    assert '<p class="empty">Nothing is listed until the filters are corrected.</p>' in refused
    assert "Export CSV" not in refused and 'rel="next"' not in refused


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_reseller_pages_through_its_providers_and_its_requests(client, language):
    reseller = ResellerFactory()
    partnerships = partnered(reseller=reseller, count=52)
    for number in range(12):
        PartnershipRequestFactory(
            reseller=reseller, provider=ProviderFactory(legal_name=f"Asked {number:02d}")
        )
    signed_in(client, reseller, language)

    first = client.get(page_url("providers", reseller))
    hits, misses = memo.hits, memo.misses
    again = client.get(page_url("providers", reseller))
    assert memo.misses == misses and memo.hits - hits >= 3
    partnerships_next = first.context["page"].next_query
    requests_next = first.context["requests_page"].next_query
    second = client.get(page_url("providers", reseller, partnerships_next))
    more_requests = client.get(page_url("providers", reseller, requests_next))

    newest_first = [partnership.public_id for partnership in reversed(partnerships)]
    assert [row.public_id for row in first.context["page"].object_list] == newest_first[:50]
    assert [row.public_id for row in second.context["page"].object_list] == newest_first[50:]
    assert len(first.context["request_rows"]) == 10 and len(more_requests.context["request_rows"]) == 2
    assert requests_next.startswith("requests_after=")
    assert cursors_masked(body_of(again)) == cursors_masked(body_of(first))
    # the partnerships' next page keeps the requests' first page, and the other way round
    assert [row.provider_name for row in second.context["request_rows"]] == [
        row.provider_name for row in first.context["request_rows"]
    ]
    assert [row.public_id for row in more_requests.context["page"].object_list] == newest_first[:50]
    assert body_of(more_requests).count('rel="prev"') == 1


def test_a_reseller_without_partnerships_or_requests_sees_both_empty_lists(client):
    reseller = ResellerFactory()
    PartnershipRequestFactory(reseller=reseller, status=PartnershipRequest.Status.DECLINED)
    signed_in(client, reseller)

    body = body_of(client.get(page_url("providers", reseller, "status=ended")))
    assert '<p class="empty">No ended partnerships.</p>' in body
    assert body.count("<table") == 1  # the requests only

    PartnershipRequest.objects.filter(reseller=reseller).delete()
    body = body_of(client.get(page_url("providers", reseller)))
    assert "<table" not in body
    assert (
        "You have not asked any provider to connect. Open a provider in Find a provider to ask.</p>" in body
    )
