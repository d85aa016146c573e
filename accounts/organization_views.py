"""Organization pages: dashboard, account settings, user management, activity log.

Each is an ``OrganizationView``: the organization comes from the URL and the user's membership, the
permission from the access policy table.
"""

import csv

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts import selectors, services
from accounts.forms import ActivityFilterForm, InvitationForm, RolesForm
from accounts.models import Membership, MembershipInvitation
from accounts.roles import Permission
from accounts.scoping import OrganizationView
from portal.errors import DomainError, form_add_domain_error
from portal.ratelimit import rate_limit_hit


class OrganizationDashboardView(OrganizationView):
    def get(self, request):
        context = self.get_context_data(
            counts=selectors.organization_member_counts(organization=self.organization)
        )
        return render(request, "accounts/organization_dashboard.html", context)


class SettingsView(OrganizationView):
    def get(self, request):
        return render(request, "accounts/settings.html", self.get_context_data())


class UsersView(OrganizationView):
    def get(self, request):
        members = Paginator(selectors.organization_members(organization=self.organization), 50)
        page = members.get_page(request.GET.get("page"))
        invitations = selectors.organization_invitations_pending(organization=self.organization)
        context = self.get_context_data(
            page=page, invitations=invitations, can_manage=self.membership.can(Permission.USERS_MANAGE)
        )
        return render(request, "accounts/users.html", context)


class UserInviteView(OrganizationView):
    def get(self, request):
        return self._render(InvitationForm())

    def post(self, request):
        form = InvitationForm(request.POST)
        if form.is_valid() and not rate_limit_hit(
            scope="membership_invitations",
            key=str(self.organization.pk),
            limit=settings.INVITATIONS_PER_HOUR,
            window_seconds=3600,
        ):
            form.add_error(None, _("Too many invitations were sent in the last hour. Try again later."))
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
                return redirect("accounts:users", organization_id=self.organization.public_id)
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
        member = self.scoped_get(
            selectors.organization_members(organization=self.organization), public_id=membership_id
        )
        form = RolesForm(initial={"roles": member.role_names})
        return self._render(member, form)

    def _render(self, member, form, status=200):
        context = self.get_context_data(
            member=member,
            form=form,
            can_manage=self.membership.can(Permission.USERS_MANAGE),
            is_self=member.user_id == self.request.user.pk,
        )
        return render(self.request, "accounts/member.html", context, status=status)


class MemberRolesView(MemberView):
    def post(self, request, membership_id):
        member = self.scoped_get(
            selectors.organization_members(organization=self.organization), public_id=membership_id
        )
        form = RolesForm(request.POST)
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
                    organization_id=self.organization.public_id,
                    membership_id=member.public_id,
                )
        return self._render(member, form, status=400)


class _MemberActionView(OrganizationView):
    """A POST-only action on one member; the GET of the member page shows its effect first."""

    success_message = ""

    def act(self, member: Membership) -> None:
        raise NotImplementedError

    def post(self, request, membership_id):
        member = self.scoped_get(
            Membership.objects.select_related("user", "organization"), public_id=membership_id
        )
        try:
            self.act(member)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect(
                "accounts:member", organization_id=self.organization.public_id, membership_id=member.public_id
            )
        messages.success(request, self.success_message % {"email": member.user.email})
        return redirect("accounts:users", organization_id=self.organization.public_id)


class MemberDeactivateView(_MemberActionView):
    success_message = _("%(email)s was deactivated.")

    def act(self, member):
        services.membership_deactivate(membership=member, by=self.membership)


class MemberReactivateView(_MemberActionView):
    success_message = _("%(email)s was reactivated.")

    def act(self, member):
        services.membership_reactivate(membership=member, by=self.membership)


class MemberRemoveView(_MemberActionView):
    success_message = _("%(email)s was removed from the organization.")

    def act(self, member):
        services.membership_remove(membership=member, by=self.membership)


class InvitationRevokeView(OrganizationView):
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
        return redirect("accounts:users", organization_id=self.organization.public_id)


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
        return redirect("accounts:users", organization_id=self.organization.public_id)


class _ActivityFilterMixin:
    def filtered_events(self, request):
        form = ActivityFilterForm(
            request.GET or None,
            actions=selectors.activity_actions(organization=self.organization),
            actors=selectors.activity_actors(organization=self.organization),
        )
        filters = {}
        if form.is_bound and form.is_valid():
            filters = {
                "date_from": form.cleaned_data["date_from"],
                "date_to": form.cleaned_data["date_to"],
                "action": form.cleaned_data["action"],
                "actor_id": form.cleaned_data["user"],
            }
        return form, selectors.activity_events(organization=self.organization, **filters)


class ActivityView(_ActivityFilterMixin, OrganizationView):
    def get(self, request):
        form, events = self.filtered_events(request)
        page = Paginator(events, 50).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context = self.get_context_data(
            form=form,
            page=page,
            query_string=query.urlencode(),
            can_export=self.membership.can(Permission.ACTIVITY_EXPORT),
        )
        return render(request, "accounts/activity.html", context, status=400 if form.errors else 200)


class _Echo:
    def write(self, value):
        return value


def csv_safe(value) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: neutralise them."""
    text = "" if value is None else str(value)
    text = text.replace("\r", " ").replace("\n", " ")
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t") else text


class ActivityExportView(_ActivityFilterMixin, OrganizationView):
    def get(self, request):
        _form, events = self.filtered_events(request)
        writer = csv.writer(_Echo())
        header = [
            "time_utc", "action", "action_label", "actor", "target_type", "target",
            "request_id", "ip", "before", "after",
        ]  # fmt: skip

        def rows():
            yield writer.writerow(header)
            for event in events.iterator(chunk_size=500):
                yield writer.writerow(
                    csv_safe(value)
                    for value in (
                        event.occurred_at.isoformat(),
                        event.action,
                        event.action_label,
                        event.actor_label,
                        event.target_type,
                        event.target_label,
                        event.request_id,
                        event.ip,
                        event.before,
                        event.after,
                    )
                )

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        filename = f"activity-{self.organization.public_id}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
