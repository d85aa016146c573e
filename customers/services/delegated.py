"""Delegated admin (GDAP) after the invitation: role requests, the customer's approval, removal, and the
beat job that marks, reminds, extends and expires.

- ``delegated_admin_request``: the reseller asks for new or changed roles; the customer's administrators
  get an email whose link opens the approval page (a page of the customer organization: only its Global
  admins, signed in, can approve). One pending request per pair; a new one supersedes it.
- ``delegated_admin_approve``: pending → active, from now; it replaces the live relationship it changes.
- ``delegated_admin_decline`` / ``delegated_admin_remove``: the customer refuses a request, or removes a
  live relationship at once; the partner is told.
- The beat job (``delegated_admins_run_due``): live relationships ``EXPIRING_DAYS`` (30) before their end
  become *expiring*; reminders at 30, 7 and 1 days to both sides (not for those that auto-extend); at the
  end, those with auto-extend (never with Global administrator, and only while the reseller relationship
  is active) gain ``AUTO_EXTEND_DAYS`` (180), the others expire. Requests left unanswered
  ``DELEGATED_ADMIN_REQUEST_DAYS`` expire. Every step is one short transaction per row, safe to re-run.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, Organization
from accounts.roles import Permission
from accounts.services.memberships import organization_lock
from customers.models import (
    AUTO_EXTEND_DAYS,
    DELEGATED_ADMIN_LIVE,
    DELEGATED_ADMIN_STATUS,
    EXPIRING_DAYS,
    REMINDER_DAYS,
    DelegatedAdminRelationship,
    DelegatedAdminStatus,
    DelegatedRole,
)
from customers.selectors import reseller_relationship
from customers.services.common import delegated_terms_clean, notify, role_lines
from portal.audit.services import audit_record
from portal.errors import DomainError
from portal.text import text_clean
from portal.transitions import transition_apply
from providers.services.common import actor_refresh

S = DelegatedAdminStatus
NOT_YOURS = _("This delegated admin relationship is not yours.")


def _context(relationship: DelegatedAdminRelationship, **extra) -> dict:
    return {
        "customer_name": relationship.customer.legal_name,
        "partner_name": relationship.partner.legal_name,
        "roles": role_lines(relationship.roles),
        "duration_days": relationship.duration_days,
        "auto_extend": relationship.auto_extend,
        "ends_at": relationship.ends_at,
        **extra,
    }


def _audit_both(relationship, *, action: str, actor, before=None, after=None) -> None:
    for organization_id in (relationship.customer_id, relationship.partner_id):
        audit_record(
            action=action,
            actor=actor,
            organization_id=organization_id,
            target=relationship,
            before=before,
            after={
                "partner": relationship.partner.legal_name,
                "customer": relationship.customer.legal_name,
                **(after or {}),
            },
        )


def delegated_admin_close(
    relationship: DelegatedAdminRelationship, status: str, *, actor, reason: str = ""
) -> None:
    """Move a pending or live relationship to ``terminated`` or ``expired`` (row locked, audited in both
    organizations). The caller holds the organizations' locks."""
    before = relationship.status
    DELEGATED_ADMIN_STATUS.check(before, status)
    relationship.status, relationship.closed_at = status, timezone.now()
    relationship.closed_by = actor if getattr(actor, "is_authenticated", False) else None
    relationship.close_reason = reason
    relationship.save(update_fields=["status", "closed_at", "closed_by", "close_reason"])
    _audit_both(
        relationship,
        action=f"delegated_admin.{status}",
        actor=actor,
        before={"status": before},
        after={"status": status, "reason": reason, "roles": relationship.roles_in_order},
    )


def _locked(relationship: DelegatedAdminRelationship) -> DelegatedAdminRelationship:
    return (
        DelegatedAdminRelationship.objects.select_for_update(of=("self",))
        .select_related("customer", "partner")
        .get(pk=relationship.pk)
    )


# --- The partner asks ---------------------------------------------------------------------------------


