"""Link invitations: the one mechanism behind every emailed link that asks someone to join or agree to
something (membership today; partnerships, customer relationships and the enrollment contact's
confirmation next).

- ``models.LinkInvitation``: the abstract table (public id, token hash, purpose, email, status, invited
  by, decided by, expiry, decision time, reason) and its status transitions.
- ``binding``: what ties an invitation to the person who may use it (a verified email address today).
- ``services``: issue, look up, check, consume, close (revoke, decline, expire) and expire what is due;
  each writes its audit row.
- ``views.InvitationFlow``: the landing flow (link → token moved into the session → GET shows → POST
  acts) that an app configures for its invitations and includes in its URLconf.
"""
