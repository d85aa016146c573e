"""What program staff change on the review site: an organization's status and legal details, a person's
access to the portal and to the review site itself.

The review site has two levels of staff: program staff (superusers: the whole site) and enrollment
reviewers (staff in the group ``ENROLLMENT_REVIEWERS_GROUP``: the enrollment queue and the screening list,
with the permissions ``enrollment.reviewers`` gives the group).

The review site (Django admin) shows everything else read-only; these services are its only writes.
Each is one transaction: the row is locked, the rule checked, the change and its audit row committed
together. A request that would change nothing is refused with a message that says so.
"""

from typing import Any

from allauth.usersessions.models import UserSession
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization, User
from accounts.signals import organization_renamed
from accounts.transitions import ORGANIZATION_STATUS
from portal.audit.services import audit_record
from portal.errors import DomainError, InvalidTransition
from portal.transitions import transition_apply

#: The group of enrollment reviewers, by name: one name for these services, ``enrollment.reviewers`` (which
#: keeps the group and its permissions) and the tests. Enrollment migration 0004 keeps a frozen copy.
ENROLLMENT_REVIEWERS_GROUP = "Enrollment reviewers"

# The legal business profile and the customer-support contact. Kind, country, directory tenant and
# status are facts the enrollment checks rest on (or have their own transitions): never edited freely.
ORGANIZATION_DETAIL_FIELDS = (
    "legal_name",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "support_email",
    "support_phone",
    "support_website",
)


# --- Organizations ---------------------------------------------------------------------------------


def _organization_status_set(
    *, organization: Organization, status: str, by: User, action: str, unchanged_message
) -> Organization:
    try:
        return transition_apply(
            organization,
            status,
            transitions=ORGANIZATION_STATUS,
            action=action,
            actor=by,
            organization_id=organization.pk,
        )
    except InvalidTransition as error:
        raise DomainError(
            unchanged_message % {"name": organization.legal_name}, code="invalid_transition"
        ) from error


@transaction.atomic
def organization_suspend(*, organization: Organization, by: User) -> Organization:
    """Suspend an organization: its members can no longer act in it until it is reactivated."""
    return _organization_status_set(
        organization=organization,
        status=Organization.Status.SUSPENDED,
        by=by,
        action="organization.suspended",
        unchanged_message=_("%(name)s is already suspended: nothing was changed."),
    )


@transaction.atomic
def organization_reactivate(*, organization: Organization, by: User) -> Organization:
    """Lift a suspension."""
    return _organization_status_set(
        organization=organization,
        status=Organization.Status.ACTIVE,
        by=by,
        action="organization.reactivated",
        unchanged_message=_("%(name)s is already active: nothing was changed."),
    )


@transaction.atomic
def organization_details_update(
    *, organization: Organization, changes: dict[str, Any], by: User
) -> Organization:
    """Correct an organization's legal name, address or customer-support contact; one audit row holds
    the before and after of every field that really changed."""
    not_editable = sorted(set(changes) - set(ORGANIZATION_DETAIL_FIELDS))
    if not_editable:
        raise DomainError(
            _("This detail cannot be changed here."), code="field_not_editable", field=not_editable[0]
        )
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name in ORGANIZATION_DETAIL_FIELDS:
        if name not in changes:
            continue
        field = Organization._meta.get_field(name)
        try:
            value = field.clean(changes[name], organization)
        except ValidationError as error:
            raise DomainError(error.messages[0], code="invalid", field=name) from error
        if value != getattr(organization, name):
            before[name] = getattr(organization, name)
            after[name] = value
    if not after:
        return organization
    for name, value in after.items():
        setattr(organization, name, value)
    organization.save(update_fields=list(after))
    if "legal_name" in after:
        organization_renamed.send(
            sender=Organization,
            organization=organization,
            before=before["legal_name"],
            after=after["legal_name"],
        )
    audit_record(
        action="organization.details_updated",
        actor=by,
        organization=organization,
        target=organization,
        before=before,
        after=after,
    )
    return organization


# --- People ----------------------------------------------------------------------------------------


def _lock_user(user: User) -> User:
    return User.objects.select_for_update().get(pk=user.pk)


def _current_staff(by: User, *, superuser: bool = False) -> User:
    """Re-read the acting staff member inside the transaction: access revoked a moment ago is gone."""
    actor = User.objects.filter(pk=by.pk, is_active=True, is_staff=True).first()
    if actor is None or (superuser and not actor.is_superuser):
        raise DomainError(_("Only a superuser of the review site may do this."), code="actor_not_permitted")
    return actor


def _refuse_self(user: User, by: User, message) -> None:
    if user.pk == by.pk:
        raise DomainError(message, code="own_account")


def _refuse_staff_target_unless_superuser(user: User, by: User) -> None:
    # Program staff can switch other staff accounts off only when they may also grant staff access.
    if (user.is_staff or user.is_superuser) and not by.is_superuser:
        raise DomainError(
            _("Only a superuser of the review site may deactivate or reactivate program staff."),
            code="actor_not_permitted",
        )