@transaction.atomic
def delegated_admin_request(
    *,
    partner: Organization,
    by: Membership,
    customer: Organization,
    roles,
    duration_days,
    auto_extend: bool = False,
) -> DelegatedAdminRelationship:
    """A request for new or changed roles, pending until a Global admin of the customer approves it."""
    partner = organization_lock(partner)
    customer = organization_lock(customer)
    by = actor_refresh(by, partner, Permission.CUSTOMERS_MANAGE)
    if partner.kind != Organization.Kind.RESELLER or reseller_relationship(customer, partner) is None:
        raise DomainError(_("This customer is not yours."), code="not_your_customer")
    roles, days, auto_extend = delegated_terms_clean(
        roles=roles, duration_days=duration_days, auto_extend=auto_extend
    )
    for pending in DelegatedAdminRelationship.objects.select_for_update().filter(
        customer=customer, partner=partner, status=S.APPROVAL_PENDING
    ):
        delegated_admin_close(pending, S.TERMINATED, actor=by.user, reason="superseded")
    live = DelegatedAdminRelationship.objects.filter(
        customer=customer, partner=partner, status__in=DELEGATED_ADMIN_LIVE
    ).first()
    relationship = DelegatedAdminRelationship.objects.create(
        customer=customer,
        partner=partner,
        roles=roles,
        duration_days=days,
        auto_extend=auto_extend,
        status=S.APPROVAL_PENDING,
        replaces=live,
        requested_by=by.user,
    )
    _audit_both(
        relationship,
        action="delegated_admin.requested",
        actor=by.user,
        after={"roles": roles, "duration_days": days, "auto_extend": auto_extend},
    )
    approval_url = settings.SITE_URL + reverse(
        "customers:delegated_admin_review",
        kwargs={"organization_public_id": customer.public_id, "delegated_admin_id": relationship.public_id},
    )
    notify(
        customer,
        template="delegated_admin_request",
        context=_context(relationship, approval_url=approval_url, requested_by=by.user.get_full_name()),
        dedupe_key=f"delegated_admin:{relationship.pk}:requested",
    )
    return relationship


# --- The customer answers -----------------------------------------------------------------------------


def _customer_actor(relationship, by: Membership) -> tuple[DelegatedAdminRelationship, Membership]:
    customer = organization_lock(relationship.customer)
    if by.organization_id != customer.pk:
        raise DomainError(NOT_YOURS, code="not_yours")
    by = actor_refresh(by, customer, Permission.PARTNERS_MANAGE)
    relationship = _locked(relationship)
    if relationship.customer_id != customer.pk:
        raise DomainError(NOT_YOURS, code="not_yours")
    return relationship, by


@transaction.atomic
def delegated_admin_approve(
    *, relationship: DelegatedAdminRelationship, by: Membership
) -> DelegatedAdminRelationship:
    organization_lock(relationship.partner)
    relationship, by = _customer_actor(relationship, by)
    if relationship.status != S.APPROVAL_PENDING:
        raise DomainError(_("This request was already answered or withdrawn."), code="not_pending")
    # the terms are checked again as they are granted (a row made by an older rule cannot slip through)
    delegated_terms_clean(
        roles=relationship.roles,
        duration_days=relationship.duration_days,
        auto_extend=relationship.auto_extend,
    )
    if reseller_relationship(relationship.customer, relationship.partner) is None:
        raise DomainError(
            _("%(partner)s is no longer your reseller: this request cannot be approved.")
            % {"partner": relationship.partner.legal_name},
            code="not_a_partner",
        )
    for live in DelegatedAdminRelationship.objects.select_for_update().filter(
        customer=relationship.customer, partner=relationship.partner, status__in=DELEGATED_ADMIN_LIVE
    ):
        delegated_admin_close(live, S.TERMINATED, actor=by.user, reason="replaced")
    now = timezone.now()
    relationship = transition_apply(
        relationship,
        S.ACTIVE,
        transitions=DELEGATED_ADMIN_STATUS,
        action="delegated_admin.approved",
        actor=by.user,
        organization_id=relationship.customer_id,
        changes={
            "starts_at": now,
            "ends_at": now + timedelta(days=relationship.duration_days),
            "approved_by": by.user,
        },
        audit_after={"roles": relationship.roles_in_order},
    )
    relationship = DelegatedAdminRelationship.objects.select_related("customer", "partner").get(
        pk=relationship.pk
    )
    audit_record(
        action="delegated_admin.approved",
        actor=by.user,
        organization_id=relationship.partner_id,
        target=relationship,
        before={"status": S.APPROVAL_PENDING},
        after={
            "status": S.ACTIVE,
            "customer": relationship.customer.legal_name,
            "roles": relationship.roles_in_order,
        },
    )
    notify(
        relationship.partner,
        template="delegated_admin_approved",
        context=_context(relationship),
        dedupe_key=f"delegated_admin:{relationship.pk}:approved",
        extra_users=[relationship.requested_by] if relationship.requested_by else (),
    )
    return relationship


