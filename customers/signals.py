"""Receivers: a customer organization renamed keeps its partners' lists (``customer_name``) in step."""

from customers.models import CustomerRelationship


def customer_rename(sender, *, organization, before, after, **kwargs) -> None:
    CustomerRelationship.objects.filter(customer=organization).update(customer_name=after)
