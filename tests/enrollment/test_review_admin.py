"""The reviewers' side of enrollment on the review site (/review/): the queue, an application's page with
its checks, documents and history, the decisions (each through its service, with its audit row), the
document download, and the screening list. Reviewers are staff in the "Enrollment reviewers" group."""

import importlib
import re
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import Membership, Organization
from accounts.roles import Role
from enrollment.admin.history import value_text
from enrollment.admin.queue import sla_past_lookup
from enrollment.models import (
    ApplicationStatus,
    EnrollmentApplication,
    InformationItem,
    RejectionReason,
    ScreeningEntry,
    ScreeningKind,
)
from enrollment.services.review import (
    application_approve,
    application_document_add,
    application_information_request,
    application_reject,
    applications_sla_remind_due,
    sla_business_days,
)
from enrollment.services.screening import screening_entry_add, screening_entry_remove
from portal.audit.models import AuditEvent
from portal.errors import DomainError
from portal.mail.models import OutboxEmail
from tests.enrollment.builders import application_in_review, complete_draft
from tests.factories.accounts import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

GROUP = "Enrollment reviewers"
TOKYO = ZoneInfo("Asia/Tokyo")
BUILDER_TENANT_PASSWORD = "a-long-builder-passphrase-1"  # tests/enrollment/builders.py, the tenant's admin
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
QUEUE_URL = "/review/enrollment/enrollmentapplication/"
SCREENING_URL = "/review/enrollment/screeningentry/"


def reviewer_group() -> Group:
    """The group migration 0004 creates. A transactional test elsewhere in the run empties every table when
    it ends, rows of data migrations included; the migration's own function then makes the group again."""
    if not Group.objects.filter(name=GROUP).exists():
        migration = importlib.import_module("enrollment.migrations.0004_reviewer_group")
        state = MigrationLoader(connection).project_state(("enrollment", "0004_reviewer_group"))
        migration.reviewer_group_create(state.apps, SimpleNamespace(connection=connection))
    return Group.objects.get(name=GROUP)


@pytest.fixture
def reviewer():
    """A group reviewer: program staff (with two-factor authentication), not a superuser."""
    user = StaffFactory(email="rei@program.example", full_name="Rei Tanaka")
    user.groups.add(reviewer_group())
    return user


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client


@pytest.fixture
def outsider_client(client):
    """Program staff outside the group: signed in to the review site, allowed nothing in enrollment."""
    client.force_login(StaffFactory(email="other-staff@program.example"))
    return client


def change_url(application) -> str:
    return reverse("admin:enrollment_enrollmentapplication_change", args=[application.pk])


def decision_url(application, name: str) -> str:
    return reverse(f"admin:enrollment_enrollmentapplication_{name}", args=[application.pk])


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def queue(client, **params) -> list[str]:
    """The legal names the queue shows, in its order."""
    response = client.get(QUEUE_URL, params)
    assert response.status_code == 200
    return [str(application) for application in response.context["cl"].result_list]


def application_state(application) -> tuple:
    application = EnrollmentApplication.objects.get(pk=application.pk)
    return (
        application.status,
        application.decided_at,
        application.decided_by_id,
        application.rejection_reason,
        application.reviewer_message,
        application.information_items,
        application.organization_id,
    )


def world_state() -> tuple:
    """Everything a decision would change: applications, organizations, audit rows, outgoing email."""
    return (
        [application_state(application) for application in EnrollmentApplication.objects.order_by("pk")],
        Organization.objects.count(),
        AuditEvent.objects.count(),
        OutboxEmail.objects.count(),
    )


def in_review(legal_name: str = "Tailspin KK", **options) -> EnrollmentApplication:
    number = next_number()
    details = {
        "legal_name": legal_name,
        "contact_email": f"aki{number}@tailspin.jp",
        **options.pop("details", {}),
    }
    return application_in_review(details=details, **options)


_numbers = iter(range(1, 10_000))


def next_number() -> int:
    return next(_numbers)


def with_document(application) -> tuple[EnrollmentApplication, object]:
    """The application asked for a document, and the applicant's upload."""
    application = application_information_request(
        application=application,
        by=StaffFactory(is_superuser=True),
        items=[InformationItem.DOCUMENT],
        message="Please upload your certificate of registration.",
    )
    document = application_document_add(
        application=application,
        applicant=application.applicant,
        file=SimpleUploadedFile("登記簿 certificate.pdf", PDF, content_type="text/html"),
    )
    return application, document


# --- The group -------------------------------------------------------------------------------------------


