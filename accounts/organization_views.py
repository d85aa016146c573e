"""Organization pages: dashboard, account settings, user management, activity log.

Each is an ``OrganizationView``: the organization comes from the URL and the user's membership, the
permission from the access policy table.
"""

import functools
from datetime import datetime
from typing import NamedTuple

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from accounts import selectors, services
from accounts.dashboard import dashboard_figures
from accounts.forms import (
    ActivityFilterForm,
    ActivityFilterValues,
    InvitationForm,
    RolesForm,
    activity_action_choices,
)
from accounts.models import Membership, MembershipInvitation
from accounts.roles import Permission, Role
from accounts.scoping import OrganizationView
from portal.audit.catalogue import action_label, target_label_shown

# The streaming CSV helpers moved to portal.csv_export; the aliases keep earlier imports from here working.
from portal.csv_export import BYTE_ORDER_MARK as BYTE_ORDER_MARK
from portal.csv_export import EXPORT_FETCH_ROWS, csv_response
from portal.csv_export import EXPORT_LINES_PER_CHUNK as EXPORT_LINES_PER_CHUNK
from portal.csv_export import _Echo as _Echo
from portal.csv_export import csv_safe as csv_safe
from portal.errors import DomainError, form_add_domain_error
from portal.lists import DEFAULT_PAGE_SIZE, keyset_first_page, keyset_page
from portal.navigation import dashboard_cards
from portal.rows import RowLink, choice_labels, minute


class OrganizationDashboardView(OrganizationView):
    def get(self, request):
        cards = dashboard_cards(self)
        dashboard_figures(self).read()  # every card's figures, in one query
        context = self.get_context_data(cards=cards)
        return render(request, "accounts/organization_dashboard.html", context)


class AdminAgentJoinView(OrganizationView):
    """POST: the seed's last enrollment step in one click: a Global admin joins the Admin agent group."""

    def post(self, request):
        try:
            services.membership_admin_agent_join(membership=self.membership)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("You are now in the Admin agent group."))
        return redirect("accounts:organization_dashboard", organization_public_id=self.organization.public_id)


class OrganizationLeaveView(OrganizationView):
    """GET: what leaving means; POST: leave. A refusal (the last Global admin) comes back as a message."""

    def get(self, request):
        return render(request, "accounts/organization_leave.html", self.get_context_data())

    def post(self, request):
        try:
            services.membership_leave(membership=self.membership)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect(
                "accounts:organization_dashboard", organization_public_id=self.organization.public_id
            )
        messages.success(
            request, _("You left %(organization)s.") % {"organization": self.organization.legal_name}
        )
        return redirect("dashboard")


class SettingsView(OrganizationView):
    def get(self, request):
        return render(request, "accounts/settings.html", self.get_context_data())


class MemberRow(NamedTuple):
    """What a row of User management's members prints, in plain values: the row's ``{% memo %}`` keys it
    by them, so a row already printed with these values is not rendered again (``portal.memo``)."""

    url: str
    name: str
    email: str
    is_self: bool
    roles_text: str  # the role labels in the catalogue's order (Global admin first)
    status: str
    status_text: str


class InvitationRow(NamedTuple):
    """What a row of User management's pending invitations prints (its actions, a form with a CSRF token,
    are printed outside its ``{% memo %}``)."""

    email: str
    roles: tuple[str, ...]  # the codes
    roles_text: str  # their labels in the catalogue's order, as MembershipInvitation.get_roles_display
    is_expired: bool  # at this request
    expires: str  # "Y-m-d H:i" in the current time zone (UTC)
    resend_url: str
    revoke_url: str


@functools.lru_cache(maxsize=16)
def _role_labels(language: str | None) -> dict[str, str]:
    """Each role's label in ``language``, in the catalogue's order (read only: shared by the requests)."""
    return {role: str(label) for role, label in Role.choices}


def member_rows(organization, members, *, user_id) -> list[MemberRow]:
    """The rows of a page of ``selectors.member_rows``, with their roles (one query): links reversed once
    a page, labels translated once a page (``user_id``: the signed-in user, whose row says "you")."""
    member_url = RowLink("accounts:member", "membership_id", organization_public_id=organization.public_id)
    role_labels = _role_labels(get_language())
    status_labels = choice_labels(Membership, "status")
    role_codes = selectors.member_role_codes(members)
    roles_texts: dict[tuple[str, ...], str] = {}  # a few sets of roles, many members: each joined once
    rows = []
    for member in members:
        codes = tuple(role_codes[member.pk])
        roles_text = roles_texts.get(codes)
        if roles_text is None:
            roles_text = roles_texts[codes] = ", ".join(role_labels[code] for code in codes)
        rows.append(
            MemberRow(
                url=member_url(member.public_id),
                name=member.user_full_name or member.user_email,  # as User.get_full_name
                email=member.user_email,
                is_self=member.user_id == user_id,
                roles_text=roles_text,
                status=member.status,
                status_text=status_labels.get(member.status, member.status),
            )
        )
    return rows


