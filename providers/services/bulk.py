"""Invitations from a CSV file: checked row by row, sent by the worker, reported per row.

The upload stores the file's rows (``email`` and optional ``partner_id`` columns, UTF-8, a header line)
as a run; the worker sends each row through the same service as the single invitation, so every rule
(the hourly limit, the partner-ID binding, an existing partner) holds, and records what happened: sent,
skipped as a duplicate (an earlier row, a pending invitation to the same address, a current partner), or
refused with the reason. Each row is its own transaction, so a lost worker resumes where it stopped.
"""

import csv
import io
import time
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, Organization
from accounts.roles import Permission
from portal.audit.services import audit_record
from portal.errors import DomainError
from portal.invitations.models import LinkInvitationStatus
from portal.transitions import transition_apply, transition_claim
from providers.models import BULK_RUN_STATUS, BulkInvitationRow, BulkInvitationRun, PartnershipInvitation
from providers.services.common import actor_refresh, organization_locked
from providers.services.invitations import (
    _already_partner,
    email_clean,
    invitation_send_default,
    partner_id_clean,
    partnership_invitation_create,
)

MAX_BYTES = 2 * 1024 * 1024
#: One task sends rows for about this long, then hands the rest of the run to a new task: every task ends
#: well inside the worker's time limit (CELERY_TASK_SOFT_TIME_LIMIT, 240 s) however long the file is.
TASK_SECONDS = 60
COLUMNS = ("email", "partner_id")
Outcome = BulkInvitationRow.Outcome


def _cell(record: list[str], index: int | None) -> str:
    return record[index].strip() if index is not None and index < len(record) else ""