def test_the_reviewer_group_holds_exactly_the_reviewers_permissions():
    group = reviewer_group()
    held = sorted(f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all())
    assert held == sorted(
        [
            "enrollment.view_enrollmentapplication",
            "enrollment.review_enrollmentapplication",
            "enrollment.view_enrollmentcheck",
            "enrollment.view_applicationdocument",
            "enrollment.view_contactconfirmation",
            "enrollment.view_membershipaccount",
            "enrollment.view_partnerprofile",
            "enrollment.view_blockedemaildomain",
            "enrollment.view_screeningentry",
            "enrollment.add_screeningentry",
            "enrollment.delete_screeningentry",
        ]
    )


# --- Who may see and decide ------------------------------------------------------------------------------


def test_a_group_reviewer_sees_the_queue_and_the_application_and_approves_it(reviewer_client, reviewer):
    application = in_review("Tailspin KK")
    applicant = application.applicant

    assert queue(reviewer_client) == ["Tailspin KK"]
    page = reviewer_client.get(change_url(application))
    assert page.status_code == 200
    body = page.content.decode()
    assert f'href="{decision_url(application, "approve")}"' in body
    assert f'href="{decision_url(application, "reject")}"' in body
    assert f'href="{decision_url(application, "request_information")}"' in body

    form = reviewer_client.get(decision_url(application, "approve"))
    assert form.status_code == 200
    assert "Approving creates the reseller organization" in form.content.decode()
    response = reviewer_client.post(decision_url(application, "approve"), follow=True)

    assert response.redirect_chain == [(change_url(application), 302)]
    assert page_messages(response) == [
        "Tailspin KK is approved: the reseller organization exists and the applicant is its Global admin."
    ]
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED
    assert application.decided_by == reviewer
    organization = application.organization
    assert (organization.legal_name, organization.kind, organization.partner_id) == (
        "Tailspin KK",
        Organization.Kind.RESELLER,
        application.partner_id,
    )
    assert str(organization.directory_tenant.tenant_id) == str(application.tenant_id)
    membership = Membership.objects.get(organization=organization, user=applicant)
    assert Role.GLOBAL_ADMIN in membership.role_names
    event = AuditEvent.objects.get(action="enrollment_application.approved")
    assert (event.actor_id, event.target_id) == (reviewer.pk, str(application.public_id))
    assert event.after == {"status": "approved", "organization": str(organization.public_id)}
    # The page now says who decided and when, and offers no decision.
    body = response.content.decode()
    assert "rei@program.example" in body
    assert decision_url(application, "reject") not in body


def test_staff_outside_the_group_see_nothing_and_cannot_decide(outsider_client):
    application, document = with_document(in_review())
    before = world_state()

    assert outsider_client.get(QUEUE_URL).status_code == 403
    assert outsider_client.get(change_url(application)).status_code == 403
    for name in ("approve", "reject", "request_information"):
        assert outsider_client.get(decision_url(application, name)).status_code == 403
    responses = [
        outsider_client.post(decision_url(application, "approve")),
        outsider_client.post(decision_url(application, "reject"), {"reason": "other", "message": "No."}),
        outsider_client.post(
            decision_url(application, "request_information"), {"items": ["legal_name"], "message": "Fix it."}
        ),
        outsider_client.get(
            reverse(
                "admin:enrollment_enrollmentapplication_document", args=[application.pk, document.public_id]
            )
        ),
        outsider_client.get(SCREENING_URL),
        outsider_client.post(SCREENING_URL + "add/", {"kind": "legal_name", "value": "Evil Corp"}),
    ]

    assert [response.status_code for response in responses] == [403] * len(responses)
    assert world_state() == before
    assert ScreeningEntry.objects.count() == 0
    index = outsider_client.get(reverse("admin:index")).content.decode()
    assert QUEUE_URL not in index


def test_a_decision_needs_the_csrf_token(reviewer):
    application = in_review()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(reviewer)
    before = world_state()

    response = browser.post(decision_url(application, "approve"))

    assert response.status_code == 403
    assert world_state() == before


def test_a_superuser_reviewer_decides_too(client):
    application = in_review("Tailspin KK")
    superuser = StaffFactory(is_superuser=True, email="riko@program.example")
    client.force_login(superuser)

    response = client.post(
        decision_url(application, "request_information"),
        {"items": [InformationItem.ADDRESS], "message": "Which building?"},
    )

    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.status, application.information_items) == ("more_information", ["address"])


def test_people_who_are_not_staff_are_sent_to_sign_in_and_change_nothing(client):
    application = in_review()
    client.force_login(UserFactory())
    before = world_state()

    for url in (QUEUE_URL, change_url(application), decision_url(application, "approve")):
        assert client.get(url).status_code == 302
    response = client.post(decision_url(application, "approve"))

    assert response.status_code == 302
    assert world_state() == before


