"""The providers app's pages: a reseller's side (directory.py, partnerships.py), a provider's side
(resellers.py, listing.py, bulk.py) and the invitation link (acceptance.py)."""
