"""allauth's own words that our glossary translates differently from allauth's Japanese catalogue.

Listing them here puts them in our catalogue (``locale/ja``), which Django consults before allauth's,
so that the sign-in pages say サインイン / サインアップ like the rest of the portal.
"""

from django.utils.translation import gettext_noop

ALLAUTH_TERMS = [
    gettext_noop("Sign In"),
    gettext_noop("Sign Up"),
    gettext_noop("Sign Out"),
    gettext_noop("Sign Out Other Sessions"),
]
