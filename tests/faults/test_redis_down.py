"""Redis (the cache and the Celery broker) killed while enrollments, partnership invitations and orders
are submitted through gunicorn: no 5xx, nothing lost, every email sent and every order provisioned (with its
emails) within 120 s of Redis returning.

A third of the flows go before the outage, a third spread over it, a third after. Each is a real form POST
with its CSRF token through gunicorn (production settings, two workers), by a person signed in with a
session of their own; what comes before the final step is prepared in the database.

An order submitted while the broker is down cannot reach the worker: beat's provisioning sweep
(``orders-provision-sweep``) publishes it again once it was submitted ``ORDER_PROVISION_SWEEP_AFTER_SECONDS``
ago; nothing else does (no edited row, no task published by the test). The full profile runs production's
timing (every 30 s, orders submitted 60 s ago: at most ~90 s after the submission) and proves the figure;
the short one, run by bin/test, shortens it (every 5 s, after 10 s) to prove the mechanism in little time."""

import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from html import unescape

import pytest
from django.utils import timezone

from accounts.roles import Role
from commerce.models import Order, OrderStatus
from enrollment.models import EnrollmentApplication
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from providers.models import PartnershipInvitation
from tests.enrollment.builders import complete_draft
from tests.factories.accounts import MembershipFactory, UserFactory
from tests.factories.commerce import OfferFactory, commerce_linked
from tests.factories.providers import ProviderFactory
from tests.faults.conftest import profile
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(profile(short=300, full=2400))]

FLOWS = profile(short=60, full=300)  # a third each of enrollments, invitations and orders
OUTAGE_SECONDS = profile(short=10, full=60)
SENT_WITHIN_SECONDS = 120
# The provisioning sweep's timing: production's defaults in the full profile, shortened in the short one.
SWEEP_ENV = profile(
    short={"ORDERS_PROVISION_SWEEP_SECONDS": "5", "ORDER_PROVISION_SWEEP_AFTER_SECONDS": "10"},
    full={},
)
SWEEP_JOB = "orders-provision-sweep (commerce.tasks.orders_provision_sweep)"


def field(page: str, pattern: str) -> str:
    return unescape(re.search(pattern, page, re.S).group(1))


class Flows:
    """The people and what they submit; every response is kept (status, seconds) per flow kind."""

    def __init__(self, stack, count: int):
        self.stack = stack
        self.responses: list[tuple[str, int, float]] = []
        self.lock = threading.Lock()
        per_kind = count // 3
        self.applications = [complete_draft(applicant=UserFactory()) for _ in range(per_kind)]
        self.provider = ProviderFactory()
        self.provider_admin = MembershipFactory(organization=self.provider, roles=[Role.GLOBAL_ADMIN])
        self.links = [commerce_linked() for _ in range(per_kind)]
        self.offer = OfferFactory(prices={"JP": ("JPY", 1200)})
        self.invitees = [f"reseller{number}@invitee.example" for number in range(per_kind)]
        kinds = [("enrollment", item) for item in self.applications]
        kinds += [("invitation", item) for item in self.invitees]
        kinds += [("order", item) for item in self.links]
        # Interleaved: each third of the run holds each kind.
        self.queue = [kinds[kind * per_kind + index] for index in range(per_kind) for kind in range(3)]
        self.clients = [self._client(kind, item, number) for number, (kind, item) in enumerate(self.queue)]

    def _client(self, kind, item, number):
        user = {
            "enrollment": lambda: item.applicant,
            "invitation": lambda: self.provider_admin.user,
            "order": lambda: item.provider_agent.user,
        }[kind]()
        return self.stack.client(user, client_ip=f"198.51.100.{number % 250 + 1}")

    def _record(self, kind: str, response, started: float) -> None:
        with self.lock:
            self.responses.append((kind, response.status_code, time.monotonic() - started))

    def run(self, number: int) -> None:
        kind, item = self.queue[number]
        client = self.clients[number]
        getattr(self, f"_{kind}")(client, item)

    def _enrollment(self, client, application) -> None:
        path = f"/enroll/{application.public_id}/review/"
        client.get(path)  # the review page, as the applicant sees it before "Enroll now"
        started = time.monotonic()
        response = client.post(path, {})
        self._record("enrollment", response, started)
        assert response.status_code == 302, response.text[:2000]

    def _invitation(self, client, email) -> None:
        organization = self.provider.public_id
        started = time.monotonic()
        draft = client.post(f"/o/{organization}/resellers/invite/", {"email": email, "language": "en"})
        self._record("invitation", draft, started)
        assert draft.status_code == 200, draft.text[:2000]
        invitation_id = field(draft.text, r'action="/o/[^/]+/resellers/invitations/([0-9a-f-]{36})/send/"')
        started = time.monotonic()
        sent = client.post(
            f"/o/{organization}/resellers/invitations/{invitation_id}/send/",
            {
                "subject": field(draft.text, r'<input type="text" name="subject" value="([^"]*)"'),
                "body": field(draft.text, r'<textarea name="body"[^>]*>\n?(.*?)</textarea>'),
                "token": field(draft.text, r'<input type="hidden" name="token" value="([^"]*)"'),
            },
        )
        self._record("invitation", sent, started)
        assert sent.status_code == 302, sent.text[:2000]

    def _order(self, client, link) -> None:
        path = f"/o/{link.provider.public_id}/customers/c/{link.customer.public_id}/order/?kind=new"
        client.get(path)
        started = time.monotonic()
        response = client.post(
            path,
            {
                "idempotency_key": str(uuid.uuid4()),
                "reseller": str(link.reseller.public_id),
                "offer": str(self.offer.public_id),
                "seats": "3",
            },
        )
        self._record("order", response, started)
        assert response.status_code == 302, response.text[:2000]


