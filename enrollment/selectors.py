"""Reads of the enrollment app that views need."""

from django.db.models import QuerySet

from enrollment.models import MembershipAccount, PartnerProfile


def membership_profiles_for(account: MembershipAccount) -> QuerySet[PartnerProfile]:
    """The organization profiles a signed-in membership account may choose from, by name."""
    return PartnerProfile.objects.filter(account=account).order_by("legal_name", "partner_id")