def test_a_reviewer_removed_from_the_group_can_no_longer_decide(reviewer_client, reviewer):
    application = in_review()
    reviewer.groups.clear()
    before = world_state()

    response = reviewer_client.post(decision_url(application, "approve"))

    assert response.status_code == 403
    assert world_state() == before


# --- The queue -------------------------------------------------------------------------------------------


def test_the_queue_lists_oldest_first_and_leaves_drafts_out_by_default(reviewer_client):
    with time_machine.travel(datetime(2026, 6, 1, 9, tzinfo=TOKYO), tick=False):
        in_review("First KK")
    with time_machine.travel(datetime(2026, 6, 2, 9, tzinfo=TOKYO), tick=False):
        second = in_review("Second KK")
    with time_machine.travel(datetime(2026, 6, 3, 9, tzinfo=TOKYO), tick=False):
        rejected = in_review("Third KK")
        application_reject(
            application=rejected, by=StaffFactory(is_superuser=True), reason="other", message="No."
        )
    complete_draft(details={"legal_name": "Draft KK", "contact_email": "draft@tailspin.jp"})

    assert queue(reviewer_client) == ["First KK", "Second KK", "Third KK"]
    assert queue(reviewer_client, status="all") == ["First KK", "Second KK", "Third KK", "Draft KK"]
    assert queue(reviewer_client, status="draft") == ["Draft KK"]
    assert queue(reviewer_client, status="rejected") == ["Third KK"]
    assert queue(reviewer_client, status="in_review") == ["First KK", "Second KK"]
    # The order is the queue's own: a keyset list cannot be sorted by column, and a hand-made ?o= is ignored.
    assert queue(reviewer_client, o="-4") == ["First KK", "Second KK", "Third KK"]
    body = reviewer_client.get(QUEUE_URL).content.decode()
    assert "?o=" not in body and "sortable" not in body
    assert "All but drafts" in body and "All, drafts included" in body
    assert second.partner_id in body


def test_the_queue_filters_by_country(reviewer_client):
    in_review("Tailspin KK")
    application_in_review(country="US", details={"legal_name": "Wingtip Toys LLC"})

    assert queue(reviewer_client, country="US") == ["Wingtip Toys LLC"]
    assert queue(reviewer_client, country="JP") == ["Tailspin KK"]
    body = reviewer_client.get(QUEUE_URL).content.decode()
    assert "Japan" in body and "United States of America" in body


def test_the_queue_searches_names_partner_ids_tenant_ids_and_email_addresses(reviewer_client):
    tailspin = in_review("Tailspin KK", details={"contact_email": "aki@tailspin.jp"})
    contoso = in_review("Contoso KK", applicant=UserFactory(email="ken@contoso-applicant.example"))

    assert queue(reviewer_client, q='"tailspin kk"') == ["Tailspin KK"]
    assert queue(reviewer_client, q=contoso.partner_id) == ["Contoso KK"]
    assert queue(reviewer_client, q=str(tailspin.tenant_id)) == ["Tailspin KK"]
    assert queue(reviewer_client, q=str(contoso.tenant_id).upper()) == ["Contoso KK"]
    assert queue(reviewer_client, q="aki@tailspin.jp") == ["Tailspin KK"]
    assert queue(reviewer_client, q="contoso-applicant") == ["Contoso KK"]
    assert queue(reviewer_client, q="nobody-matches-this") == []