def orders_republished(worker) -> int:
    """How many orders the worker's runs of the provisioning sweep published again (their return values;
    commerce-deadlines, every 5 minutes, runs the same sweep too)."""
    succeeded = r"Task commerce\.tasks\.{}\[[0-9a-f-]+\] succeeded in \S+: {}"
    counts = re.findall(succeeded.format("orders_provision_sweep", r"(\d+)"), worker.log)
    counts += re.findall(succeeded.format("commerce_deadlines", r".*'orders_republished': (\d+)"), worker.log)
    return sum(int(count) for count in counts)


def test_a_redis_outage_loses_nothing_and_answers_no_5xx(portal_stack, redis_server):
    stack = portal_stack(
        web_workers=2,
        celery_workers=1,
        beat=True,
        env={
            "OUTBOX_SWEEP_INTERVAL_SECONDS": "1",
            "OUTBOX_SWEEP_GRACE_SECONDS": "2",
            "INVITATIONS_PER_HOUR": "100000",
            **SWEEP_ENV,
        },
    )
    [worker] = stack.workers
    flows = Flows(stack, FLOWS)
    third = len(flows.queue) // 3
    started = time.monotonic()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(flows.run, range(third)))
        redis_server.stop()
        down_at = time.monotonic()
        down_wall = timezone.now()
        # The middle third, spread over the outage.
        pacing = OUTAGE_SECONDS / third
        futures = []
        for number in range(third, 2 * third):
            time.sleep(max(0.0, down_at + (number - third) * pacing - time.monotonic()))
            futures.append(pool.submit(flows.run, number))
        [future.result() for future in futures]
        time.sleep(max(0.0, down_at + OUTAGE_SECONDS - time.monotonic()))
        redis_server.start()
        back_at = time.monotonic()
        back_wall = timezone.now()
        list(pool.map(flows.run, range(2 * third, len(flows.queue))))

    # No 5xx, every request answered as it would have been with Redis up (asserted per flow, above).
    assert [status for _kind, status, _seconds in flows.responses if status >= 500] == []
    per_kind = FLOWS // 3
    # Nothing lost: every state change is in the database with its audit row and its email...
    submitted = EnrollmentApplication.objects.filter(pk__in=[item.pk for item in flows.applications])
    assert set(submitted.values_list("status", flat=True)) == {"awaiting_confirmation"}
    assert AuditEvent.objects.filter(action="enrollment_application.submitted").count() == per_kind
    assert PartnershipInvitation.objects.filter(emailed_at__isnull=False).count() == per_kind
    orders = Order.objects.filter(provider__in=[link.provider for link in flows.links])
    assert orders.count() == per_kind
    assert AuditEvent.objects.filter(action="order.submitted").count() == per_kind * 3
    # The orders submitted while the broker was down: only the sweep can hand them to the worker.
    during_outage = orders.filter(submitted_at__gte=down_wall, submitted_at__lte=back_wall).count()
    assert during_outage == sum(kind == "order" for kind, _item in flows.queue[third : 2 * third])

    # ... and within 120 s of Redis returning, every order is provisioned (by the worker, on its own queue)
    # and every email, the orders' included, is sent once.
    deadline = back_at + SENT_WITHIN_SECONDS
    wait_until(
        lambda: not orders.filter(status=OrderStatus.SUBMITTED).exists(),
        max(0.0, deadline - time.monotonic()),
        lambda: f"orders still submitted {SENT_WITHIN_SECONDS} s after Redis returned\n{stack.logs()}",
    )
    rows = stack.outbox_wait_sent(count=6 * per_kind, timeout=max(0.0, deadline - time.monotonic()))
    assert set(orders.values_list("status", flat=True)) == {OrderStatus.PROVISIONED}
    assert AuditEvent.objects.filter(action="order.provisioned").count() == per_kind * 3
    by_template = {name: sum(row.template == name for row in rows) for name in {row.template for row in rows}}
    assert by_template == {
        "enrollment_contact_confirmation": per_kind,
        "enrollment_status": per_kind,
        "partnership_invitation": per_kind,
        "order_provisioned": 3 * per_kind,
    }
    assert stack.sink.message_id_counts() == {stack.message_id(row): 1 for row in rows}
    assert OutboxEmail.objects.exclude(status=OutboxEmail.Status.SENT).count() == 0
    last_provisioned = max(orders.values_list("completed_at", flat=True))
    order_seconds = (last_provisioned - back_wall).total_seconds()
    email_seconds = (max(row.sent_at for row in rows) - back_wall).total_seconds()
    assert order_seconds <= SENT_WITHIN_SECONDS and email_seconds <= SENT_WITHIN_SECONDS
    # Beat's sweep did it: it ran, and published again at least every order of the outage.
    assert f"Sending due task {SWEEP_JOB}" in stack.beat.log_path.read_text(errors="replace")
    republished = orders_republished(worker)
    assert republished >= during_outage

    seconds = sorted(seconds for _kind, _status, seconds in flows.responses)
    sweep = " ".join(f"{name}={value}" for name, value in SWEEP_ENV.items()) or "as in production"
    print(
        f"\nfaults/redis down {OUTAGE_SECONDS} s ({FLOWS} flows, {len(flows.responses)} POSTs, "
        f"{time.monotonic() - started:.0f} s; sweep {sweep}): 5xx 0, lost 0; "
        f"POST max {seconds[-1]:.2f} s, p95 {seconds[int(len(seconds) * 0.95)]:.2f} s; after Redis returned, "
        f"emails all sent in {email_seconds:.1f} s, last order provisioned in {order_seconds:.1f} s "
        f"({during_outage} orders submitted during the outage, {republished} published again by the sweep)"
    )