@transaction.atomic
def delegated_admin_decline(
    *, relationship: DelegatedAdminRelationship, by: Membership, reason: str = ""
) -> DelegatedAdminRelationship:
    organization_lock(relationship.partner)
    relationship, by = _customer_actor(relationship, by)
    if relationship.status != S.APPROVAL_PENDING:
        raise DomainError(_("This request was already answered or withdrawn."), code="not_pending")
    reason = text_clean(reason, field="reason", required=False, max_length=500)
    delegated_admin_close(relationship, S.TERMINATED, actor=by.user, reason=reason or "declined")
    notify(
        relationship.partner,
        template="delegated_admin_declined",
        context=_context(relationship, reason=reason),
        dedupe_key=f"delegated_admin:{relationship.pk}:declined",
        extra_users=[relationship.requested_by] if relationship.requested_by else (),
    )
    return relationship


@transaction.atomic
def delegated_admin_remove(
    *, relationship: DelegatedAdminRelationship, by: Membership, reason: str = ""
) -> DelegatedAdminRelationship:
    """The customer removes a partner's delegated admin access at once; the partner is told."""
    organization_lock(relationship.partner)
    relationship, by = _customer_actor(relationship, by)
    if relationship.status not in DELEGATED_ADMIN_LIVE:
        raise DomainError(_("This delegated admin access has already ended."), code="not_live")
    reason = text_clean(reason, field="reason", required=False, max_length=500)
    delegated_admin_close(relationship, S.TERMINATED, actor=by.user, reason=reason or "removed_by_customer")
    notify(
        relationship.partner,
        template="delegated_admin_removed",
        context=_context(relationship, reason=reason),
        dedupe_key=f"delegated_admin:{relationship.pk}:removed",
    )
    return relationship


# --- The beat job -------------------------------------------------------------------------------------


def _due_ids(queryset, limit: int) -> list[int]:
    return list(queryset.order_by("ends_at", "id").values_list("pk", flat=True)[:limit])


def delegated_admins_mark_expiring(*, limit: int = 1000, now=None) -> int:
    """active → expiring once the end is ``EXPIRING_DAYS`` away (status only: the reminders say it)."""
    now = now or timezone.now()
    marked = 0
    for pk in _due_ids(
        DelegatedAdminRelationship.objects.filter(
            status=S.ACTIVE,
            auto_extend=False,
            ends_at__gt=now,
            ends_at__lte=now + timedelta(days=EXPIRING_DAYS),
        ),
        limit,
    ):
        with transaction.atomic():
            relationship = _locked(DelegatedAdminRelationship(pk=pk))
            # auto-extending relationships stay active: their end moves instead
            if relationship.status != S.ACTIVE or relationship.auto_extend:
                continue
            transition_apply(
                relationship,
                S.EXPIRING,
                transitions=DELEGATED_ADMIN_STATUS,
                action="delegated_admin.expiring",
                actor=None,
                organization_id=relationship.customer_id,
            )
            audit_record(
                action="delegated_admin.expiring",
                actor=None,
                organization_id=relationship.partner_id,
                target=relationship,
                before={"status": S.ACTIVE},
                after={"status": S.EXPIRING, "customer": relationship.customer.legal_name},
            )
            marked += 1
    return marked


def _mark_due(relationship: DelegatedAdminRelationship, now) -> int | None:
    """The reminder mark (30, 7 or 1 days) due now and not yet sent: the smallest one reached."""
    left = relationship.ends_at - now
    reached = [mark for mark in REMINDER_DAYS if left <= timedelta(days=mark)]
    if not reached:
        return None
    mark = min(reached)
    if relationship.reminded_days is not None and relationship.reminded_days <= mark:
        return None
    return mark


def delegated_admins_remind_due(*, limit: int = 1000, now=None) -> int:
    now = now or timezone.now()
    reminded = 0
    # exactly the rows with a mark reached and not yet sent, so that every batch makes progress
    reached = Q()
    for mark in REMINDER_DAYS:
        reached |= Q(ends_at__lte=now + timedelta(days=mark)) & (
            Q(reminded_days__isnull=True) | Q(reminded_days__gt=mark)
        )
    candidates = DelegatedAdminRelationship.objects.filter(
        reached, status__in=DELEGATED_ADMIN_LIVE, auto_extend=False, ends_at__gt=now
    )
    for pk in _due_ids(candidates, limit):
        with transaction.atomic():
            relationship = _locked(DelegatedAdminRelationship(pk=pk))
            if relationship.status not in DELEGATED_ADMIN_LIVE or relationship.ends_at <= now:
                continue
            mark = _mark_due(relationship, now)
            if mark is None:
                continue
            relationship.reminded_days = mark
            relationship.save(update_fields=["reminded_days"])
            context = _context(relationship, days_left=mark)
            for organization in (relationship.partner, relationship.customer):
                notify(
                    organization,
                    template="delegated_admin_reminder",
                    context=context,
                    dedupe_key=f"delegated_admin:{relationship.pk}:{relationship.ends_at:%Y%m%d}:reminder:{mark}",
                )
            _audit_both(
                relationship, action="delegated_admin.reminded", actor=None, after={"days_left": mark}
            )
            reminded += 1
    return reminded


