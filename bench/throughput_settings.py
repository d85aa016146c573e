"""The portal's settings plus one bare view (bench/throughput_urls.py), for bench/throughput.py only: passed
as DJANGO_SETTINGS_MODULE to the gunicorn it starts, never deployed."""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.throughput_urls"
