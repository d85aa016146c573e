"""The users of a customer's built-in directory tenant: the list (search, licences held, Disable and
Enable), and Add user. The same classes serve the customer's own pages and its reseller's (delegated
admin with the User administrator role); ``commerce.access`` says who may, the services decide.

An Entra ID tenant's users are managed in the Microsoft Entra admin center: the pages say so and offer
no action."""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

from django.contrib import messages
from django.core.exceptions import BadRequest
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import DirectoryUser, Organization
from accounts.roles import Permission
from accounts.services.directory import SETUP_LINK_DAYS
from commerce import access, selectors
from commerce.forms_directory import TenantUserAddForm, TenantUserFilterForm, TenantUserStatusForm
from commerce.services import users as user_services
from commerce.views.base import CustomerScopedView
from customers import selectors as customer_selectors
from customers.models import DELEGATED_ROLE_DESCRIPTIONS, DelegatedRole
from portal.errors import DomainError, form_add_domain_error
from portal.lists import DEFAULT_PAGE_SIZE, keyset_first_page, keyset_page
from portal.rows import RowLink, choice_labels, minute

#: The ordering of the users list (portal.lists): every field one way, the last one unique.
USER_ORDERING = ("user_principal_name", "id")


class TenantPage(CustomerScopedView):
    """A page of one customer's tenant (users or licences): the partner's banner (whose tenant it is, as
    whom, with which delegated role), the link back to the customer page, and the 403 page that names
    the missing role, says what it allows and how to ask for it."""

    def role_missing(self, missing: access.DelegatedRoleMissing):
        context = self.get_context_data(
            role=DelegatedRole(missing.role).label,
            role_description=DELEGATED_ROLE_DESCRIPTIONS.get(missing.role, ""),
            message=missing.message,
            can_request=(
                not self.is_customer_side
                and self.organization.kind == Organization.Kind.RESELLER
                and self.membership.can(Permission.CUSTOMERS_MANAGE)
            ),
        )
        return render(self.request, "commerce/role_missing.html", context, status=403)

    def get_context_data(self, **context):
        customer = getattr(self, "customer", None)
        relationship = getattr(self, "relationship", None)
        customer_name = ""
        if relationship is not None:
            customer_name = relationship.customer_name
        elif customer is not None:
            customer_name = customer.legal_name
        customer_url = None
        if relationship is not None:
            customer_url = reverse(
                "customers:customer",
                kwargs={
                    "organization_public_id": self.organization.public_id,
                    "customer_id": customer.public_id,
                },
            )
        return super().get_context_data(customer_name=customer_name, customer_url=customer_url, **context)

    def acting_role_label(self, action: str) -> str:
        """The delegated role the partner acts with on this page: the page's own, or Global administrator
        when that is what gives it (the relationship selector's answer, as for the check)."""
        need = access.ACTIONS[action].partner_need
        if self.answers is not None:
            roles = self.answers.roles
        else:
            roles = customer_selectors.delegated_roles(self.organization, self.customer)
        return DelegatedRole(need if need in roles else DelegatedRole.GLOBAL_ADMIN).label

    def tenant_context(self, action: str, **context) -> dict:
        """What every page of the tenant shows: the banner on the partner's side, the links between the
        tenant's pages."""
        return self.get_context_data(
            acting_role=None if self.is_customer_side else self.acting_role_label(action),
            users_url=self.url("users"),
            licences_url=self.url("licences"),
            **context,
        )


class TenantUserRow(NamedTuple):
    """What a row of the tenant users list prints, in plain values: the row's ``{% memo %}`` keys it by
    them, so a row already printed with these values is not rendered again (``portal.memo``)."""

    display_name: str
    user_principal_name: str
    is_global_admin: bool
    status: str
    status_label: str
    setup_link_expires: str  # "Y-m-d H:i" (current time zone) of a set-up link sent and not used, or ""
    licence_names: tuple[str, ...]
    status_url: str  # "" when the member may not disable or enable users
    setup_link_offered: bool  # the row offers "Send a new set-up link"


def tenant_user_rows(
    directory_users, licences: dict[int, list[str]], *, status_url: RowLink | None, is_customer_side: bool
) -> list[TenantUserRow]:
    """The rows of a page of ``selectors.tenant_user_rows``, with the names of the subscriptions whose
    licences each user holds (``licences``); ``status_url`` None: no actions. A new set-up link is offered
    to an active user with a contact email, and on a partner's side never to a Global Administrator (the
    service refuses it)."""
    statuses = choice_labels(DirectoryUser, "status")
    rows = []
    for user in directory_users:
        active = user.status == DirectoryUser.Status.ACTIVE
        rows.append(
            TenantUserRow(
                display_name=user.display_name,
                user_principal_name=user.user_principal_name,
                is_global_admin=user.is_global_admin,
                status=user.status,
                status_label=statuses.get(user.status, user.status),
                setup_link_expires=(
                    minute(user.setup_expires_at) if user.setup_token_hash and user.setup_expires_at else ""
                ),
                licence_names=tuple(licences.get(user.pk, ())),
                status_url=status_url(user.public_id) if status_url is not None else "",
                setup_link_offered=(
                    status_url is not None
                    and active
                    and bool(user.contact_email)
                    and (not user.is_global_admin or is_customer_side)
                ),
            )
        )
    return rows


def _licence_names_by_user(view: CustomerScopedView, directory_users) -> dict[int, list[str]]:
    """The names of the subscriptions whose licences the page's users hold, of the subscriptions this
    organization sees: one query, whatever the number of users (``selectors.licence_names_of_users``)."""
    names: dict[int, list[str]] = defaultdict(list)
    user_ids = [user.pk for user in directory_users]
    for user_id, name in selectors.licence_names_of_users(view.organization, view.customer, user_ids):
        names[user_id].append(name)
    return names


