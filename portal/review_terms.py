"""Django's own words on review-site pages that our glossary translates differently.

Django's Japanese catalogue says ログイン / ログアウト where the portal says
サインイン / サインアウト. Listing the msgids here puts them in our catalogue (``locale/ja``), which
Django consults before its own, so the review site uses the portal's words too
(``tests/accounts/test_review_site.py`` renders the pages and checks).
Nothing imports this module: it exists for ``makemessages``.
"""

from django.utils.translation import gettext_noop

REVIEW_TERMS = [
    gettext_noop("last login"),  # the user page (AbstractBaseUser.last_login)
    gettext_noop("Log out"),  # admin pages we do not override
    gettext_noop("Log in again"),  # the admin's signed-out page
]