def invitation_rows(organization, invitations) -> list[InvitationRow]:
    if not invitations:
        return []
    resend_url, revoke_url = (
        RowLink(route, "invitation_id", organization_public_id=organization.public_id)
        for route in ("accounts:invitation_resend", "accounts:invitation_revoke")
    )
    role_labels = _role_labels(get_language())
    now = timezone.now()
    return [
        InvitationRow(
            email=invitation.email,
            roles=tuple(invitation.roles),
            roles_text=", ".join(label for role, label in role_labels.items() if role in invitation.roles),
            is_expired=invitation.expires_at <= now,  # MembershipInvitation.is_expired, one "now" a page
            expires=minute(invitation.expires_at),
            resend_url=resend_url(invitation.public_id),
            revoke_url=revoke_url(invitation.public_id),
        )
        for invitation in invitations
    ]


class UsersView(OrganizationView):
    def get(self, request):
        # Two keyset lists on one page, each with its own cursor; each link keeps the other's. The first
        # page of each, which nearly every visit is, is read by a query compiled once per process.
        query = request.GET
        if query.get("after") or query.get("before"):
            page = keyset_page(
                selectors.member_rows(selectors.organization_members(organization=self.organization)),
                ordering=selectors.MEMBERS_ORDERING,
                query=query,
            )
        else:
            page = keyset_first_page(
                selectors.member_rows_first(self.organization, count=DEFAULT_PAGE_SIZE + 1),
                ordering=selectors.MEMBERS_ORDERING,
                query=query,
            )
        if query.get("invitations_after") or query.get("invitations_before"):
            invitations = keyset_page(
                selectors.organization_invitations_pending(organization=self.organization),
                ordering=selectors.INVITATIONS_ORDERING,
                query=query,
                size=selectors.INVITATIONS_PAGE_SIZE,
                prefix="invitations_",
            )
        else:
            invitations = keyset_first_page(
                selectors.organization_invitations_pending_first(
                    self.organization, count=selectors.INVITATIONS_PAGE_SIZE + 1
                ),
                ordering=selectors.INVITATIONS_ORDERING,
                query=query,
                size=selectors.INVITATIONS_PAGE_SIZE,
                prefix="invitations_",
            )
        context = self.get_context_data(
            page=page,
            rows=member_rows(self.organization, page.object_list, user_id=request.user.pk),
            invitations=invitations,
            invitation_rows=invitation_rows(self.organization, invitations.object_list),
            can_manage=self.membership.can(Permission.USERS_MANAGE),
            can_assign_global_admin=self.membership.can(Permission.GLOBAL_ADMIN_ASSIGN),
        )
        return render(request, "accounts/users.html", context)


class UserInviteView(OrganizationView):
    def get(self, request):
        return self._render(self._form())

    def _form(self, data=None):
        return InvitationForm(
            data,
            kind=self.organization.kind,
            can_assign_global_admin=self.membership.can(Permission.GLOBAL_ADMIN_ASSIGN),
        )

    def post(self, request):
        form = self._form(request.POST)
        if form.is_valid():
            try:
                invitation, _token = services.membership_invitation_create(
                    organization=self.organization,
                    email=form.cleaned_data["email"],
                    roles=form.cleaned_data["roles"],
                    by=self.membership,
                )
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
                return redirect("accounts:users", organization_public_id=self.organization.public_id)
        return self._render(form, status=400)

    def _render(self, form, status=200):
        return render(
            request=self.request,
            template_name="accounts/user_invite.html",
            context=self.get_context_data(form=form),
            status=status,
        )


class MemberView(OrganizationView):
    def get(self, request, membership_id):
        member = self._member(membership_id)
        return self._render(member, self._form(member))

    def _member(self, membership_id) -> Membership:
        return self.scoped_get(
            selectors.organization_members(organization=self.organization), public_id=membership_id
        )

    def _form(self, member: Membership, data=None) -> RolesForm:
        return RolesForm(
            data,
            kind=self.organization.kind,
            member_roles=member.role_names,
            can_assign_global_admin=self.membership.can(Permission.GLOBAL_ADMIN_ASSIGN),
        )

    def _render(self, member, form, status=200):
        is_self = member.user_id == self.request.user.pk
        can_manage = self.membership.can(Permission.USERS_MANAGE) and not is_self
        # Switching a Global admin off is the same act as removing the role: only offered to those who may.
        can_change_access = can_manage and (
            Role.GLOBAL_ADMIN not in member.role_names or self.membership.can(Permission.GLOBAL_ADMIN_ASSIGN)
        )
        context = self.get_context_data(
            member=member,
            form=form,
            can_manage=can_manage,
            can_change_access=can_change_access,
            is_self=is_self,
        )
        return render(self.request, "accounts/member.html", context, status=status)


