"""The Celery application: configured from Django settings (``CELERY_*``), tasks found per app."""

import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

from portal import request_context

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def queue_names() -> list[str]:
    """Every queue the workers consume (settings.CELERY_TASK_QUEUES)."""
    return [queue.name for queue in app.conf.task_queues]


def queue_lengths() -> dict[str, int]:
    """How many messages wait in each queue of the Redis broker (benchmarks, tests, operators)."""
    with app.connection_for_write() as broker:
        client = broker.default_channel.client
        return {name: client.llen(name) for name in queue_names()}


def queues_empty() -> None:
    """Drop every message waiting in the Redis broker's queues (tests and benchmarks only)."""
    with app.connection_for_write() as broker:
        broker.default_channel.client.delete(*queue_names())


@before_task_publish.connect
def _propagate_request_id(headers=None, **_kwargs):
    """Carry the request id of the web request into the task, so logs and audit rows join up."""
    if headers is not None and request_context.get_request_id():
        headers.setdefault("portal_request_id", request_context.get_request_id())


@task_prerun.connect
def _adopt_request_id(task=None, **_kwargs):
    request_id = getattr(task.request, "portal_request_id", None) if task else None
    request_context.bind(request_id=request_id or request_context.new_request_id(), ip=None)


@task_postrun.connect
def _forget_request_id(**_kwargs):
    request_context.clear()