def test_time_in_review_counts_business_days_and_flags_the_sla(reviewer_client, settings):
    settings.ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS = 3
    # Friday 5 June 2026, 10:00 in Tokyo (June has no public holiday in Japan).
    with time_machine.travel(datetime(2026, 6, 5, 10, tzinfo=TOKYO), tick=False):
        friday = in_review("Friday KK")

    def cells(at: datetime) -> dict[str, str]:
        with time_machine.travel(at, tick=False):
            response = reviewer_client.get(QUEUE_URL)
        rows = re.findall(r"<tr>(.*?)</tr>", response.content.decode(), flags=re.S)
        found = {}
        for row in rows:
            name = re.search(r'<th class="field-name"><a [^>]*>([^<]*)</a>', row)
            days = re.search(r'<td class="field-time_in_review">(.*?)</td>', row, flags=re.S)
            if name and days:
                found[name.group(1)] = re.sub(r"<[^>]+>", "|", days.group(1)).strip()
        return found

    # Monday 09:00: a whole weekend has passed, no business day has (the first ends at Monday 10:00).
    assert cells(datetime(2026, 6, 8, 9, tzinfo=TOKYO)) == {"Friday KK": "0 business days"}
    assert cells(datetime(2026, 6, 8, 11, tzinfo=TOKYO)) == {"Friday KK": "1 business day"}
    with time_machine.travel(datetime(2026, 6, 9, 10, tzinfo=TOKYO), tick=False):
        tuesday = in_review("Tuesday KK")
    assert cells(datetime(2026, 6, 10, 11, tzinfo=TOKYO)) == {
        "Friday KK": "3 business days",
        "Tuesday KK": "1 business day",
    }
    assert cells(datetime(2026, 6, 11, 11, tzinfo=TOKYO)) == {
        "Friday KK": "4 business days |Over SLA|",
        "Tuesday KK": "2 business days",
    }

    with time_machine.travel(datetime(2026, 6, 11, 11, tzinfo=TOKYO), tick=False):
        assert queue(reviewer_client, sla="past") == ["Friday KK"]
        assert queue(reviewer_client, sla="within") == ["Tuesday KK"]
        response = reviewer_client.get(QUEUE_URL)
    body = response.content.decode()
    assert "Within the SLA (up to 3 business days)" in body
    assert "Past the SLA (more than 3 business days)" in body
    assert {friday.pk, tuesday.pk} == {application.pk for application in response.context["cl"].result_list}


@pytest.mark.parametrize(
    "started",
    [
        datetime(2026, 4, 28, 15, 30, tzinfo=TOKYO),  # Tuesday, before Showa Day and Golden Week
        datetime(2026, 5, 2, 11, 0, tzinfo=TOKYO),  # Saturday, in Golden Week
        datetime(2026, 6, 5, 0, 0, tzinfo=TOKYO),  # Friday, midnight
    ],
)
def test_the_sla_filter_agrees_with_the_time_in_review_at_every_moment(started, settings):
    settings.ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS = 3
    with time_machine.travel(started, tick=False):
        application = in_review()
    assert application.review_started_at == started
    rows = EnrollmentApplication.objects.filter(pk=application.pk)
    moment = started - timedelta(hours=1)
    while moment < started + timedelta(days=16):
        past = rows.filter(sla_past_lookup(moment)).exists()
        assert past == (sla_business_days(application, now=moment) > 3), moment
        moment += timedelta(minutes=30)


# --- The application's page -----------------------------------------------------------------------------


def test_the_page_says_when_the_applicant_gave_the_tenants_country(reviewer_client):
    application = in_review("Tailspin KK")
    EnrollmentApplication.objects.filter(pk=application.pk).update(tenant_country_declared=True)

    body = reviewer_client.get(change_url(application)).content.decode()

    assert "Japan (given by the applicant: the directory did not say it)" in body


def test_the_page_shows_the_facts_checks_documents_and_history(reviewer_client):
    application, document = with_document(
        in_review("Tailspin KK", details={"contact_email": "aki@tailspin.jp"})
    )

    response = reviewer_client.get(change_url(application))

    assert response.status_code == 200
    body = response.content.decode()
    for fact in (
        "Tailspin KK",
        application.partner_id,
        str(application.tenant_id),
        application.tenant_name,
        application.tenant_domains[0],
        "Built-in directory",
        "1-1 Marunouchi",
        "Tokyo",  # the prefecture's name, not its code
        "aki@tailspin.jp",
        "03-1234-5678",  # the phone number as people in Japan write it
        "support@tailspin.jp",
        "https://www.tailspin.jp",
        application.applicant.email,
    ):
        assert fact in body, fact
    # The checks, each with what it found and what to do.
    checks = re.search(
        r'<table class="review-table" id="review-checks">(.*?)</table>', body, flags=re.S
    ).group(1)
    assert [re.sub(r"\s+", " ", kind) for kind in re.findall(r'<th scope="row">(.*?)</th>', checks)] == [
        "Email ownership",
        "Employment",
        "Country match",
        "Duplicates",
        "Screening",
    ]
    assert "The primary contact confirmed the application from their mailbox." in checks
    assert "The tenant, the partner profile and the address are in the same country." in checks
    assert "Passed" in checks
    # The document, with its download link.
    download = reverse(
        "admin:enrollment_enrollmentapplication_document", args=[application.pk, document.public_id]
    )
    assert f'<a href="{download}" download>登記簿 certificate.pdf</a>' in body
    assert "application/pdf" in body
    # The whole history, oldest first, with the catalogue's labels and who did it.
    history = re.search(
        r'<table class="review-table" id="review-history">(.*?)</table>', body, flags=re.S
    ).group(1)
    labels = re.findall(r'<td data-label="Action">(.*?)</td>', history)
    assert labels[0] == "Enrollment started"
    assert labels.index("Enrollment submitted") < labels.index("Enrollment in review")
    assert labels[-2:] == ["More information requested", "Document uploaded"]
    assert "<code>items</code>: — → A document (for example a certificate of registration)" in history
    # Asked for more information: no decision now, and the request is shown.
    assert decision_url(application, "approve") not in body
    assert "Please upload your certificate of registration." in body


