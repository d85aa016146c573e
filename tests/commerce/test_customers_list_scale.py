"""The Customers page at any number of subscriptions per customer (issue 12, bench/scale.py): a row shows
the first subscriptions by name and says there are more; the page reads the same rows and makes the same
queries whether a customer has six subscriptions or sixty."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commerce.views.subscriptions import SUBSCRIPTIONS_PER_ROW
from tests.factories.commerce import SubscriptionFactory, commerce_linked
from tests.factories.providers import ProviderFactory, ResellerFactory

pytestmark = pytest.mark.django_db

MORE = "More subscriptions on the customer page."


def subscriptions_add(link, names):
    for name in names:
        SubscriptionFactory(customer=link.customer, reseller=link.reseller, provider=link.provider, name=name)


@pytest.mark.parametrize("side", ["reseller", "provider"])
def test_a_row_shows_the_first_subscriptions_and_says_there_are_more(client, side):
    link = commerce_linked(ResellerFactory(), ProviderFactory())
    few = commerce_linked(link.reseller, link.provider)
    subscriptions_add(link, [f"Suite {n:02d}" for n in range(SUBSCRIPTIONS_PER_ROW + 2)])
    subscriptions_add(few, [f"Suite {n:02d}" for n in range(SUBSCRIPTIONS_PER_ROW)])
    organization = getattr(link, side)
    client.force_login(getattr(link, f"{side}_agent").user)

    response = client.get(
        reverse("customers:list", kwargs={"organization_public_id": organization.public_id})
    )

    rows = {row.customer_id: row for row in response.context["rows"]}
    assert [s.name for s in rows[link.customer.pk].subscriptions] == [f"Suite {n:02d}" for n in range(5)]
    assert rows[link.customer.pk].subscriptions_more is True
    assert [s.name for s in rows[few.customer.pk].subscriptions] == [f"Suite {n:02d}" for n in range(5)]
    assert rows[few.customer.pk].subscriptions_more is False
    assert response.content.decode().count(MORE) == 1


def test_the_page_reads_as_many_subscription_rows_for_sixty_subscriptions_as_for_six(client):
    link = commerce_linked(ResellerFactory(), ProviderFactory())
    client.force_login(link.reseller_agent.user)
    url = reverse("customers:list", kwargs={"organization_public_id": link.reseller.public_id})

    def subscription_rows_read() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        [sql] = [query["sql"] for query in captured if 'FROM "commerce_subscription"' in query["sql"]]
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return len(cursor.fetchall()), len(captured)

    subscriptions_add(link, [f"Suite {n:02d}" for n in range(6)])
    client.get(url)  # the session's first reads
    few_rows, few_queries = subscription_rows_read()
    subscriptions_add(link, [f"Suite {n:02d}" for n in range(6, 60)])
    many_rows, many_queries = subscription_rows_read()

    assert few_rows == many_rows == SUBSCRIPTIONS_PER_ROW + 1
    assert few_queries == many_queries


def test_seats_used_are_counted_per_subscription_read_not_grouped_over_all_of_them():
    from commerce import selectors
    from commerce.models import Subscription
    from tests.factories.accounts import DirectoryUserFactory
    from tests.factories.commerce import LicenceAssignmentFactory

    link = commerce_linked(ResellerFactory(), ProviderFactory())
    subscriptions_add(link, ["Suite A", "Suite B"])
    used = Subscription.objects.get(customer=link.customer, name="Suite A")
    for _ in range(3):
        LicenceAssignmentFactory(
            subscription=used, directory_user=DirectoryUserFactory(tenant=link.customer.directory_tenant)
        )
    counted = selectors.with_assigned_counts(Subscription.objects.filter(customer=link.customer)).order_by(
        "name"
    )

    assert [(row.name, row.assigned) for row in counted] == [("Suite A", 3), ("Suite B", 0)]
    sql, params = counted.all()[:1].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # the first rows never wait for every subscription's count: no grouping over the join
    assert "SubPlan" in plan, plan
    assert "HashAggregate" not in plan and "GroupAggregate" not in plan, plan
