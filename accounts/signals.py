"""Signals other apps listen to, so that accounts never imports them.

``organization_renamed(sender=Organization, organization=..., before=..., after=...)``: sent inside the
transaction of the service that changed the legal name; a receiver that keeps a copy of the name (the
provider directory's listing) updates it in the same transaction.
"""

from django.dispatch import Signal

organization_renamed = Signal()