def history_changes(client, application) -> list[tuple[str, str, str]]:
    """The history's changes as the page shows them: (name, before, after), oldest first."""
    body = client.get(change_url(application)).content.decode()
    history = re.search(
        r'<table class="review-table" id="review-history">(.*?)</table>', body, flags=re.S
    ).group(1)
    return re.findall(r"<li><code>(.*?)</code>: (.*?) → (.*?)</li>", history)


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "en",
            {
                "draft": "Draft",
                "awaiting": "Awaiting contact confirmation",
                "no": "No",
                "source": "Built-in directory",
                "country": "Japan",
                "passed": "Passed",
                "in_review": "In review",
                "more": "More information requested",
                "document": "A document (for example a certificate of registration)",
                "legal_name": "legal name",
            },
        ),
        (
            "ja",
            {
                "draft": "下書き",
                "awaiting": "第一連絡先担当者の確認待ち",
                "no": "いいえ",
                "source": "組み込みディレクトリ",
                "country": "日本",
                "passed": "合格",
                "in_review": "審査中",
                "more": "追加情報の依頼",
                "document": "ドキュメント (登記事項証明書など)",
                "legal_name": "法人名",
            },
        ),
    ],
)
def test_the_history_shows_labels_yes_or_no_and_a_dash_for_nothing(reviewer_client, language, words):
    application, _document = with_document(in_review("Tailspin KK"))
    reviewer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = language

    changes = history_changes(reviewer_client, application)

    dash = "—"
    assert changes[0] == ("status", dash, words["draft"])
    assert ("tenant_id", dash, str(application.tenant_id)) in changes  # empty before: a dash, not ""
    assert ("source", dash, words["source"]) in changes
    assert ("country", dash, words["country"]) in changes
    assert ("already_authorised", dash, words["no"]) in changes  # not "False"
    assert ("status", words["draft"], words["awaiting"]) in changes
    assert ("checks.screening", dash, f"{words['passed']}, screening_clear") in changes
    assert ("status", words["in_review"], words["more"]) in changes
    assert ("items", dash, words["document"]) in changes
    fields = next(after for name, _before, after in changes if name == "fields").split(", ")
    assert words["legal_name"] in fields and "legal_name" not in fields
    assert not any(value in ("", "False", "True", "None") for _name, *values in changes for value in values)


def test_a_history_value_reads_as_a_reviewer_reads_it():
    assert value_text("already_authorised", True) == "Yes"
    assert value_text("declared", False) == "No"
    for empty in (None, "", [], {}):
        assert value_text("legal_name", empty) == "—"
    assert value_text("status", "more_information") == "More information requested"
    assert value_text("reason", "not_eligible") == "The company is not eligible for the program"
    assert value_text("items", ["address", "document"]) == (
        "Address, A document (for example a certificate of registration)"
    )
    assert value_text("contact_language", "ja") == "Japanese"
    assert value_text("checks.duplicates", {"status": "failed", "reason_code": "tenant_held"}) == (
        "Needs attention, tenant_held"
    )
    assert value_text("status", "no_such_status") == "no_such_status"  # an old code is shown as it is
    assert value_text("why", "draft_abandoned") == "draft_abandoned"
    with translation.override("ja"):
        assert value_text("already_authorised", True) == "はい"
        assert value_text("status", "in_review") == "審査中"


def test_the_page_renders_in_japanese(reviewer_client):
    application = in_review()
    reviewer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    for url in (QUEUE_URL, change_url(application), decision_url(application, "reject"), SCREENING_URL):
        response = reviewer_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert '<html lang="ja"' in body
        assert "ログイン" not in body


# --- Decisions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        (
            {},
            {
                "reason": ["Choose the reason for the rejection."],
                "message": ["Write what the applicant should know: it is shown to them."],
            },
        ),
        (
            {"reason": "other", "message": "   "},
            {"message": ["Write what the applicant should know: it is shown to them."]},
        ),
        ({"reason": "not-a-reason", "message": "No."}, {"reason": ["Choose the reason for the rejection."]}),
    ],
)
def test_a_rejection_needs_a_reason_and_a_message(reviewer_client, data, errors):
    application = in_review()
    before = world_state()

    response = reviewer_client.post(decision_url(application, "reject"), data)

    assert response.status_code == 200
    assert response.context["form"].errors == errors
    body = response.content.decode()
    assert "Nothing was changed. Correct the errors below." in body
    for field in errors:
        assert f'id="id_{field}_error"' in body
    assert world_state() == before


