"""Organization pages: dashboard, account settings, user management, activity log.

Each is an ``OrganizationView``: the organization comes from the URL and the user's membership, the
permission from the access policy table.
"""

import functools
import uuid

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from accounts import selectors, services
from accounts.dashboard import dashboard_figures
from accounts.forms import ActivityFilterForm, InvitationForm, RolesForm
from accounts.models import Membership, MembershipInvitation
from accounts.roles import Permission, Role
from accounts.scoping import OrganizationView
from portal.audit.catalogue import action_choices, action_label

# The streaming CSV helpers moved to portal.csv_export; the aliases keep earlier imports from here working.
from portal.csv_export import BYTE_ORDER_MARK as BYTE_ORDER_MARK
from portal.csv_export import EXPORT_FETCH_ROWS, csv_response
from portal.csv_export import EXPORT_LINES_PER_CHUNK as EXPORT_LINES_PER_CHUNK
from portal.csv_export import _Echo as _Echo
from portal.csv_export import csv_safe as csv_safe
from portal.errors import DomainError, form_add_domain_error
from portal.lists import keyset_page
from portal.navigation import dashboard_cards


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


#: The id a list reverses its rows' route with, to put each row's own in its place.
ANY_ROW = uuid.UUID(int=0)


class UsersView(OrganizationView):
    def get(self, request):
        # Two keyset lists on one page, each with its own cursor; each link keeps the other's.
        page = keyset_page(
            selectors.member_rows(selectors.organization_members(organization=self.organization)),
            ordering=selectors.MEMBERS_ORDERING,
            query=request.GET,
        )
        invitations = keyset_page(
            selectors.organization_invitations_pending(organization=self.organization),
            ordering=selectors.INVITATIONS_ORDERING,
            query=request.GET,
            size=selectors.INVITATIONS_PAGE_SIZE,
            prefix="invitations_",
        )
        role_codes = selectors.member_role_codes(page.object_list)
        self._rows_label(page.object_list, role_codes, invitations.object_list)
        context = self.get_context_data(
            page=page,
            invitations=invitations,
            can_manage=self.membership.can(Permission.USERS_MANAGE),
            can_assign_global_admin=self.membership.can(Permission.GLOBAL_ADMIN_ASSIGN),
        )
        return render(request, "accounts/users.html", context)

    def _rows_label(self, members, role_codes: dict[int, list[str]], invitations) -> None:
        """What each row shows, worked out once a page rather than by template tags once a row: its links
        (each route reversed once, the row's id put in its place) and its labels (translated once each)."""
        organization_id = self.organization.public_id
        member_url = reverse(
            "accounts:member", kwargs={"organization_public_id": organization_id, "membership_id": ANY_ROW}
        )
        role_labels = {role: str(label) for role, label in Role.choices}
        status_labels = {status: str(label) for status, label in Membership.Status.choices}
        user_id = self.request.user.pk
        for member in members:
            member.url = member_url.replace(str(ANY_ROW), str(member.public_id))
            member.name = member.user.get_full_name()
            member.is_self = member.user_id == user_id
            member.roles_text = ", ".join(role_labels[code] for code in role_codes[member.pk])
            member.status_text = status_labels[member.status]
        if not invitations:
            return
        resend_url, revoke_url = (
            reverse(route, kwargs={"organization_public_id": organization_id, "invitation_id": ANY_ROW})
            for route in ("accounts:invitation_resend", "accounts:invitation_revoke")
        )
        for invitation in invitations:
            invitation.resend_url = resend_url.replace(str(ANY_ROW), str(invitation.public_id))
            invitation.revoke_url = revoke_url.replace(str(ANY_ROW), str(invitation.public_id))
            # in catalogue order (role_labels'), as MembershipInvitation.get_roles_display lists them
            invitation.roles_text = ", ".join(
                label for role, label in role_labels.items() if role in invitation.roles
            )


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


@functools.lru_cache(maxsize=16)
def _action_choices(language: str | None) -> tuple[tuple[str, str], ...]:
    """The catalogue's actions with their labels in ``language``: registered once at start-up, so
    translated once per process and language, not once per request."""
    return tuple(action_choices())


def _activity_rows_label(events) -> None:
    """What each row shows as text, worked out here once a page rather than by template filters and tags
    once a row: the time, as ``|date:"Y-m-d H:i:s"`` writes it (in the current time zone, UTC), the
    action's label and the partner a change was made as, each sentence translated once a page."""
    labels: dict[str, str] = {}
    as_partner = _("as partner <bdi>%(partner)s</bdi>")  # the template's blocktranslate, same msgid
    for event in events:
        event.time_text = timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M:%S")
        if event.action not in labels:
            labels[event.action] = action_label(event.action)
        event.action_text = labels[event.action]
        if event.acting_partner:
            # as blocktranslate does it: the translated sentence, the value escaped into it
            partner = conditional_escape(event.acting_partner)
            event.as_partner = mark_safe(as_partner % {"partner": partner})  # noqa: S308 - escaped


class _ActivityFilterMixin:
    def filtered_events(self, request):
        """The filter form and the events it selects; invalid filters select nothing (None)."""
        # The choices come from the action catalogue, in memory: nothing here reads the audit rows.
        form = ActivityFilterForm(request.GET or None, actions=_action_choices(get_language()))
        filters = {}
        if form.is_bound:
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
            filters = {
                "date_from": form.cleaned_data["date_from"],
                "date_to": form.cleaned_data["date_to"],
                "action": form.cleaned_data["action"],
                "actor_id": actor_id,
            }
        return form, selectors.activity_events(organization=self.organization, **filters)

    def render_activity(self, request, form, events):
        """The log page; with invalid filters it lists nothing and says what to correct (400)."""
        page = None
        if events is not None:
            page = keyset_page(
                selectors.activity_rows(events), ordering=selectors.ACTIVITY_ORDERING, query=request.GET
            )
            _activity_rows_label(page.object_list)
        query = request.GET.copy()  # the filters, for the export link: without this page's cursor
        query.pop("after", None)
        query.pop("before", None)
        context = self.get_context_data(
            form=form,
            page=page,
            query_string=query.urlencode(),
            can_export=self.membership.can(Permission.ACTIVITY_EXPORT),
        )
        return render(request, "accounts/activity.html", context, status=400 if events is None else 200)


class ActivityView(_ActivityFilterMixin, OrganizationView):
    def get(self, request):
        form, events = self.filtered_events(request)
        return self.render_activity(request, form, events)


class ActivityExportView(_ActivityFilterMixin, OrganizationView):
    def get(self, request):
        form, events = self.filtered_events(request)
        if events is None:
            # No file for filters that mean nothing: the page with the errors at their fields instead.
            return self.render_activity(request, form, events)
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
