"""Provider partnerships: listings, requests, invitations, partnerships, bulk runs (one module each)."""