def test_a_rejection_stores_the_reason_and_the_message_and_tells_the_applicant(reviewer_client, reviewer):
    application = in_review("Tailspin KK")
    assert reviewer_client.get(decision_url(application, "reject")).status_code == 200

    response = reviewer_client.post(
        decision_url(application, "reject"),
        {"reason": RejectionReason.NOT_ELIGIBLE, "message": "Resellers must be registered companies."},
        follow=True,
    )

    assert response.redirect_chain == [(change_url(application), 302)]
    assert page_messages(response) == [
        "Tailspin KK is rejected. The applicant and the primary contact are told why."
    ]
    application.refresh_from_db()
    assert (application.status, application.rejection_reason, application.reviewer_message) == (
        ApplicationStatus.REJECTED,
        "not_eligible",
        "Resellers must be registered companies.",
    )
    assert application.decided_by == reviewer
    assert application.organization is None
    event = AuditEvent.objects.get(action="enrollment_application.rejected")
    assert (event.actor_id, event.after) == (reviewer.pk, {"status": "rejected", "reason": "not_eligible"})
    assert OutboxEmail.objects.filter(to=application.applicant.email, template="enrollment_status").exists()


def test_a_request_for_information_names_the_items(reviewer_client, reviewer):
    application = in_review("Tailspin KK")

    response = reviewer_client.post(
        decision_url(application, "request_information"),
        {"items": [InformationItem.DOCUMENT, InformationItem.LEGAL_NAME], "message": "Your registered name?"},
        follow=True,
    )

    assert response.redirect_chain == [(change_url(application), 302)]
    assert page_messages(response) == ["More information is requested from the applicant of Tailspin KK."]
    application.refresh_from_db()
    assert application.status == ApplicationStatus.MORE_INFORMATION
    assert application.information_items == ["legal_name", "document"]
    assert application.reviewer_message == "Your registered name?"
    event = AuditEvent.objects.get(action="enrollment_application.information_requested")
    assert (event.actor_id, event.after) == (
        reviewer.pk,
        {"status": "more_information", "items": ["legal_name", "document"]},
    )


def test_a_request_for_information_needs_an_item_and_a_message(reviewer_client):
    application = in_review()
    before = world_state()

    response = reviewer_client.post(decision_url(application, "request_information"), {"message": ""})

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "items": ["Choose at least one item the applicant must fix or supply."],
        "message": ["Write what the applicant should know: it is shown to them."],
    }
    assert world_state() == before


def test_a_message_with_control_characters_is_refused_at_the_field_by_the_service(reviewer_client):
    application = in_review()
    before = world_state()

    response = reviewer_client.post(
        decision_url(application, "reject"), {"reason": "other", "message": "Hello\u202eworld"}
    )

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["message"]
    assert world_state() == before


@pytest.mark.parametrize("name", ["approve", "reject", "request_information"])
def test_a_decision_on_an_application_not_in_review_says_so_and_changes_nothing(reviewer_client, name):
    rejected = in_review("Tailspin KK")
    application_reject(
        application=rejected, by=StaffFactory(is_superuser=True), reason="other", message="No."
    )
    draft = complete_draft(details={"legal_name": "Draft KK", "contact_email": "draft@tailspin.jp"})
    data = {"reason": "other", "message": "Again.", "items": ["legal_name"]}
    before = world_state()
    title = {"approve": "Approve", "reject": "Reject", "request_information": "Request more information"}[
        name
    ]

    for application, status in ((rejected, "Rejected"), (draft, "Draft")):
        for response in (
            reviewer_client.get(decision_url(application, name), follow=True),
            reviewer_client.post(decision_url(application, name), data, follow=True),
        ):
            assert response.redirect_chain == [(change_url(application), 302)]
            assert page_messages(response) == [
                f"{title} is not possible: the application is {status}. Nothing was changed."
            ]

    assert world_state() == before


def test_a_decision_taken_by_another_reviewer_meanwhile_is_reported_not_repeated(reviewer_client, reviewer):
    application = in_review("Tailspin KK")
    form = reviewer_client.get(decision_url(application, "reject"))
    assert form.status_code == 200
    # Another reviewer approves while this one writes the rejection.
    application_approve(application=application, by=StaffFactory(is_superuser=True))
    before = world_state()

    response = reviewer_client.post(
        decision_url(application, "reject"), {"reason": "other", "message": "No."}, follow=True
    )

    assert page_messages(response) == [
        "Reject is not possible: the application is Approved. Nothing was changed."
    ]
    assert world_state() == before


