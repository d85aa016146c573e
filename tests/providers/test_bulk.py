"""Invitations from a CSV file: the upload, each row's outcome, the hourly limit, bad files, the run's page
and its JSON variant, the report, isolation, and one run through the real worker."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from portal.audit.models import AuditEvent
from portal.invitations.models import LinkInvitationStatus
from portal.mail.models import OutboxEmail
from providers.models import BulkInvitationRow, BulkInvitationRun, PartnershipInvitation
from providers.services import bulk
from providers.services.bulk import bulk_run_create, bulk_run_process, bulk_run_publish
from tests.factories.accounts import MembershipFactory
from tests.factories.providers import (
    BulkInvitationRunFactory,
    PartnershipFactory,
    ProviderFactory,
    ResellerFactory,
    partnership_invitation_issued,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.django_db

RUN_TASK = "providers.tasks.partnership_bulk_run"
RATE_LIMITED = "Too many invitations were sent in the last hour. Try again later."
RATE_LIMITED_JA = "過去 1 時間に送信された招待が多すぎます。しばらくしてからもう一度お試しください。"


@pytest.fixture
def provider():
    return ProviderFactory(legal_name="Blue Yonder KK")


@pytest.fixture
def admin(provider):
    return MembershipFactory(organization=provider, roles=[Role.GLOBAL_ADMIN])


@pytest.fixture
def signed_in(admin, client):
    client.force_login(admin.user)
    return client


def urls(provider, run=None) -> dict[str, str]:
    organization = {"organization_public_id": provider.public_id}
    found = {"bulk": reverse("providers:bulk", kwargs=organization)}
    if run is not None:
        found["run"] = reverse("providers:bulk_run", kwargs={**organization, "run_id": run.public_id})
        found["report"] = reverse("providers:bulk_report", kwargs={**organization, "run_id": run.public_id})
    return found


def csv_file(text: str, name: str = "resellers.csv", encoding: str = "utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def outcomes(run) -> list[tuple]:
    return list(
        BulkInvitationRow.objects.filter(run=run)
        .order_by("line")
        .values_list("line", "email", "partner_id", "outcome", "reason")
    )


def counters(run) -> dict:
    run = BulkInvitationRun.objects.get(pk=run.pk)
    return {
        "status": run.status,
        "total": run.total_rows,
        "processed": run.processed_rows,
        "sent": run.sent,
        "skipped": run.skipped,
        "refused": run.refused,
    }


def mixed_run(provider, admin, language="en"):
    """A file with every kind of row, uploaded (not processed yet)."""
    partner = ResellerFactory(partner_id="7654321")
    PartnershipFactory(provider=provider, reseller=partner)
    partnership_invitation_issued(provider, "erin@pending.example", by=admin)
    text = (
        "email,partner_id\n"
        "ann@reseller.example,\n"
        "bob@reseller.example,7300999\n"
        "ANN@reseller.example,\n"
        "\n"
        "not-an-address,\n"
        "carl@reseller.example,12345\n"
        "dana@partner.example,7654321\n"
        "erin@pending.example,\n"
    )
    return bulk_run_create(
        provider=provider, by=admin, file_name="mixed.csv", data=text.encode(), language=language
    )


MIXED_OUTCOMES = [
    (2, "ann@reseller.example", "", "sent", ""),
    (3, "bob@reseller.example", "7300999", "sent", ""),
    (4, "ANN@reseller.example", "", "skipped", "The same address is on an earlier line."),
    (6, "not-an-address", "", "refused", "Enter a valid email address."),
    (7, "carl@reseller.example", "12345", "refused", "A partner ID is exactly 7 digits."),
    (8, "dana@partner.example", "7654321", "skipped", "This reseller is already your partner."),
    (9, "erin@pending.example", "", "skipped", "An invitation to this address is already pending."),
]


def test_each_row_gets_its_outcome(provider, admin):
    run = mixed_run(provider, admin)
    assert counters(run) == {
        "status": "queued",
        "total": 7,
        "processed": 0,
        "sent": 0,
        "skipped": 0,
        "refused": 0,
    }

    finished = bulk_run_process(run_id=run.pk)

    assert finished.status == BulkInvitationRun.Status.DONE
    assert finished.finished_at is not None
    assert outcomes(run) == MIXED_OUTCOMES
    assert counters(run) == {
        "status": "done",
        "total": 7,
        "processed": 7,
        "sent": 2,
        "skipped": 3,
        "refused": 2,
    }
    sent = PartnershipInvitation.objects.filter(bulk_run=run).order_by("email")
    assert [(i.email, i.partner_id, i.language, i.status) for i in sent] == [
        ("ann@reseller.example", "", "en", LinkInvitationStatus.PENDING),
        ("bob@reseller.example", "7300999", "en", LinkInvitationStatus.PENDING),
    ]
    rows = BulkInvitationRow.objects.filter(run=run, outcome="sent").order_by("line")
    assert [row.invitation_id for row in rows] == [sent[0].pk, sent[1].pk]
    assert sorted(
        OutboxEmail.objects.filter(template="partnership_invitation").values_list("to", flat=True)
    ) == [
        "ann@reseller.example",
        "bob@reseller.example",
    ]
    # the earlier pending invitation is untouched
    assert (
        PartnershipInvitation.objects.get(email="erin@pending.example").status == LinkInvitationStatus.PENDING
    )
    assert AuditEvent.objects.filter(action="partnership_invitation.bulk_uploaded").count() == 1
    assert AuditEvent.objects.filter(action="partnership_invitation.bulk_finished").count() == 1

    # processing again (a redelivered task) changes nothing
    bulk_run_process(run_id=run.pk)
    assert outcomes(run) == MIXED_OUTCOMES
    assert PartnershipInvitation.objects.filter(bulk_run=run).count() == 2


def test_the_invitations_and_the_reasons_are_in_the_runs_language(provider, admin, settings):
    settings.INVITATIONS_PER_HOUR = 1
    text = "email\nann@reseller.example\nbob@reseller.example\n"
    run = bulk_run_create(provider=provider, by=admin, file_name="ja.csv", data=text.encode(), language="ja")

    bulk_run_process(run_id=run.pk)

    assert outcomes(run) == [
        (2, "ann@reseller.example", "", "sent", ""),
        (3, "bob@reseller.example", "", "refused", RATE_LIMITED_JA),
    ]
    assert PartnershipInvitation.objects.get().language == "ja"
    assert OutboxEmail.objects.get(template="partnership_invitation").language == "ja"


def test_rows_after_the_hourly_limit_are_refused_with_the_reason(provider, admin, settings):
    settings.INVITATIONS_PER_HOUR = 2
    text = "email,partner_id\n" + "".join(f"r{n}@reseller.example,\n" for n in range(4))
    run = bulk_run_create(
        provider=provider, by=admin, file_name="many.csv", data=text.encode(), language="en"
    )

    bulk_run_process(run_id=run.pk)

    assert outcomes(run) == [
        (2, "r0@reseller.example", "", "sent", ""),
        (3, "r1@reseller.example", "", "sent", ""),
        (4, "r2@reseller.example", "", "refused", RATE_LIMITED),
        (5, "r3@reseller.example", "", "refused", RATE_LIMITED),
    ]
    assert counters(run)["refused"] == 2
    assert sorted(PartnershipInvitation.objects.values_list("email", flat=True)) == [
        "r0@reseller.example",
        "r1@reseller.example",
    ]


def test_an_uploader_who_lost_the_right_gets_every_row_refused(provider, admin):
    run = bulk_run_create(
        provider=provider, by=admin, file_name="a.csv", data=b"email\nann@reseller.example\n", language="en"
    )
    admin.roles.update(role=Role.SALES_AGENT)  # still a member, no longer allowed to invite

    bulk_run_process(run_id=run.pk)

    assert outcomes(run) == [
        (
            2,
            "ann@reseller.example",
            "",
            "refused",
            "The person who uploaded the file may no longer send invitations.",
        )
    ]
    assert not PartnershipInvitation.objects.exists()


def test_the_upload_stores_the_run_and_opens_its_page(
    provider, admin, signed_in, django_capture_on_commit_callbacks
):
    text = "Email,Partner_ID\r\nann@reseller.example,1234567\r\nbob@reseller.example,\r\n"

    with django_capture_on_commit_callbacks() as callbacks:
        response = signed_in.post(urls(provider)["bulk"], {"file": csv_file(text), "language": "ja"})

    run = BulkInvitationRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == urls(provider, run)["run"]
    assert len(callbacks) == 1  # the worker is started after commit
    assert (
        run.organization_id,
        run.created_by_id,
        run.file_name,
        run.language,
        run.status,
        run.total_rows,
    ) == (
        provider.pk,
        admin.user_id,
        "resellers.csv",
        "ja",
        "queued",
        2,
    )
    assert outcomes(run) == [
        (2, "ann@reseller.example", "1234567", "pending", ""),
        (3, "bob@reseller.example", "", "pending", ""),
    ]
    page = signed_in.get(response["Location"]).content.decode()
    assert "resellers.csv was uploaded with 2 rows. The invitations are being sent." in page


def test_the_upload_page_explains_the_format_and_offers_the_languages(provider, signed_in, settings):
    settings.INVITATIONS_PER_HOUR = 40

    response = signed_in.get(urls(provider)["bulk"])

    assert response.status_code == 200
    body = response.content.decode()
    assert "<code>email,partner_id</code>" in body
    assert "Your organization can send 40 invitations an hour" in body
    assert "At most 10,000 rows and 2 MB." in body
    assert 'accept=".csv,text/csv"' in body
    assert 'enctype="multipart/form-data"' in body
    assert [code for code, _name in response.context["form"].fields["language"].choices] == ["en", "ja"]
    assert response.context["form"].initial == {"language": "en"}
    assert "No files uploaded yet." in body


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("email,partner_id\nrené@example.com,\n".encode("latin-1"), "Save the file as UTF-8 CSV."),
        (
            b"ann@reseller.example,1234567\n",
            "The first line must name the columns: email, and optionally partner_id.",
        ),
        (
            b"email,name\nann@reseller.example,Ann\n",
            "The first line must name the columns: email, and optionally partner_id.",
        ),
        (b"", "The file is empty."),
        (b"email,partner_id\n\n", "The file has no rows after the header."),
        (b"email\na@x.example\nb@x.example\nc@x.example\nd@x.example\n", "A file may have at most 3 rows."),
        (b"email\n" + b"someone@reseller.example\n" * 90_000, "The file is larger than 2 MB."),
    ],
    ids=["not-utf8", "no-header", "unknown-column", "empty", "header-only", "too-many-rows", "too-large"],
)
def test_a_bad_file_is_a_field_error_and_no_run_is_saved(provider, signed_in, settings, content, message):
    settings.PARTNERSHIP_BULK_MAX_ROWS = 3
    audit_before = AuditEvent.objects.count()

    response = signed_in.post(
        urls(provider)["bulk"],
        {"file": SimpleUploadedFile("bad.csv", content, content_type="text/csv"), "language": "en"},
    )

    assert response.status_code == 400
    assert response.context["form"].errors == {"file": [message]}
    assert 'id="id_file_error"' in response.content.decode()
    assert not BulkInvitationRun.objects.exists()
    assert not BulkInvitationRow.objects.exists()
    assert AuditEvent.objects.count() == audit_before


def test_no_file_at_all_is_a_field_error(provider, signed_in):
    response = signed_in.post(urls(provider)["bulk"], {"language": "en"})

    assert response.status_code == 400
    assert response.context["form"].errors == {"file": ["Choose a CSV file."]}
    assert not BulkInvitationRun.objects.exists()


def test_the_run_page_while_sending_polls_without_meta_refresh(provider, admin, signed_in):
    run = bulk_run_create(
        provider=provider, by=admin, file_name="a.csv", data=b"email\nann@reseller.example\n", language="en"
    )

    response = signed_in.get(urls(provider, run)["run"])

    assert response.status_code == 200
    body = response.content.decode()
    assert 'http-equiv="refresh"' not in body.lower()
    assert "js/bulk-progress.js" in body
    assert f'data-progress-url="{urls(provider, run)["run"]}?format=json"' in body
    assert 'data-poll-interval="2000"' in body
    assert f'href="{urls(provider, run)["run"]}">Refresh</a>' in body
    assert response.context["rows"] is None
    assert "Download the report" not in body

    progress = signed_in.get(urls(provider, run)["run"], {"format": "json"})

    assert progress["Content-Type"] == "application/json"
    assert progress["Cache-Control"] == "no-store"
    assert progress.json() == {
        "status": "queued",
        "status_label": "Queued",
        "done": False,
        "total": 1,
        "processed": 0,
        "sent": 0,
        "skipped": 0,
        "refused": 0,
    }


def test_the_run_page_when_done_lists_the_rows_and_offers_the_report(provider, admin, signed_in):
    run = mixed_run(provider, admin)
    bulk_run_process(run_id=run.pk)

    response = signed_in.get(urls(provider, run)["run"])

    body = response.content.decode()
    assert "js/bulk-progress.js" not in body
    assert "data-bulk-progress" not in body
    assert f'href="{urls(provider, run)["report"]}"' in body
    assert [(row.line, row.outcome) for row in response.context["rows"]] == [
        (line, outcome) for line, _email, _partner, outcome, _reason in MIXED_OUTCOMES
    ]
    assert "This reseller is already your partner." in body
    assert signed_in.get(urls(provider, run)["run"], {"format": "json"}).json() == {
        "status": "done",
        "status_label": "Done",
        "done": True,
        "total": 7,
        "processed": 7,
        "sent": 2,
        "skipped": 3,
        "refused": 2,
    }


def test_the_rows_are_keyset_pages_of_200(provider, signed_in):
    run = BulkInvitationRunFactory(organization=provider, status="done", total_rows=201, processed_rows=201)
    BulkInvitationRow.objects.bulk_create(
        BulkInvitationRow(run=run, line=line, email=f"r{line}@reseller.example", outcome="sent")
        for line in range(2, 203)
    )

    first = signed_in.get(urls(provider, run)["run"]).context["rows"]

    assert [row.line for row in first][:2] == [2, 3]
    assert len(first) == 200
    assert first.has_next
    second = signed_in.get(f"{urls(provider, run)['run']}?{first.next_query}").context["rows"]
    assert [row.line for row in second] == [202]
    assert not second.has_next


def test_the_report_has_every_row_and_is_safe_in_a_spreadsheet(provider, admin, signed_in):
    text = 'email,partner_id\nann@reseller.example,\n=HYPERLINK("http://evil.example"),@SUM(1)\n'
    run = bulk_run_create(provider=provider, by=admin, file_name="a.csv", data=text.encode(), language="en")
    bulk_run_process(run_id=run.pk)

    response = signed_in.get(urls(provider, run)["report"])

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="invitations-report-{run.public_id}.csv"'
    content = b"".join(response.streaming_content).decode()
    assert content.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(content.lstrip("\ufeff")))) == [
        ["line", "email", "partner_id", "result", "reason"],
        ["2", "ann@reseller.example", "", "sent", ""],
        ["3", '\'=HYPERLINK("http://evil.example")', "'@SUM(1)", "refused", "Enter a valid email address."],
    ]


def test_the_upload_page_lists_the_providers_own_runs_newest_first(provider, signed_in):
    now = timezone.now()
    older = BulkInvitationRunFactory(
        organization=provider, created_at=now - timedelta(days=2), file_name="old.csv"
    )
    newer = BulkInvitationRunFactory(
        organization=provider, created_at=now - timedelta(hours=1), file_name="new.csv"
    )
    BulkInvitationRunFactory(file_name="someone-elses.csv")  # another provider's

    response = signed_in.get(urls(provider)["bulk"])

    assert list(response.context["runs"]) == [newer, older]
    body = response.content.decode()
    assert "someone-elses.csv" not in body
    assert urls(provider, newer)["run"] in body


def test_the_run_list_is_keyset_paged_with_a_constant_query_count(provider, signed_in):
    BulkInvitationRunFactory(organization=provider)
    signed_in.get(urls(provider)["bulk"])  # warm: session and caches
    with CaptureQueriesContext(connection) as few:
        signed_in.get(urls(provider)["bulk"])
    BulkInvitationRunFactory.create_batch(30, organization=provider)
    with CaptureQueriesContext(connection) as many:
        response = signed_in.get(urls(provider)["bulk"])

    assert len(many) == len(few)
    assert len(response.context["runs"]) == 20
    assert response.context["runs"].has_next


def test_another_providers_run_is_not_found(provider, signed_in):
    foreign = BulkInvitationRunFactory(file_name="theirs.csv")
    BulkInvitationRow.objects.create(run=foreign, line=2, email="secret@their-reseller.example")
    found = urls(provider, foreign)

    assert signed_in.get(found["run"]).status_code == 404
    assert signed_in.get(found["run"], {"format": "json"}).status_code == 404
    assert signed_in.get(found["report"]).status_code == 404


def test_a_sales_agent_may_not_upload_and_nothing_is_saved(provider, client):
    member = MembershipFactory(organization=provider, roles=[Role.SALES_AGENT])
    client.force_login(member.user)
    run = BulkInvitationRunFactory(organization=provider)
    audit_before = AuditEvent.objects.count()

    assert client.get(urls(provider)["bulk"]).status_code == 403
    response = client.post(
        urls(provider)["bulk"], {"file": csv_file("email\nann@reseller.example\n"), "language": "en"}
    )
    assert response.status_code == 403
    assert client.get(urls(provider, run)["run"]).status_code == 403
    assert client.get(urls(provider, run)["report"]).status_code == 403

    assert list(BulkInvitationRun.objects.all()) == [run]
    assert not BulkInvitationRow.objects.exists()
    assert AuditEvent.objects.count() == audit_before


def test_a_long_run_hands_the_rest_to_a_new_task(provider, admin, django_capture_on_commit_callbacks):
    text = "email\na@reseller.example\nb@reseller.example\nc@reseller.example\n"
    run = bulk_run_create(provider=provider, by=admin, file_name="a.csv", data=text.encode(), language="en")

    with django_capture_on_commit_callbacks() as callbacks:
        continued = bulk_run_process(run_id=run.pk, seconds=0)  # time is up after the first row

    assert continued.status == BulkInvitationRun.Status.RUNNING
    assert (counters(run)["processed"], counters(run)["sent"]) == (1, 1)
    handed_on = [callback for callback in callbacks if getattr(callback, "func", None) is bulk_run_publish]
    assert [callback.keywords for callback in handed_on] == [{"run_id": run.pk}]

    finished = bulk_run_process(run_id=run.pk)

    assert finished.status == BulkInvitationRun.Status.DONE
    assert [outcome for _line, _email, _partner, outcome, _reason in outcomes(run)] == ["sent"] * 3


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_real_worker_sends_an_uploaded_file_task_after_task(
    celery_worker_thread, finished_tasks, client, monkeypatch
):
    # every task sends one row, then hands the rest on through the broker
    monkeypatch.setattr(bulk, "TASK_SECONDS", 0)
    provider = ProviderFactory()
    admin = MembershipFactory(organization=provider, roles=[Role.GLOBAL_ADMIN])
    client.force_login(admin.user)
    text = "email,partner_id\nann@reseller.example,\nann@reseller.example,\nbad,\n"

    response = client.post(urls(provider)["bulk"], {"file": csv_file(text), "language": "en"})

    run = BulkInvitationRun.objects.get()
    assert response["Location"] == urls(provider, run)["run"]
    runs = finished_tasks.wait_for(RUN_TASK, run.pk, count=4)
    assert [task.retval for task in runs] == ["running", "running", "running", "done"]
    assert outcomes(run) == [
        (2, "ann@reseller.example", "", "sent", ""),
        (3, "ann@reseller.example", "", "skipped", "The same address is on an earlier line."),
        (4, "bad", "", "refused", "Enter a valid email address."),
    ]
    assert counters(run) == {
        "status": "done",
        "total": 3,
        "processed": 3,
        "sent": 1,
        "skipped": 1,
        "refused": 1,
    }
    assert client.get(urls(provider, run)["run"], {"format": "json"}).json()["done"] is True
    # the invitation's email goes out through the outbox, on the same worker
    wait_until(
        lambda: OutboxEmail.objects.filter(
            template="partnership_invitation", to="ann@reseller.example", status=OutboxEmail.Status.SENT
        ).exists(),
        message="the invitation email was not sent",
    )


def test_the_beat_resumes_a_run_that_stopped_progressing_not_one_that_is_working(provider, monkeypatch):
    published = []
    monkeypatch.setattr(bulk, "bulk_run_publish", lambda *, run_id: published.append(run_id))
    long_ago = timezone.now() - timedelta(minutes=30)
    working = BulkInvitationRunFactory(
        organization=provider, status=BulkInvitationRun.Status.RUNNING, created_at=long_ago
    )
    BulkInvitationRun.objects.filter(pk=working.pk).update(progressed_at=timezone.now())
    stuck = BulkInvitationRunFactory(
        organization=provider, status=BulkInvitationRun.Status.RUNNING, created_at=long_ago
    )
    BulkInvitationRun.objects.filter(pk=stuck.pk).update(progressed_at=long_ago)
    never_started = BulkInvitationRunFactory(organization=provider, created_at=long_ago)
    just_uploaded = BulkInvitationRunFactory(organization=provider)
    done = BulkInvitationRunFactory(
        organization=provider, status=BulkInvitationRun.Status.DONE, created_at=long_ago
    )

    assert bulk.bulk_runs_resume() == 2

    assert sorted(published) == sorted([stuck.pk, never_started.pk])
    assert {just_uploaded.pk, working.pk, done.pk}.isdisjoint(published)
