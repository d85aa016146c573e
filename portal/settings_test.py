"""Settings for the test suite: the same settings, with speed-ups that change no behaviour under test."""

import os

os.environ.setdefault("DJANGO_ENV", "test")

from portal.settings import *

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Rate limits are exercised by dedicated tests that switch them back on.
ACCOUNT_RATE_LIMITS = False
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SITE_URL = "https://portal.test"
DEV_MAILBOX_ENABLED = True
# Each test run keeps its uploads in a folder of its own (bin/test points PORTAL_VAR_DIR at one).
MEDIA_ROOT = VAR_DIR / "test-media"
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
# Kombu's in-memory broker unless the test command supplies the real Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
if not CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 2, "socket_connect_timeout": 2}
# A template memo ({% memo %}) handed a value it cannot key fails the test instead of rendering unmemoized.
TEMPLATE_MEMO_STRICT = True