class UserListView(TenantPage):
    action = access.USERS_VIEW

    def get(self, request, customer_id=None):
        denied = self.customer_resolve(customer_id, action=access.USERS_VIEW)
        if denied is not None:
            return denied
        if user_services.builtin_tenant_of(self.customer) is None:
            return self._render(form=None, page=None, not_managed=user_services.TENANT_NOT_MANAGED_HERE)
        form = TenantUserFilterForm(request.GET or None)
        if form.is_bound and not form.is_valid():
            return self._render(form=form, page=None, status=400)
        query = form.cleaned_data["q"].strip() if form.is_bound else ""
        first_page = not request.GET.get("after") and not request.GET.get("before")
        if not query and first_page:
            # the first page without a search, which nearly every visit is: its query compiled once (the
            # customer's built-in tenant, found above, on either side)
            first = selectors.own_tenant_user_rows_first(
                self.customer, ordering=USER_ORDERING, count=DEFAULT_PAGE_SIZE + 1
            )
            page = keyset_first_page(first, ordering=USER_ORDERING, query=request.GET)
        else:
            rows = selectors.tenant_user_rows(self.customer)
            if query:
                rows = rows.filter(Q(user_principal_name__icontains=query) | Q(display_name__icontains=query))
            page = keyset_page(rows, ordering=USER_ORDERING, query=request.GET)
        licences = _licence_names_by_user(self, page.object_list)
        can_manage = self.may(access.USERS_MANAGE)
        status_url = None
        if can_manage:
            route, kwargs = self.route("user_status")
            status_url = RowLink(route, "user_id", **kwargs)
        return self._render(
            form=form,
            page=page,
            rows=tenant_user_rows(
                page.object_list,
                licences,
                status_url=status_url,
                is_customer_side=self.is_customer_side,
            ),
            searching=bool(query),
            can_manage=can_manage,
            add_url=self.url("user_add") if can_manage else None,
        )

    def _render(self, *, form, page, status=200, **context):
        context = self.tenant_context(access.USERS_VIEW, form=form, page=page, **context)
        return render(self.request, "commerce/users.html", context, status=status)


class UserAddView(TenantPage):
    action = access.USERS_MANAGE

    def get(self, request, customer_id=None):
        denied = self.customer_resolve(customer_id, action=access.USERS_MANAGE)
        if denied is not None:
            return denied
        tenant = user_services.builtin_tenant_of(self.customer)
        if tenant is None:
            return self._render(None, not_managed=user_services.TENANT_NOT_MANAGED_HERE)
        return self._render(self._form(tenant))

    def post(self, request, customer_id=None):
        denied = self.customer_resolve(customer_id, action=access.USERS_MANAGE)
        if denied is not None:
            return denied
        tenant = user_services.builtin_tenant_of(self.customer)
        if tenant is None:
            return self._render(None, status=400, not_managed=user_services.TENANT_NOT_MANAGED_HERE)
        form = self._form(tenant, request.POST)
        if form.is_valid():
            try:
                directory_user = user_services.customer_user_add(
                    by=self.membership, customer=self.customer, **form.cleaned_data
                )
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                messages.success(
                    request,
                    _(
                        "%(name)s (%(user_principal_name)s) is added to the tenant. A set-up email with a "
                        "link to choose a password is on its way to %(email)s."
                    )
                    % {
                        "name": directory_user.display_name,
                        "user_principal_name": directory_user.user_principal_name,
                        "email": directory_user.contact_email,
                    },
                )
                return redirect(self.url("users"))
        return self._render(form, status=400)

    def _form(self, tenant, data=None) -> TenantUserAddForm:
        return TenantUserAddForm(
            data,
            domains=list(tenant.verified_domains or []),
            language=self.request.user.preferred_language or self.request.LANGUAGE_CODE,
        )

    def _render(self, form, *, status=200, **context):
        context = self.tenant_context(access.USERS_MANAGE, form=form, setup_days=SETUP_LINK_DAYS, **context)
        return render(self.request, "commerce/user_add.html", context, status=status)


class UserStatusView(TenantPage):
    """Disable or enable one user of the tenant, or send a new set-up link (POST
    ``action=disable|enable|setup_link``), then back to the list
    with what happened, or why the service refused (a partner cannot disable a Global Administrator)."""

    action = access.USERS_MANAGE

    def post(self, request, user_id, customer_id=None):
        denied = self.customer_resolve(customer_id, action=access.USERS_MANAGE)
        if denied is not None:
            return denied
        directory_user = selectors.tenant_user_for(self.customer, user_id)
        form = TenantUserStatusForm(request.POST)
        if not form.is_valid():
            raise BadRequest("Disable or enable: nothing else")
        chosen = form.cleaned_data["action"]
        service, message = {
            "disable": (
                user_services.customer_user_disable,
                _("%(name)s (%(user_principal_name)s) is disabled: the user can no longer sign in."),
            ),
            "enable": (
                user_services.customer_user_enable,
                _("%(name)s (%(user_principal_name)s) is enabled: the user can sign in again."),
            ),
            "setup_link": (
                user_services.customer_user_setup_link_send,
                _(
                    "A new set-up link for %(name)s (%(user_principal_name)s) is on its way to the user's "
                    "contact email. Earlier links no longer work."
                ),
            ),
        }[chosen]
        try:
            result = service(by=self.membership, customer=self.customer, directory_user=directory_user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            names = {"name": result.display_name, "user_principal_name": result.user_principal_name}
            messages.success(request, message % names)
        return redirect(self.url("users"))