def _rows(data: bytes) -> list[tuple[int, str, str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError(_("Save the file as UTF-8 CSV."), code="encoding", field="file") from None
    if "\x00" in text:
        raise DomainError(_("This is not a CSV file."), code="not_csv", field="file")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise DomainError(_("The file is empty."), code="empty", field="file") from None
    except csv.Error:
        raise DomainError(_("This is not a CSV file."), code="not_csv", field="file") from None
    if "email" not in header or set(header) - set(COLUMNS) - {""}:
        raise DomainError(
            _("The first line must name the columns: email, and optionally partner_id."),
            code="header",
            field="file",
        )
    email_at = header.index("email")
    partner_at = header.index("partner_id") if "partner_id" in header else None
    rows = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if any(cell.strip() for cell in record[len(header) :]):
                # A value under no column (a partner ID without its header) must not be dropped unseen.
                raise DomainError(
                    _("Line %(line)d has more values than the first line has columns.")
                    % {"line": reader.line_num},
                    code="extra_columns",
                    field="file",
                )
            rows.append((reader.line_num, _cell(record, email_at)[:320], _cell(record, partner_at)[:40]))
    except csv.Error:
        raise DomainError(_("This is not a CSV file."), code="not_csv", field="file") from None
    if not rows:
        raise DomainError(_("The file has no rows after the header."), code="empty", field="file")
    if len(rows) > settings.PARTNERSHIP_BULK_MAX_ROWS:
        raise DomainError(
            _("A file may have at most %(count)d rows.") % {"count": settings.PARTNERSHIP_BULK_MAX_ROWS},
            code="too_many_rows",
            field="file",
        )
    return rows


@transaction.atomic
def bulk_run_create(
    *, provider: Organization, by: Membership, file_name: str, data: bytes, language: str
) -> BulkInvitationRun:
    """Store the file's rows as a queued run; the worker starts after commit."""
    provider = organization_locked(provider, kind=Organization.Kind.PROVIDER)
    by = actor_refresh(by, provider, Permission.PARTNERS_MANAGE)
    if len(data) > MAX_BYTES:
        raise DomainError(_("The file is larger than 2 MB."), code="too_large", field="file")
    rows = _rows(data)
    run = BulkInvitationRun.objects.create(
        organization=provider,
        created_by=by.user,
        file_name=(file_name or "invitations.csv")[:200],
        language=language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE,
        total_rows=len(rows),
    )
    BulkInvitationRow.objects.bulk_create(
        (
            BulkInvitationRow(run=run, line=line, email=email, partner_id=partner_id)
            for line, email, partner_id in rows
        ),
        batch_size=1000,
    )
    audit_record(
        action="partnership_invitation.bulk_uploaded",
        actor=by.user,
        organization=provider,
        target=run,
        after={"file": run.file_name, "rows": len(rows)},
    )
    transaction.on_commit(partial(bulk_run_publish, run_id=run.pk), robust=True)
    return run


def bulk_run_publish(*, run_id: int) -> None:
    from providers.tasks import partnership_bulk_run

    partnership_bulk_run.delay(run_id)


def _row_result(row: BulkInvitationRow, outcome: str, reason="", invitation=None) -> None:
    row.outcome, row.reason, row.invitation = outcome, str(reason)[:300], invitation
    row.save(update_fields=["outcome", "reason", "invitation"])
    counter = {Outcome.SENT: "sent", Outcome.SKIPPED: "skipped", Outcome.REFUSED: "refused"}[outcome]
    BulkInvitationRun.objects.filter(pk=row.run_id).update(
        processed_rows=F("processed_rows") + 1, progressed_at=timezone.now(), **{counter: F(counter) + 1}
    )


def _row_process(run: BulkInvitationRun, row: BulkInvitationRow, membership: Membership | None) -> None:
    """One row in its own transaction: sent, skipped or refused, and the run's counters with it."""
    with transaction.atomic():
        row = BulkInvitationRow.objects.select_for_update().get(pk=row.pk)
        if row.outcome != Outcome.PENDING:
            return
        try:
            if membership is None:
                raise DomainError(
                    _("The person who uploaded the file may no longer send invitations."),
                    code="actor_not_permitted",
                )
            email = email_clean(row.email)
            partner_id = partner_id_clean(row.partner_id)
        except DomainError as error:
            _row_result(row, Outcome.REFUSED, error.message)
            return
        earlier = BulkInvitationRow.objects.filter(
            run=run, line__lt=row.line, email__iexact=email, outcome=Outcome.SENT
        ).exists()
        pending = (
            PartnershipInvitation.objects.filter(
                organization_id=run.organization_id, email=email, status=LinkInvitationStatus.PENDING
            )
            .exclude(bulk_run=run)
            .exists()
        )
        if earlier:
            _row_result(row, Outcome.SKIPPED, _("The same address is on an earlier line."))
            return
        if pending:
            _row_result(row, Outcome.SKIPPED, _("An invitation to this address is already pending."))
            return
        if _already_partner(run.organization, partner_id=partner_id):
            _row_result(row, Outcome.SKIPPED, _("This reseller is already your partner."))
            return
        try:
            with transaction.atomic():
                invitation, raw_token = partnership_invitation_create(
                    provider=run.organization,
                    email=email,
                    partner_id=partner_id,
                    language=run.language,
                    by=membership,
                    bulk_run=run,
                )
                invitation_send_default(invitation, raw_token, by=membership.user)
        except DomainError as error:
            _row_result(row, Outcome.REFUSED, error.message)
            return
        _row_result(row, Outcome.SENT, invitation=invitation)


def bulk_run_process(*, run_id: int, seconds: float | None = None) -> BulkInvitationRun:
    """Send the waiting rows (the worker; safe to run again after a lost task); after ``seconds``, the
    rest goes to a new task and the run stays running."""
    seconds = TASK_SECONDS if seconds is None else seconds
    run = BulkInvitationRun.objects.select_related("organization", "created_by").get(pk=run_id)
    if run.status == BulkInvitationRun.Status.DONE:
        return run
    if run.status == BulkInvitationRun.Status.QUEUED:
        transition_claim(
            BulkInvitationRun,
            run.pk,
            BulkInvitationRun.Status.QUEUED,
            BulkInvitationRun.Status.RUNNING,
            transitions=BULK_RUN_STATUS,
        )
    membership = (
        Membership.objects.filter(organization=run.organization, user=run.created_by).first()
        if run.created_by_id
        else None
    )
    try:
        membership = (
            actor_refresh(membership, run.organization, Permission.PARTNERS_MANAGE) if membership else None
        )
    except DomainError:
        membership = None
    deadline = time.monotonic() + seconds
    with translation.override(run.language):
        for row in (
            BulkInvitationRow.objects.filter(run=run, outcome=Outcome.PENDING).order_by("line").iterator()
        ):
            _row_process(run, row, membership)
            if time.monotonic() >= deadline:
                transaction.on_commit(partial(bulk_run_publish, run_id=run.pk), robust=True)
                return BulkInvitationRun.objects.get(pk=run.pk)
    with transaction.atomic():
        # Two tasks may reach the end of one run (a resumed one): the row lock lets one of them finish it.
        run = BulkInvitationRun.objects.select_for_update().get(pk=run.pk)
        if (
            run.status != BulkInvitationRun.Status.RUNNING
            or run.rows.filter(outcome=Outcome.PENDING).exists()
        ):
            return run
        run = transition_apply(
            run,
            BulkInvitationRun.Status.DONE,
            transitions=BULK_RUN_STATUS,
            action="partnership_invitation.bulk_finished",
            organization_id=run.organization_id,
            changes={"finished_at": timezone.now()},
            audit_after={"sent": run.sent, "skipped": run.skipped, "refused": run.refused},
        )
    return BulkInvitationRun.objects.get(pk=run.pk)


def bulk_runs_resume() -> int:
    """Beat: republish runs that made no progress for a few minutes (a lost task)."""
    stale = timezone.now() - timedelta(minutes=5)
    run_ids = list(
        BulkInvitationRun.objects.annotate(last=Coalesce("progressed_at", "created_at"))
        .filter(
            status__in=[BulkInvitationRun.Status.QUEUED, BulkInvitationRun.Status.RUNNING], last__lt=stale
        )
        .values_list("pk", flat=True)[:50]
    )
    for run_id in run_ids:
        bulk_run_publish(run_id=run_id)
    return len(run_ids)
