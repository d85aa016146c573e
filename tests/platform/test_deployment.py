"""The deployment the README's "Scale-out" section describes is the one docker-compose.yml runs: stateless
web replicas behind the proxy, one Celery worker service per queue, exactly one beat, the application's
database role everywhere but in the migration; and the PgBouncer switch does what the README says."""

import json
import re

import yaml

from portal import settings as production
from tests.support.processes import PRODUCTION, ROOT, run_python

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = {
    name: service for name, service in SERVICES.items() if service.get("image") == "csp-portal:latest"
}


def _celery(service: dict) -> list[str] | None:
    command = service.get("command") or []
    return command if command[:3] == ["celery", "-A", "portal"] else None


def test_every_queue_has_its_worker_service_and_every_worker_names_its_queue():
    queues_of_workers = {}
    for name, service in SERVICES.items():
        command = _celery(service)
        if command and command[3] == "worker":
            assert "-Q" in command, name
            queues_of_workers[name] = command[command.index("-Q") + 1].split(",")

    routed = {route["queue"] for route in production.CELERY_TASK_ROUTES.values()}
    declared = [queue.name for queue in production.CELERY_TASK_QUEUES]
    assert routed | {production.CELERY_TASK_DEFAULT_QUEUE} == set(declared)
    assert sorted(queue for queues in queues_of_workers.values() for queue in queues) == sorted(declared)
    assert {"mail", "checks", "provisioning"} <= set(declared)


def test_exactly_one_beat():
    beats = [name for name, service in SERVICES.items() if (_celery(service) or [None] * 4)[3] == "beat"]
    assert beats == ["beat"]
    assert "deploy" not in SERVICES["beat"]  # no replicas


def test_web_replicas_can_be_added_behind_the_proxy(tmp_path):
    web = SERVICES["web"]
    # Nothing ties the service to one container: no name, no published port; its one volume is the named
    # one every replica shares (the enrollment documents, MEDIA_ROOT under the image's PORTAL_VAR_DIR).
    assert "container_name" not in web and "ports" not in web
    assert web["volumes"] == ["media-data:/app/var/media"]
    assert "media-data" in COMPOSE["volumes"]
    assert "PORTAL_VAR_DIR=/app/var" in (ROOT / "Dockerfile").read_text()
    assert web["command"][:2] == ["gunicorn", "portal.wsgi"]
    # The proxy reaches it by service name (Docker's DNS answers every replica).
    assert SERVICES["proxy"]["environment"]["PORTAL_UPSTREAM"] == "web:8000"
    # Shared state lives in PostgreSQL and Redis only: sessions in the database behind the shared cache.
    code = (
        "import django; from django.conf import settings; django.setup(); "
        "print(settings.SESSION_ENGINE, settings.CACHES['default']['BACKEND'])"
    )
    result = run_python(code, PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.contrib.sessions.backends.cached_db",
        "portal.cache.ResilientRedisCache",
    ]


def test_only_the_migration_connects_as_the_owner():
    owner = re.compile(r"^postgres://portal:")
    for name, service in APP_SERVICES.items():
        url = service["environment"]["DATABASE_URL"]
        assert bool(owner.match(url)) == (name == "migrate"), name


def test_behind_pgbouncer_no_cursor_outlives_a_transaction_and_nothing_is_prepared(tmp_path):
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        "d = settings.DATABASES['default']; "
        "print(json.dumps([d.get('DISABLE_SERVER_SIDE_CURSORS', False), d['CONN_MAX_AGE'], "
        "d['OPTIONS'].get('prepare_threshold', 'default'), d['OPTIONS'].get('options', '')]))"
    )
    pooled = run_python(code, {**PRODUCTION, "DATABASE_BEHIND_PGBOUNCER": "true"}, tmp_path)
    direct = run_python(code, PRODUCTION, tmp_path)

    assert pooled.returncode == 0, pooled.stderr
    assert json.loads(pooled.stdout.strip().splitlines()[-1]) == [True, 0, None, ""]
    assert json.loads(direct.stdout.strip().splitlines()[-1]) == [False, 60, 2**31 - 1, "-c jit=off"]


def test_prepared_statements_are_on_by_default_and_never_behind_pgbouncer(tmp_path):
    code = (
        "import django, json; from django.conf import settings; django.setup(); "
        "options = settings.DATABASES['default']['OPTIONS']; "
        "print(json.dumps([getattr(settings, 'DATABASE_PREPARED_STATEMENTS', False), "
        "options.get('server_side_binding', False), options.get('prepare_threshold')]))"
    )
    results = {
        "default": run_python(code, PRODUCTION, tmp_path),
        "threshold": run_python(code, {**PRODUCTION, "DATABASE_PREPARE_THRESHOLD": "5"}, tmp_path),
        "off": run_python(code, {**PRODUCTION, "DATABASE_PREPARED_STATEMENTS": "false"}, tmp_path),
        "pooled": run_python(code, {**PRODUCTION, "DATABASE_BEHIND_PGBOUNCER": "true"}, tmp_path),
    }
    for result in results.values():
        assert result.returncode == 0, result.stderr
    printed = {name: json.loads(result.stdout.strip().splitlines()[-1]) for name, result in results.items()}
    # Django prepares nothing unless prepare_threshold is set: binding alone is not enough
    assert printed == {
        "default": [True, True, 2**31 - 1],  # never by count: only what portal.prepared prepares
        "threshold": [True, True, 5],
        "off": [False, False, None],
        "pooled": [False, False, None],
    }


def _prepared_statements() -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_the_shell_queries_are_prepared_and_the_pages_queries_are_not(db, django_assert_num_queries):
    """What the setting promises, seen in PostgreSQL: the switcher's query (portal.prepared) is held by the
    server after its first run, through Django's cursor (counted like any query); an ordinary query run
    again and again is not prepared (no generic plans for the list pages)."""
    from accounts.models import Organization
    from accounts.selectors import organizations_switcher
    from tests.factories.accounts import MembershipFactory

    membership = MembershipFactory()
    for _ in range(6):
        list(Organization.objects.filter(pk=-1))
    with django_assert_num_queries(1):
        organizations, _more = organizations_switcher(user=membership.user)
    assert [row["id"] for row in organizations] == [membership.organization_id]

    prepared = _prepared_statements()
    assert len(prepared) == 1
    assert 'INNER JOIN "accounts_membership"' in prepared[0] and "$1" in prepared[0]


def test_a_list_parameter_query_is_prepared_unless_planned_each_time(db):
    """A query of a page's ids (one array) is prepared like the others; one whose plan depends on the ids
    (``planned_each_time``) is compiled once but planned by PostgreSQL on every run."""
    from accounts.models import Membership
    from portal.prepared import Many, PreparedQuery
    from portal.queries import InValues
    from tests.factories.accounts import MembershipFactory

    membership = MembershipFactory()

    def build(ids):
        return Membership.objects.filter(InValues("organization_id", ids)).values_list("pk")

    field = Many(Membership._meta.get_field("organization"))
    prepared = PreparedQuery(build, ids=field)
    each_time = PreparedQuery(lambda ids: build(ids).order_by("-pk"), planned_each_time=True, ids=field)
    for query in (prepared, each_time):
        assert query.tuples(ids=[membership.organization_id]) == [(membership.pk,)]

    statements = _prepared_statements()
    assert len(statements) == 1
    assert "= ANY($1::bigint[])" in statements[0] and "DESC" not in statements[0]