class MemberRolesView(MemberView):
    def post(self, request, membership_id):
        member = self._member(membership_id)
        form = self._form(member, request.POST)
        if form.is_valid():
            try:
                services.membership_roles_change(
                    membership=member, roles=form.cleaned_data["roles"], by=self.membership
                )
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                messages.success(request, _("Roles updated for %(email)s.") % {"email": member.user.email})
                return redirect(
                    "accounts:member",
                    organization_public_id=self.organization.public_id,
                    membership_id=member.public_id,
                )
        return self._render(member, form, status=400)


class _MemberActionView(OrganizationView):
    """A POST action on one member. Every outcome comes back through a redirect with a message, so that
    reloading the page never repeats the action."""

    success_message = ""

    def act(self, member: Membership) -> None:
        raise NotImplementedError

    def _member(self, membership_id) -> Membership:
        return self.scoped_get(
            selectors.organization_members(organization=self.organization).select_related("organization"),
            public_id=membership_id,
        )

    def post(self, request, membership_id):
        member = self._member(membership_id)
        try:
            self.act(member)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect(
                "accounts:member",
                organization_public_id=self.organization.public_id,
                membership_id=member.public_id,
            )
        messages.success(request, self.success_message % {"email": member.user.email})
        return redirect("accounts:users", organization_public_id=self.organization.public_id)


class _DestructiveMemberActionView(_MemberActionView):
    """A destructive action: its GET shows exactly what will happen, with the button that POSTs."""

    confirm_template: str

    def get(self, request, membership_id):
        member = self._member(membership_id)
        context = self.get_context_data(member=member, is_self=member.user_id == request.user.pk)
        return render(request, self.confirm_template, context)


class MemberDeactivateView(_DestructiveMemberActionView):
    success_message = gettext_lazy("%(email)s was deactivated.")
    confirm_template = "accounts/member_deactivate.html"

    def act(self, member):
        services.membership_deactivate(membership=member, by=self.membership)


class MemberReactivateView(_MemberActionView):
    success_message = gettext_lazy("%(email)s was reactivated.")

    def act(self, member):
        services.membership_reactivate(membership=member, by=self.membership)


class MemberRemoveView(_DestructiveMemberActionView):
    success_message = gettext_lazy("%(email)s was removed from the organization.")
    confirm_template = "accounts/member_remove.html"

    def act(self, member):
        services.membership_remove(membership=member, by=self.membership)


class InvitationRevokeView(OrganizationView):
    """GET: what revoking means for this invitation; POST: revoke, then back to User management."""

    def get(self, request, invitation_id):
        invitation = self.scoped_get(
            MembershipInvitation.objects.select_related("invited_by"), public_id=invitation_id
        )
        return render(
            request, "accounts/invitation_revoke.html", self.get_context_data(invitation=invitation)
        )

    def post(self, request, invitation_id):
        invitation = self.scoped_get(MembershipInvitation.objects.all(), public_id=invitation_id)
        try:
            services.membership_invitation_revoke(invitation=invitation, by=self.membership)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, _("The invitation to %(email)s was revoked.") % {"email": invitation.email}
            )
        return redirect("accounts:users", organization_public_id=self.organization.public_id)


class InvitationResendView(OrganizationView):
    def post(self, request, invitation_id):
        invitation = self.scoped_get(MembershipInvitation.objects.all(), public_id=invitation_id)
        try:
            services.membership_invitation_create(
                organization=self.organization,
                email=invitation.email,
                roles=invitation.roles,
                by=self.membership,
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, _("A new invitation was sent to %(email)s.") % {"email": invitation.email}
            )
        return redirect("accounts:users", organization_public_id=self.organization.public_id)


class ActivityRow(NamedTuple):
    """What a row of the activity log prints, in plain values: the row's ``{% memo %}`` keys it by them,
    so a row already printed with these values is not rendered again (``portal.memo``)."""

    occurred_at: datetime  # printed "Y-m-d H:i:s" in the current time zone (UTC)
    action: str
    action_label: str
    actor_label: str | None  # None: an automatic change, by the system
    acting_partner: str  # the partner a change was made as; "" when it was not made as one
    target_label: str


