"""What gunicorn's master does before it forks the workers (gunicorn.conf.py ``when_ready``)."""

import gc

from django.template import engines
from django.urls import get_resolver

from portal.warmup import TEMPLATES, warm


def test_the_master_loads_the_shell_and_freezes_what_it_made():
    gc.unfreeze()
    try:
        warm()
        frozen = gc.get_freeze_count()
        # the URL patterns and the templates came first, then moved out of the collector's generations
        assert get_resolver()._populated
        loader = engines["django"].engine.template_loaders[0]
        assert set(TEMPLATES) <= set(loader.get_template_cache)  # the cached loader, keyed by name
        assert frozen > 50_000
        assert sum(gc.get_count()) < 1_000  # what was young is now frozen
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
