"""The applicant's routes (the access policy's APPLICANT entries): an application belongs to its applicant.

Every such route, GET and POST, is tried as an anonymous visitor (sign-in page), as another applicant (404,
nothing changed, nothing of the owner's application in the page) and as the owner (served). The route list
comes from the access policy, so a new applicant route is covered the day it is added.
"""

import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from enrollment.models import EnrollmentApplication, InformationItem
from enrollment.services import review
from portal.access_policy import APPLICANT, iter_routes, policy_for
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxEmail
from tests.enrollment.builders import application_in_review
from tests.factories.accounts import StaffFactory, UserFactory
from tests.isolation import snapshot

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

APPLICANT_ROUTES = sorted(
    (name, route) for name, route, _callback in iter_routes() if policy_for(name) == APPLICANT
)


def test_the_applicant_routes_are_found():
    names = {name for name, _route in APPLICANT_ROUTES}
    assert {
        "enrollment:application",
        "enrollment:document",
        "enrollment:respond",
        "enrollment:tenant",
        "enrollment:tenant_country",
    } <= names
    for name, route in APPLICANT_ROUTES:
        assert "<uuid:application_id>" in route, f"{name} does not name the application it serves"


def owned_application(canary: str) -> tuple[EnrollmentApplication, uuid.UUID]:
    """An application asking for a document, with one uploaded: every applicant route has something."""
    applicant = UserFactory(email=f"{canary.lower()}@example.com")
    application = application_in_review(
        applicant=applicant, details={"legal_name": f"{canary} KK", "contact_name": canary}
    )
    review.application_information_request(
        application=application,
        by=StaffFactory(is_superuser=True),
        items=[InformationItem.DOCUMENT, InformationItem.ADDRESS],
        message=f"Please send the register extract {canary}",
    )
    document = review.application_document_add(
        application=application,
        applicant=applicant,
        file=SimpleUploadedFile("register.pdf", PDF, content_type="application/pdf"),
    )
    application.refresh_from_db()
    return application, document.public_id


def url_for(name: str, route: str, application: EnrollmentApplication, document_id: uuid.UUID) -> str:
    kwargs = {"application_id": application.public_id}
    if "document_id" in route:
        kwargs["document_id"] = document_id
    unknown = set(re.findall(r"<(?:\w+:)?(\w+)>", route)) - set(kwargs)
    assert not unknown, f"{name}: fill the parameters {unknown} in this test"
    return reverse(name, kwargs=kwargs)


def content(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(("name", "route"), APPLICANT_ROUTES)
def test_an_application_is_its_applicants_only(client, name, route, method):
    canary = f"CANARY-{uuid.uuid4().hex[:10]}"
    application, document_id = owned_application(canary)
    url = url_for(name, route, application, document_id)
    before = (snapshot(), AuditEvent.objects.count(), OutboxEmail.objects.count())

    response = getattr(client, method)(url)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert (snapshot(), AuditEvent.objects.count(), OutboxEmail.objects.count()) == before

    # Another applicant, with an application of their own: the owner's application does not exist for them.
    other_application, _other_document = owned_application(f"OTHER-{uuid.uuid4().hex[:10]}")
    before = (snapshot(), AuditEvent.objects.count(), OutboxEmail.objects.count())
    client.force_login(other_application.applicant)
    response = getattr(client, method)(url)
    assert response.status_code == 404
    assert canary not in content(response)
    assert (snapshot(), AuditEvent.objects.count(), OutboxEmail.objects.count()) == before

    # The owner is served (the page may redirect to another step, never to sign-in, never a 404 or 500).
    client.force_login(application.applicant)
    response = getattr(client, method)(url)
    assert response.status_code in (200, 302, 405), response.status_code
    if response.status_code == 302:
        assert not response["Location"].startswith(LOGIN)


def test_a_document_of_another_application_is_not_found_under_ones_own(client):
    mine, _my_document = owned_application(f"MINE-{uuid.uuid4().hex[:8]}")
    _theirs, their_document = owned_application(f"THEIRS-{uuid.uuid4().hex[:8]}")
    client.force_login(mine.applicant)
    url = reverse(
        "enrollment:document", kwargs={"application_id": mine.public_id, "document_id": their_document}
    )
    assert client.get(url).status_code == 404