def activity_rows(events) -> list[ActivityRow]:
    labels: dict[str, str] = {}  # a few actions, fifty rows: each label looked up once a page
    rows = []
    for event in events:
        if event.action not in labels:
            labels[event.action] = action_label(event.action)
        rows.append(
            ActivityRow(
                occurred_at=event.occurred_at,
                action=event.action,
                action_label=labels[event.action],
                actor_label=event.actor_label if event.actor_id else None,
                acting_partner=event.acting_partner or "",
                target_label=target_label_shown(event.target_type, event.target_label),
            )
        )
    return rows


class _ActivityFilterMixin:
    def activity_filters(self, request) -> tuple[ActivityFilterForm, dict | None]:
        """The filter form and the filters it names, for ``selectors.activity_events`` ({}: none); invalid
        filters select nothing (None)."""
        # The choices come from the action catalogue, in memory: nothing here reads the audit rows.
        language = get_language()
        if not request.GET:
            # Nothing sent, as on nearly every visit: nothing to check, and the page prints the form from
            # its memo (ActivityFilterValues.unbound()). The form is made only if something reads it.
            return SimpleLazyObject(lambda: ActivityFilterForm(actions=activity_action_choices(language))), {}
        form = ActivityFilterForm(request.GET, actions=activity_action_choices(language))
        if not form.is_valid():
            return form, None
        actor_id = None
        if form.cleaned_data["user"]:
            actor_id = selectors.activity_actor_id(
                organization=self.organization, email=form.cleaned_data["user"]
            )
            if actor_id is None:
                form.add_error("user", _("No member of this organization has this email address."))
                return form, None
        return form, {
            "date_from": form.cleaned_data["date_from"],
            "date_to": form.cleaned_data["date_to"],
            "action": form.cleaned_data["action"],
            "actor_id": actor_id,
        }

    def filtered_events(self, request):
        """The filter form and the events it selects; invalid filters select nothing (None)."""
        form, filters = self.activity_filters(request)
        if filters is None:
            return form, None
        return form, selectors.activity_events(organization=self.organization, **filters)

    def render_activity(self, request, form, page):
        """The log page (``page``: the events listed); with invalid filters (no page) it lists nothing and
        says what to correct (400)."""
        query = request.GET.copy()  # the filters, for the export link: without this page's cursor
        query.pop("after", None)
        query.pop("before", None)
        context = self.get_context_data(
            form=form,
            filter_values=ActivityFilterValues.of(form) if request.GET else ActivityFilterValues.unbound(),
            page=page,
            listed=page is not None,
            rows=[] if page is None else activity_rows(page.object_list),
            query_string=query.urlencode(),
            can_export=self.membership.can(Permission.ACTIVITY_EXPORT),
        )
        return render(request, "accounts/activity.html", context, status=400 if page is None else 200)


class ActivityView(_ActivityFilterMixin, OrganizationView):
    def get(self, request):
        form, filters = self.activity_filters(request)
        if filters is None:
            page = None
        elif not any(filters.values()) and not request.GET.get("after") and not request.GET.get("before"):
            # the first page without filters, which nearly every visit is: its query compiled once
            page = keyset_first_page(
                selectors.activity_rows_first(self.organization, count=DEFAULT_PAGE_SIZE + 1),
                ordering=selectors.ACTIVITY_ORDERING,
                query=request.GET,
            )
        else:
            events = selectors.activity_events(organization=self.organization, **filters)
            page = keyset_page(
                selectors.activity_rows(events), ordering=selectors.ACTIVITY_ORDERING, query=request.GET
            )
        return self.render_activity(request, form, page)


class ActivityExportView(_ActivityFilterMixin, OrganizationView):
    def get(self, request):
        form, events = self.filtered_events(request)
        if events is None:
            # No file for filters that mean nothing: the page with the errors at their fields instead.
            return self.render_activity(request, form, None)
        header = [
            "time_utc", "action", "action_label", "actor", "target_type", "target",
            "request_id", "ip", "before", "after",
        ]  # fmt: skip
        columns = events.values_list(
            "occurred_at", "action", "actor_label", "target_type", "target_label", "request_id", "ip",
            "before", "after",
        )  # fmt: skip

        def rows():
            # csv_response sends the header before this runs. Then a server-side cursor (PostgreSQL) walks
            # the index in its own order, EXPORT_FETCH_ROWS rows per round trip: the whole log is never in
            # memory, never counted, never sorted.
            labels: dict[str, str] = {}  # a few actions, a great many rows: translate each action once
            for occurred_at, action, *rest in columns.iterator(chunk_size=EXPORT_FETCH_ROWS):
                if action not in labels:
                    labels[action] = action_label(action)
                yield (occurred_at.isoformat(), action, labels[action], *rest)

        return csv_response(f"activity-{self.organization.public_id}.csv", header, rows())
