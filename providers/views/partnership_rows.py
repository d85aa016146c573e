"""The rows of the two partnership lists, a provider's Indirect resellers and a reseller's Indirect
providers, ready to print: their links, dates and labels worked out once per page (``portal.rows``)."""

from accounts.models import Organization
from portal.rows import RowLink, choice_labels, day, minute
from providers.models import Partnership


def partnership_rows_ready(organization: Organization, rows) -> None:
    """Each partnership row of ``organization``'s list gets ``url`` (its page), ``end_url`` (ending it),
    ``other`` (the other side), ``country_name``, ``status_name``, ``since`` and ``ended``: the provider's
    list shows when a partnership started to the minute, the reseller's to the day."""
    if not rows:
        return
    public_id = organization.public_id
    page = RowLink("providers:partnership", "partnership_id", organization_public_id=public_id)
    end = RowLink("providers:partnership_end", "partnership_id", organization_public_id=public_id)
    statuses = choice_labels(Partnership, "status")
    countries: dict[str, str] = {}
    is_provider = organization.kind == Organization.Kind.PROVIDER
    for row in rows:
        row.url = page(row.public_id)
        row.end_url = end(row.public_id)
        row.other = row.reseller if is_provider else row.provider
        country = row.other.country
        if country.code not in countries:
            countries[country.code] = country.name
        row.country_name = countries[country.code]
        row.status_name = statuses.get(row.status, row.status)
        row.since = minute(row.started_at) if is_provider else day(row.started_at)
        row.ended = day(row.ended_at)
