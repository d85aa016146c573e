"""Signals other apps listen to, so that providers never imports them.

``partnership_ended(sender=Partnership, partnership=..., by=<User>)``: sent inside the transaction of the
service that ended the partnership; the customers app ends, in the same transaction, the provider's
customer relationships that came through it (a new partnership later does not bring them back).
"""

from django.dispatch import Signal

partnership_ended = Signal()