def _may_extend(relationship: DelegatedAdminRelationship) -> bool:
    return (
        relationship.auto_extend
        and DelegatedRole.GLOBAL_ADMIN not in relationship.roles
        and reseller_relationship(relationship.customer, relationship.partner) is not None
    )


def delegated_admins_expire_due(*, limit: int = 1000, now=None) -> dict:
    """At the end: auto-extend (180 days) where allowed, else expire; both sides told of an expiry."""
    now = now or timezone.now()
    counts = {"expired": 0, "extended": 0}
    for pk in _due_ids(
        DelegatedAdminRelationship.objects.filter(status__in=DELEGATED_ADMIN_LIVE, ends_at__lte=now), limit
    ):
        with transaction.atomic():
            relationship = _locked(DelegatedAdminRelationship(pk=pk))
            if relationship.status not in DELEGATED_ADMIN_LIVE or relationship.ends_at > now:
                continue
            if _may_extend(relationship):
                before_end = relationship.ends_at
                relationship.ends_at = before_end + timedelta(days=AUTO_EXTEND_DAYS)
                relationship.extended_count += 1
                relationship.reminded_days = None
                fields = ["ends_at", "extended_count", "reminded_days"]
                if relationship.status == S.EXPIRING:
                    DELEGATED_ADMIN_STATUS.check(relationship.status, S.ACTIVE)
                    relationship.status = S.ACTIVE
                    fields.append("status")
                relationship.save(update_fields=fields)
                for organization in (relationship.partner, relationship.customer):
                    notify(
                        organization,
                        template="delegated_admin_extended",
                        context=_context(relationship, days=AUTO_EXTEND_DAYS),
                        dedupe_key=f"delegated_admin:{relationship.pk}:extended:{relationship.ends_at:%Y%m%d}",
                    )
                _audit_both(
                    relationship,
                    action="delegated_admin.extended",
                    actor=None,
                    before={"ends_at": before_end.isoformat()},
                    after={"ends_at": relationship.ends_at.isoformat(), "days": AUTO_EXTEND_DAYS},
                )
                counts["extended"] += 1
                continue
            delegated_admin_close(relationship, S.EXPIRED, actor=None, reason="ended")
            for organization in (relationship.partner, relationship.customer):
                notify(
                    organization,
                    template="delegated_admin_expired",
                    context=_context(relationship),
                    dedupe_key=f"delegated_admin:{relationship.pk}:expired",
                )
            counts["expired"] += 1
    return counts


def delegated_admin_requests_expire_due(*, limit: int = 1000, now=None) -> int:
    """Requests unanswered for ``DELEGATED_ADMIN_REQUEST_DAYS`` expire; the partner is told."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.DELEGATED_ADMIN_REQUEST_DAYS)
    expired = 0
    ids = list(
        DelegatedAdminRelationship.objects.filter(status=S.APPROVAL_PENDING, requested_at__lte=cutoff)
        .order_by("requested_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        with transaction.atomic():
            relationship = _locked(DelegatedAdminRelationship(pk=pk))
            if relationship.status != S.APPROVAL_PENDING:
                continue
            delegated_admin_close(relationship, S.EXPIRED, actor=None, reason="unanswered")
            notify(
                relationship.partner,
                template="delegated_admin_request_expired",
                context=_context(relationship),
                dedupe_key=f"delegated_admin:{relationship.pk}:request_expired",
            )
            expired += 1
    return expired


def delegated_admins_run_due(*, now=None, batch: int = 1000) -> dict:
    """The whole beat job, in batches until nothing is due (each batch: short transactions per row)."""
    totals = {"expiring": 0, "reminded": 0, "extended": 0, "expired": 0, "requests_expired": 0}
    while True:
        ended = delegated_admins_expire_due(limit=batch, now=now)
        step = {
            "expired": ended["expired"],
            "extended": ended["extended"],
            "expiring": delegated_admins_mark_expiring(limit=batch, now=now),
            "reminded": delegated_admins_remind_due(limit=batch, now=now),
            "requests_expired": delegated_admin_requests_expire_due(limit=batch, now=now),
        }
        for key, value in step.items():
            totals[key] += value
        # each step handles at most ``batch`` rows: a full one means more may be due
        handled = (
            step["expired"] + step["extended"],
            step["expiring"],
            step["reminded"],
            step["requests_expired"],
        )
        if max(handled) < batch:
            return totals
