"""The rows of the two partnership lists, a provider's Indirect resellers and a reseller's Indirect
providers, ready to print: their links and labels worked out once per page (``portal.rows``), in plain
values that the row's ``{% memo %}`` keys it by (``portal.memo``); the dates are formatted in the memo's
body, which runs only when the row is not in the memo yet."""

from datetime import datetime
from typing import NamedTuple

from django_countries import countries

from accounts.models import Organization
from portal.rows import RowLink, choice_labels
from providers.models import Partnership


class PartnershipRow(NamedTuple):
    """What a row of a partnership list prints: the other side of the partnership and its state."""

    public_id: str
    url: str  # the partnership's page
    end_url: str  # ending it (the reseller's list only, else "")
    name: str  # the other side's legal name
    partner_id: str | None  # the reseller's (the provider's list only)
    country_name: str
    contact_email: str  # the provider's listing's support contact (the reseller's list only)
    contact_phone: str
    status: str
    status_name: str
    started_at: datetime  # the provider's list prints it to the minute, the reseller's to the day
    ended_at: datetime | None


def partnership_rows(organization: Organization, partnerships) -> list[PartnershipRow]:
    """The rows of ``organization``'s partnership list (``selectors.partnership_list_rows``)."""
    if not partnerships:
        return []
    public_id = organization.public_id
    page = RowLink("providers:partnership", "partnership_id", organization_public_id=public_id)
    statuses = choice_labels(Partnership, "status")
    country_names: dict[str, str] = {}
    end, contact = None, False
    if organization.kind != Organization.Kind.PROVIDER:
        end = RowLink("providers:partnership_end", "partnership_id", organization_public_id=public_id)
        contact = True
    rows = []
    for partnership in partnerships:
        row_id = str(partnership.public_id)
        country = partnership.other_country
        if country not in country_names:
            country_names[country] = countries.name(country)
        rows.append(
            PartnershipRow(
                public_id=row_id,
                url=page(row_id),
                end_url=end(row_id) if end else "",
                name=partnership.other_name,
                partner_id=None if contact else partnership.other_partner_id,
                country_name=country_names[country],
                contact_email=(partnership.other_contact_email or "") if contact else "",
                contact_phone=(partnership.other_contact_phone or "") if contact else "",
                status=partnership.status,
                status_name=statuses.get(partnership.status, partnership.status),
                started_at=partnership.started_at,
                ended_at=partnership.ended_at,
            )
        )
    return rows