@transaction.atomic
def user_deactivate(*, user: User, by: User) -> User:
    """Switch an account off: the person can no longer sign in, and every session they have ends now."""
    by = _current_staff(by)
    user = _lock_user(user)
    _refuse_self(user, by, _("You cannot deactivate your own account. Ask another member of program staff."))
    _refuse_staff_target_unless_superuser(user, by)
    if not user.is_active:
        raise DomainError(
            _("%(email)s is already deactivated: nothing was changed.") % {"email": user.email},
            code="invalid_transition",
        )
    user.is_active = False
    user.save(update_fields=["is_active"])
    sessions = list(UserSession.objects.select_for_update().filter(user=user))
    for session in sessions:
        session.end()  # deletes the session itself and allauth's record of it
    audit_record(
        action="user.deactivated",
        actor=by,
        target=user,
        before={"is_active": True},
        after={"is_active": False, "sessions_ended": len(sessions)},
    )
    return user


@transaction.atomic
def user_reactivate(*, user: User, by: User) -> User:
    """Switch an account back on; the person signs in again as usual."""
    by = _current_staff(by)
    user = _lock_user(user)
    _refuse_self(user, by, _("You cannot reactivate your own account."))
    _refuse_staff_target_unless_superuser(user, by)
    if user.is_active:
        raise DomainError(
            _("%(email)s is already active: nothing was changed.") % {"email": user.email},
            code="invalid_transition",
        )
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit_record(
        action="user.reactivated",
        actor=by,
        target=user,
        before={"is_active": False},
        after={"is_active": True},
    )
    return user


def _staff_flags(user: User) -> dict[str, bool]:
    return {"is_staff": user.is_staff, "is_superuser": user.is_superuser}


@transaction.atomic
def user_staff_grant(*, user: User, by: User) -> User:
    """Make a person program staff: a superuser of the whole review site. They must set up two-factor
    authentication at next sign-in."""
    by = _current_staff(by, superuser=True)
    user = _lock_user(user)
    if not user.is_active:
        raise DomainError(
            _("%(email)s is deactivated: reactivate the account first.") % {"email": user.email},
            code="account_inactive",
        )
    if user.is_staff and user.is_superuser:
        raise DomainError(
            _("%(email)s is already program staff: nothing was changed.") % {"email": user.email},
            code="invalid_transition",
        )
    before = _staff_flags(user)
    user.is_staff = True
    user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    audit_record(action="user.staff_granted", actor=by, target=user, before=before, after=_staff_flags(user))
    return user


@transaction.atomic
def user_staff_revoke(*, user: User, by: User) -> User:
    """Take program staff access away; the person keeps their portal account and memberships."""
    by = _current_staff(by, superuser=True)
    user = _lock_user(user)
    _refuse_self(user, by, _("You cannot revoke your own program staff access. Ask another superuser."))
    if not user.is_staff and not user.is_superuser:
        raise DomainError(
            _("%(email)s is not program staff: nothing was changed.") % {"email": user.email},
            code="invalid_transition",
        )
    before = _staff_flags(user)
    user.is_staff = False
    user.is_superuser = False
    user.save(update_fields=["is_staff", "is_superuser"])
    audit_record(action="user.staff_revoked", actor=by, target=user, before=before, after=_staff_flags(user))
    return user


def _reviewer_group() -> Group:
    group = Group.objects.filter(name=ENROLLMENT_REVIEWERS_GROUP).first()
    if group is None:  # made by migrate (enrollment.reviewers); missing only on a half-set-up database
        raise DomainError(
            _("The enrollment reviewers group does not exist yet: run the database migrations."),
            code="reviewer_group_missing",
        )
    return group


def _reviewer_flags(user: User, group: Group) -> dict[str, bool]:
    return {"is_staff": user.is_staff, "enrollment_reviewer": user.groups.filter(pk=group.pk).exists()}


@transaction.atomic
def user_reviewer_grant(*, user: User, by: User) -> User:
    """Make a person an enrollment reviewer: staff in the reviewers' group, not a superuser. They must set
    up two-factor authentication at next sign-in."""
    by = _current_staff(by, superuser=True)
    user = _lock_user(user)
    if not user.is_active:
        raise DomainError(
            _("%(email)s is deactivated: reactivate the account first.") % {"email": user.email},
            code="account_inactive",
        )
    group = _reviewer_group()
    before = _reviewer_flags(user, group)
    if before == {"is_staff": True, "enrollment_reviewer": True}:
        raise DomainError(
            _("%(email)s is already an enrollment reviewer: nothing was changed.") % {"email": user.email},
            code="invalid_transition",
        )
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    user.groups.add(group)
    audit_record(
        action="user.reviewer_granted",
        actor=by,
        target=user,
        before=before,
        after=_reviewer_flags(user, group),
    )
    return user


@transaction.atomic
def user_reviewer_revoke(*, user: User, by: User) -> User:
    """Take a person out of the enrollment reviewers; a superuser stays program staff, anyone else is no
    longer staff. They keep their portal account and memberships."""
    by = _current_staff(by, superuser=True)
    user = _lock_user(user)
    _refuse_self(
        user, by, _("You cannot remove yourself from the enrollment reviewers. Ask another superuser.")
    )
    group = _reviewer_group()
    before = _reviewer_flags(user, group)
    if not before["enrollment_reviewer"]:
        raise DomainError(
            _("%(email)s is not an enrollment reviewer: nothing was changed.") % {"email": user.email},
            code="invalid_transition",
        )
    user.groups.remove(group)
    if user.is_staff and not user.is_superuser:
        user.is_staff = False
        user.save(update_fields=["is_staff"])
    audit_record(
        action="user.reviewer_revoked",
        actor=by,
        target=user,
        before=before,
        after=_reviewer_flags(user, group),
    )
    return user