def test_an_unknown_application_is_a_404(reviewer_client):
    for name in ("approve", "reject", "request_information"):
        url = reverse(f"admin:enrollment_enrollmentapplication_{name}", args=[999999])
        assert reviewer_client.get(url).status_code == 404
        assert reviewer_client.post(url).status_code == 404


def test_the_queue_and_the_page_offer_no_add_edit_or_delete(reviewer_client, reviewer):
    application = in_review("Tailspin KK")
    before = world_state()

    assert reviewer_client.get(QUEUE_URL + "add/").status_code == 403
    response = reviewer_client.post(
        change_url(application), {"legal_name": "Mallory KK", "status": "approved"}
    )
    assert response.status_code == 403
    response = reviewer_client.post(
        reverse("admin:enrollment_enrollmentapplication_delete", args=[application.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    response = reviewer_client.post(
        QUEUE_URL, {"action": "delete_selected", "_selected_action": [str(application.pk)], "post": "yes"}
    )
    assert world_state() == before
    assert 'name="_save"' not in reviewer_client.get(change_url(application)).content.decode()


def test_the_review_admins_are_read_only_or_add_and_remove_through_services(rf):
    request = rf.get("/review/")
    request.user = StaffFactory(is_superuser=True)
    queue_admin = admin.site._registry[EnrollmentApplication]
    screening_admin = admin.site._registry[ScreeningEntry]

    assert (
        queue_admin.has_add_permission(request),
        queue_admin.has_change_permission(request),
        queue_admin.has_delete_permission(request),
    ) == (False, False, False)
    assert set(queue_admin.get_actions(request)) == set()
    assert (
        screening_admin.has_add_permission(request),
        screening_admin.has_change_permission(request),
        screening_admin.has_delete_permission(request),
    ) == (True, False, True)
    assert set(screening_admin.get_actions(request)) == {"delete_selected"}
    assert {"save_model", "delete_model", "delete_queryset"} <= set(type(screening_admin).__dict__)


def test_the_application_page_shows_no_password(reviewer_client):
    application = in_review()
    body = reviewer_client.get(change_url(application)).content.decode()
    assert BUILDER_TENANT_PASSWORD not in body
    assert application.applicant.password not in body


# --- Documents -------------------------------------------------------------------------------------------


def test_a_document_downloads_as_an_attachment_of_its_checked_type(reviewer_client):
    application, document = with_document(in_review())
    url = reverse(
        "admin:enrollment_enrollmentapplication_document", args=[application.pk, document.public_id]
    )

    response = reviewer_client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"  # read from the content, not the browser's header
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''%E7%99%BB%E8%A8%98%E7%B0%BF%20certificate.pdf"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PDF


def test_a_document_of_another_application_is_a_404(reviewer_client):
    _application, document = with_document(in_review())
    other = in_review("Contoso KK")
    url = reverse("admin:enrollment_enrollmentapplication_document", args=[other.pk, document.public_id])
    assert reviewer_client.get(url).status_code == 404


# --- The screening list ----------------------------------------------------------------------------------


def test_reviewers_add_screening_entries_through_the_service_with_an_audit_row(reviewer_client, reviewer):
    response = reviewer_client.post(
        SCREENING_URL + "add/", {"kind": "email_domain", "value": " 例え.JP ", "note": "Known fraud"}
    )

    assert response.status_code == 302
    entry = ScreeningEntry.objects.get()
    assert (entry.kind, entry.value, entry.note) == ("email_domain", "xn--r8jz45g.jp", "Known fraud")
    event = AuditEvent.objects.get()
    assert (event.action, event.actor_id, event.target_id) == (
        "screening_entry.added",
        reviewer.pk,
        str(entry.pk),
    )
    assert event.after == {"kind": "email_domain", "value": "xn--r8jz45g.jp", "note": "Known fraud"}
    assert "例え.jp (xn--r8jz45g.jp)" in reviewer_client.get(SCREENING_URL).content.decode()


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("partner_id", "12345", "A partner ID is exactly seven digits, for example 1234567."),
        ("legal_name", "Fabrikam\nKK", None),
        ("email_domain", "not a domain", None),
    ],
)
def test_a_screening_value_that_cannot_match_is_refused_at_the_field(reviewer_client, kind, value, message):
    response = reviewer_client.post(SCREENING_URL + "add/", {"kind": kind, "value": value})

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["value"]
    if message:
        assert errors["value"] == [message]
    assert ScreeningEntry.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_an_entry_already_listed_is_refused_at_the_field(reviewer_client, reviewer):
    screening_entry_add(kind="legal_name", value="Fabrikam KK", note="", by=reviewer)
    before = AuditEvent.objects.count()

    response = reviewer_client.post(SCREENING_URL + "add/", {"kind": "legal_name", "value": "fabrikam kk"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "value": ["fabrikam kk is already on the screening list."]
    }
    assert ScreeningEntry.objects.count() == 1
    assert AuditEvent.objects.count() == before


def test_a_full_width_partner_id_is_stored_as_ascii_digits(reviewer):
    full_width = "\uff11\uff12\uff13\uff14\uff15\uff16\uff17"  # 1234567 as typed with a Japanese IME
    entry = screening_entry_add(kind=ScreeningKind.PARTNER_ID, value=full_width, by=reviewer)
    assert entry.value == "1234567"
    with pytest.raises(DomainError) as refused:
        screening_entry_add(kind=ScreeningKind.PARTNER_ID, value="1234567", by=reviewer)
    assert (refused.value.code, refused.value.field) == ("entry_already_listed", "value")
    with pytest.raises(DomainError) as refused:
        screening_entry_add(kind="colour", value="red", by=reviewer)
    assert (refused.value.code, refused.value.field) == ("kind_unknown", "kind")


def test_reviewers_remove_screening_entries_through_the_service_with_an_audit_row(reviewer_client, reviewer):
    first = screening_entry_add(kind="legal_name", value="Fabrikam KK", note="fraud", by=reviewer)
    second = screening_entry_add(kind="partner_id", value="7654321", by=reviewer)
    third = screening_entry_add(kind="email_domain", value="fabrikam.example", by=reviewer)

    response = reviewer_client.post(
        reverse("admin:enrollment_screeningentry_delete", args=[first.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    response = reviewer_client.post(
        SCREENING_URL,
        {"action": "delete_selected", "_selected_action": [str(second.pk), str(third.pk)], "post": "yes"},
    )
    assert response.status_code == 302

    assert ScreeningEntry.objects.count() == 0
    removed = AuditEvent.objects.filter(action="screening_entry.removed").order_by("pk")
    assert [(event.actor_id, event.target_id) for event in removed] == [
        (reviewer.pk, str(first.pk)),
        (reviewer.pk, str(third.pk)),  # the list's order: by kind, then value
        (reviewer.pk, str(second.pk)),
    ]
    assert removed[0].before == {"kind": "legal_name", "value": "Fabrikam KK", "note": "fraud"}


def test_an_entry_removed_twice_is_removed_once(reviewer):
    entry = screening_entry_add(kind="legal_name", value="Fabrikam KK", by=reviewer)
    screening_entry_remove(entry=entry, by=reviewer)
    with pytest.raises(DomainError) as refused:
        screening_entry_remove(entry=entry, by=reviewer)
    assert refused.value.code == "entry_not_listed"
    assert AuditEvent.objects.filter(action="screening_entry.removed").count() == 1


def test_a_screening_entry_is_never_edited(reviewer_client, reviewer):
    entry = screening_entry_add(kind="legal_name", value="Fabrikam KK", by=reviewer)
    response = reviewer_client.post(
        reverse("admin:enrollment_screeningentry_change", args=[entry.pk]),
        {"kind": "legal_name", "value": "Contoso KK"},
    )
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.value == "Fabrikam KK"


def test_a_screening_entry_fails_the_screening_check_of_a_new_application(reviewer_client, reviewer):
    reviewer_client.post(SCREENING_URL + "add/", {"kind": "legal_name", "value": "Fabrikam"})

    application = in_review("Fabrikam Japan KK")

    screening = application.checks.get(kind="screening")
    assert (screening.status, screening.reason_code) == ("failed", "screening_match")


# --- The reviewers' reminder -----------------------------------------------------------------------------


def test_the_sla_reminder_links_open_the_application_page(reviewer_client, reviewer, settings):
    settings.ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS = 3
    with time_machine.travel(datetime(2026, 6, 5, 10, tzinfo=TOKYO), tick=False):
        application = in_review("Tailspin KK")
    with time_machine.travel(datetime(2026, 6, 12, 10, tzinfo=TOKYO), tick=False):
        assert applications_sla_remind_due() == 1

    email = OutboxEmail.objects.get(to=reviewer.email, template="enrollment_sla_reminder")
    link = re.search(re.escape(settings.SITE_URL) + r"(/review/\S+/)", email.body_text).group(1)
    assert link == change_url(application)
    response = reviewer_client.get(link)
    assert response.status_code == 200
    assert "Tailspin KK" in response.content.decode()
