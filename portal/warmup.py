"""What the web server's master loads once before forking workers (gunicorn.conf.py ``when_ready``)."""

import gc
import logging

from django.conf import settings
from django.db import connections
from django.template.loader import get_template
from django.urls import get_resolver
from django.utils import translation

logger = logging.getLogger(__name__)

#: The page shell and the pages most requests render.
TEMPLATES = (
    "base.html",
    "accounts/organization_dashboard.html",
    "accounts/users.html",
    "accounts/activity.html",
    "errors/404.html",
    "errors/500.html",
)


def warm() -> None:
    get_resolver().url_patterns  # noqa: B018 - imports every app's views and URL patterns
    get_resolver()._populate()
    for name in TEMPLATES:
        get_template(name)
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            translation.gettext("Sign in")  # loads the language's catalogue
    # Nothing above queries the database; make sure no connection crosses the fork.
    connections.close_all()
    # Everything the master made so far lives as long as the workers: out of the collector's way. A
    # worker's full collection walked these 120,000 objects again each time (80 ms, a request's worth
    # many times over, issue 12), and walking them wrote to pages the fork would otherwise share.
    gc.collect()
    gc.freeze()
    logger.info(
        "Warmed the URL patterns, %s templates and %s catalogues", len(TEMPLATES), len(settings.LANGUAGES)
    )
