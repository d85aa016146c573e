"""Licences: seats of a seat-based subscription assigned to users of the customer's built-in tenant, by
the customer's administrators or by a partner with the License administrator delegated role.

Never more assignments than seats: the subscription row is locked, the assignments counted and the new
one inserted in one transaction, so two people giving away the last seat at once get one assignment and
one clear refusal."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import DirectoryTenantSource, DirectoryUser, Membership
from accounts.services.directory import directory_user_find
from commerce import access
from commerce.models import LicenceAssignment, Subscription, SubscriptionStatus
from commerce.services.common import audit_parties
from portal.errors import DomainError


def _values(assignment: LicenceAssignment) -> dict:
    return {
        "subscription": assignment.subscription.name,
        "user_principal_name": assignment.user_principal_name,
    }


def _sold_by_check(partner, subscription: Subscription) -> None:
    """A reseller manages the licences of the subscriptions it sells (it is their reseller of record);
    another reseller's subscription of the same customer does not exist for it."""
    if partner is not None and subscription.reseller_id != partner.pk:
        raise DomainError(_("This subscription is not sold through you."), code="subscription_not_yours")


@transaction.atomic
def licence_assign(
    *, by: Membership, subscription: Subscription, user_principal_name: str
) -> LicenceAssignment:
    """Give one seat of ``subscription`` to the tenant's user named ``user_principal_name``."""
    customer = subscription.customer
    actor = access.customer_act_check(by=by, customer=customer, action=access.LICENCES_MANAGE)
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("offer", "customer")
        .get(pk=subscription.pk, customer=customer)
    )
    _sold_by_check(actor, subscription)
    if not subscription.offer.seat_based:
        raise DomainError(
            _("%(subscription)s is not sold by the seat: it has no licences to assign.")
            % {"subscription": subscription.name},
            code="not_seat_based",
        )
    if subscription.status != SubscriptionStatus.ACTIVE:
        raise DomainError(
            _("The licences of %(subscription)s cannot be assigned: its status is %(status)s.")
            % {"subscription": subscription.name, "status": subscription.get_status_display()},
            code="subscription_not_active",
        )
    directory_user = directory_user_find(user_principal_name or "")
    tenant = customer.directory_tenant
    if (
        directory_user is None
        or tenant is None
        or tenant.source != DirectoryTenantSource.BUILTIN
        or directory_user.tenant_id != tenant.pk
    ):
        raise DomainError(
            _("No user of the customer's tenant has this name. Check the spelling, or add the user first."),
            code="user_unknown",
            field="user_principal_name",
        )
    if directory_user.status != DirectoryUser.Status.ACTIVE:
        raise DomainError(
            _("%(user)s is disabled. Enable the user before assigning a licence.")
            % {"user": directory_user.user_principal_name},
            code="user_disabled",
            field="user_principal_name",
        )
    assigned = LicenceAssignment.objects.filter(subscription=subscription)
    if assigned.filter(directory_user=directory_user).exists():
        raise DomainError(
            _("%(user)s already has a licence of %(subscription)s.")
            % {"user": directory_user.user_principal_name, "subscription": subscription.name},
            code="already_assigned",
            field="user_principal_name",
        )
    if assigned.count() >= subscription.seats:
        raise DomainError(
            _(
                "All %(seats)d seats of %(subscription)s are assigned. Remove a licence, or order more "
                "seats from the provider."
            )
            % {"seats": subscription.seats, "subscription": subscription.name},
            code="no_seats_left",
            field="user_principal_name",
        )
    try:
        with transaction.atomic():
            assignment = LicenceAssignment.objects.create(
                customer=customer,
                subscription=subscription,
                directory_user=directory_user,
                user_principal_name=directory_user.user_principal_name,
                assigned_by=by.user,
            )
    except IntegrityError:
        raise DomainError(
            _("%(user)s already has a licence of %(subscription)s.")
            % {"user": directory_user.user_principal_name, "subscription": subscription.name},
            code="already_assigned",
            field="user_principal_name",
        ) from None
    audit_parties(
        action="licence.assigned",
        actor=by.user,
        organizations=[customer, actor],
        target=assignment,
        acting_partner=actor,
        after={**_values(assignment), "customer": customer.legal_name},
    )
    return assignment


@transaction.atomic
def licence_remove(*, by: Membership, assignment: LicenceAssignment) -> None:
    """Take a licence back: its seat is free again."""
    customer = assignment.customer
    actor = access.customer_act_check(by=by, customer=customer, action=access.LICENCES_MANAGE)
    locked_subscription = (
        Subscription.objects.select_for_update().filter(pk=assignment.subscription_id).first()
    )
    _sold_by_check(actor, locked_subscription)
    locked = (
        LicenceAssignment.objects.select_related("subscription")
        .filter(pk=assignment.pk, customer=customer)
        .first()
    )
    if locked is None:
        raise DomainError(_("This licence was already removed."), code="licence_gone")
    values = _values(locked)
    locked.delete()
    audit_parties(
        action="licence.removed",
        actor=by.user,
        organizations=[customer, actor],
        target=assignment,
        acting_partner=actor,
        before={**values, "customer": customer.legal_name},
    )
