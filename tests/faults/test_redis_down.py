"""Redis (the cache and the Celery broker) killed while enrollments, partnership invitations and orders
are submitted through gunicorn: no 5xx, nothing lost, every email sent within 120 s of Redis returning.

A third of the flows go before the outage, a third spread over it, a third after. Each is a real form POST
with its CSRF token through gunicorn (production settings, two workers), by a person signed in with a
session of their own; what comes before the final step is prepared in the database."""

import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
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


def test_a_redis_outage_loses_nothing_and_answers_no_5xx(portal_stack, redis_server):
    stack = portal_stack(
        web_workers=2,
        celery_workers=1,
        beat=True,
        env={
            "OUTBOX_SWEEP_INTERVAL_SECONDS": "1",
            "OUTBOX_SWEEP_GRACE_SECONDS": "2",
            "INVITATIONS_PER_HOUR": "100000",
        },
    )
    flows = Flows(stack, FLOWS)
    third = len(flows.queue) // 3
    started = time.monotonic()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(flows.run, range(third)))
        redis_server.stop()
        down_at = time.monotonic()
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
    # ... and every email is sent, once, within 120 s of Redis returning.
    rows = stack.outbox_wait_sent(count=2 * per_kind, timeout=SENT_WITHIN_SECONDS)
    sent_after = time.monotonic() - back_at
    templates = sorted({row.template for row in rows})
    assert {"enrollment_contact_confirmation", "partnership_invitation"} <= set(templates)
    by_template = {name: sum(row.template == name for row in rows) for name in templates}
    assert by_template["enrollment_contact_confirmation"] == per_kind
    assert by_template["partnership_invitation"] == per_kind
    counts = stack.sink.message_id_counts()
    assert counts == {stack.message_id(row): 1 for row in rows}
    # Orders: the ones whose task reached the broker are provisioned; the ones submitted while it was down
    # wait for the provisioning sweep (submitted 2 min ago or more, commerce-deadlines): two minutes pass.
    waiting = list(orders.filter(status=OrderStatus.SUBMITTED).values_list("pk", flat=True))
    Order.objects.filter(pk__in=waiting).update(submitted_at=timezone.now() - timedelta(minutes=3))
    stack.publish("commerce.tasks.commerce_deadlines")
    # Provisioning has its own queue: wait for the orders themselves, not for a number of emails.
    wait_until(
        lambda: not orders.filter(status=OrderStatus.SUBMITTED).exists(),
        SENT_WITHIN_SECONDS,
        "orders still submitted after the provisioning sweep",
    )
    rows = stack.outbox_wait_sent(count=2 * per_kind + 3 * per_kind, timeout=SENT_WITHIN_SECONDS)
    assert set(orders.values_list("status", flat=True)) == {OrderStatus.PROVISIONED}
    assert sum(row.template == "order_provisioned" for row in rows) == 3 * per_kind
    assert stack.sink.message_id_counts() == {stack.message_id(row): 1 for row in rows}
    assert OutboxEmail.objects.exclude(status=OutboxEmail.Status.SENT).count() == 0

    seconds = sorted(seconds for _kind, _status, seconds in flows.responses)
    print(
        f"\nfaults/redis down {OUTAGE_SECONDS} s ({FLOWS} flows, {len(flows.responses)} POSTs, "
        f"{time.monotonic() - started:.0f} s): 5xx 0, lost 0; POST max {seconds[-1]:.2f} s, "
        f"p95 {seconds[int(len(seconds) * 0.95)]:.2f} s; emails all sent {sent_after:.1f} s after Redis "
        f"returned; orders left to the sweep {len(waiting)}"
    )
