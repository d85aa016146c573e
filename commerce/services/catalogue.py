"""Reading the catalogue: which offers a customer's country can buy, and at what price."""

from __future__ import annotations

from django.db.models import QuerySet

from commerce.models import Offer, OfferPrice


def offer_price_for(offer: Offer, country) -> OfferPrice | None:
    """The offer's available price in ``country`` (an ISO code or a Country), or None: not sold there."""
    code = getattr(country, "code", country)
    return OfferPrice.objects.filter(offer=offer, country=code, is_available=True).first()


def offers_on_sale_in(country) -> QuerySet[Offer]:
    """Offers on sale with an available price in ``country``, by name (each with ``price`` prefetched
    as ``local_prices``)."""
    from django.db.models import Prefetch

    code = getattr(country, "code", country)
    local = OfferPrice.objects.filter(country=code, is_available=True)
    return (
        Offer.objects.filter(is_active=True, prices__country=code, prices__is_available=True)
        .prefetch_related(Prefetch("prices", queryset=local, to_attr="local_prices"))
        .order_by("name", "id")
        .distinct()
    )
