"""The review site's pages for people and organizations, and for allauth's records about them.

What staff may change here, and how:
- an organization's legal name, address and customer-support contact: the change form, saved through
  ``organization_details_update``; its status: the actions Suspend / Reactivate;
- a person's access: the actions Deactivate / Reactivate account, and (superusers) Grant / Revoke
  program staff (a superuser) and Add to / Remove from enrollment reviewers (staff in the one
  "Enrollment reviewers" group, which decides enrollments and nothing else).
Everything else is read-only. People sign up themselves, an email address changes only when its new
owner verifies it, and passwords and authenticators are the person's own business.
"""

import uuid

from allauth.account.admin import EmailAddressAdmin as AllauthEmailAddressAdmin
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection, models
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from django_countries import countries

from accounts.models import (
    DirectoryTenant,
    DirectoryUser,
    Membership,
    MembershipInvitation,
    Organization,
    User,
)
from accounts.services.review import (
    ORGANIZATION_DETAIL_FIELDS,
    organization_details_update,
    organization_reactivate,
    organization_suspend,
    user_deactivate,
    user_reactivate,
    user_reviewer_grant,
    user_reviewer_revoke,
    user_staff_grant,
    user_staff_revoke,
)
from portal.admin import KeysetAdminMixin, ViewOnlyAdminMixin, search_terms, service_action, titled

# The portal uses roles per organization (accounts.roles). Django's groups serve only the review site's
# one reviewer group, kept by enrollment.reviewers and granted by the user actions: no group page.
admin.site.unregister(Group)

# allauth's models have no verbose names of their own, so the review site would show English class
# names in Japanese. These are display names only (not in migrations' model options).
Authenticator._meta.verbose_name = _("authenticator")
Authenticator._meta.verbose_name_plural = _("authenticators")
UserSession._meta.verbose_name = _("signed-in session")
UserSession._meta.verbose_name_plural = _("signed-in sessions")
# And their apps' names: allauth's "Accounts" would sit beside ours under the same name.
apps.get_app_config("account").verbose_name = _("Email addresses")
apps.get_app_config("mfa").verbose_name = _("Two-factor authentication")
apps.get_app_config("usersessions").verbose_name = _("Sessions")


def _membership_list(memberships, *, link, label, empty):
    """Memberships as a list: who or where (a link), their roles and status."""
    if not memberships:
        return empty
    return format_html(
        "<ul>{}</ul>",
        format_html_join(
            "",
            '<li><a href="{}">{}</a>: {} ({})</li>',
            (
                (
                    link(membership),
                    label(membership),
                    ", ".join(str(role) for role in membership.roles.all()),
                    membership.get_status_display(),
                )
                for membership in memberships
            ),
        ),
    )


def _user_link(user: User):
    url = reverse("admin:accounts_user_change", args=[user.pk])
    return format_html('<a href="{}">{}</a>', url, user.email)


class CountryListFilter(admin.SimpleListFilter):
    """The countries some row has, by name: the full list would offer 250."""

    title = _("country")
    parameter_name = "country"

    def lookups(self, request, model_admin):
        codes = self.codes(request, model_admin)
        return sorted(((code, countries.name(code)) for code in codes if code), key=lambda item: item[1])

    def codes(self, request, model_admin) -> list[str]:
        return list(model_admin.get_queryset(request).order_by().values_list("country", flat=True).distinct())

    def queryset(self, request, queryset):
        return queryset.filter(country=self.value()) if self.value() else queryset


class OrganizationCountryListFilter(CountryListFilter):
    """The countries of the organizations, found by one index seek per country (a "loose index scan" of
    ``organization_country_idx``), not by reading every organization as ``DISTINCT`` would."""

    def codes(self, request, model_admin) -> list[str]:
        table = Organization._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"""WITH RECURSIVE found (country) AS (
                        (SELECT country FROM {table} ORDER BY country LIMIT 1)
                        UNION ALL
                        SELECT (SELECT country FROM {table} WHERE country > found.country
                                ORDER BY country LIMIT 1)
                        FROM found WHERE found.country IS NOT NULL
                    )
                    SELECT country FROM found WHERE country IS NOT NULL"""  # noqa: S608 - no input in it
            )
            return [code for (code,) in cursor.fetchall()]


# --- People --------------------------------------------------------------------------------------


@admin.register(User)
class UserAdmin(KeysetAdminMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """Read-only, with actions for access. No add (people sign up), no password or email typed by
    staff; the one group (enrollment reviewers) only through its two actions. A keyset list by email
    address (its unique index), never counted; the search (``icontains`` on the address and the name)
    is answered by both columns' trigram indexes (migrations 0010 and 0011)."""

    ordering = ["email"]
    keyset_ordering = ("email",)
    list_display = ["email", "full_name", "preferred_language", "is_active", "is_staff", "date_joined"]
    list_filter = ["is_active", "is_staff", "is_superuser", "groups", "preferred_language"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "full_name", "preferred_language", "organizations"]}),
        (_("Access"), {"fields": ["is_active", "is_staff", "is_superuser", "two_factor"]}),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    readonly_fields = [name for _title, options in fieldsets for name in options["fields"]]
    actions = [
        "deactivate_account",
        "reactivate_account",
        "grant_program_staff",
        "revoke_program_staff",
        "add_to_enrollment_reviewers",
        "remove_from_enrollment_reviewers",
    ]

    @admin.display(description=_("Two-factor authentication"), boolean=True)
    def two_factor(self, obj: User) -> bool:
        return Authenticator.objects.filter(user=obj, type=Authenticator.Type.TOTP).exists()

    @admin.display(description=_("Organizations"))
    def organizations(self, obj: User):
        memberships = (
            Membership.objects.filter(user=obj)
            .select_related("organization")
            .prefetch_related("roles")
            .order_by("organization__legal_name")
        )
        return _membership_list(
            memberships,
            link=lambda membership: reverse(
                "admin:accounts_organization_change", args=[membership.organization_id]
            ),
            label=lambda membership: membership.organization.legal_name,
            empty=_("No organizations"),
        )

    def has_account_access_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_staff and self.has_view_permission(request)

    def has_staff_access_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    deactivate_account = service_action(
        service=user_deactivate,
        target="user",
        description=_("Deactivate account"),
        done_message=ngettext_lazy(
            "%(count)d account deactivated; its sessions have ended.",
            "%(count)d accounts deactivated; their sessions have ended.",
            "count",
        ),
        permission="account_access",
    )

    reactivate_account = service_action(
        service=user_reactivate,
        target="user",
        description=_("Reactivate account"),
        done_message=ngettext_lazy(
            "%(count)d account reactivated.", "%(count)d accounts reactivated.", "count"
        ),
        permission="account_access",
    )

    grant_program_staff = service_action(
        service=user_staff_grant,
        target="user",
        description=_("Grant program staff"),
        done_message=ngettext_lazy(
            "%(count)d person is now program staff.", "%(count)d people are now program staff.", "count"
        ),
        permission="staff_access",
    )

    revoke_program_staff = service_action(
        service=user_staff_revoke,
        target="user",
        description=_("Revoke program staff"),
        done_message=ngettext_lazy(
            "%(count)d person is no longer program staff.",
            "%(count)d people are no longer program staff.",
            "count",
        ),
        permission="staff_access",
    )

    add_to_enrollment_reviewers = service_action(
        service=user_reviewer_grant,
        target="user",
        description=_("Add to enrollment reviewers"),
        done_message=ngettext_lazy(
            "%(count)d person is now an enrollment reviewer.",
            "%(count)d people are now enrollment reviewers.",
            "count",
        ),
        permission="staff_access",
    )

    remove_from_enrollment_reviewers = service_action(
        service=user_reviewer_revoke,
        target="user",
        description=_("Remove from enrollment reviewers"),
        done_message=ngettext_lazy(
            "%(count)d person is no longer an enrollment reviewer.",
            "%(count)d people are no longer enrollment reviewers.",
            "count",
        ),
        permission="staff_access",
    )


# --- Organizations -------------------------------------------------------------------------------


@admin.register(Organization)
class OrganizationAdmin(KeysetAdminMixin, admin.ModelAdmin):
    # The country by its name, looked up once per row: the field's own display would go through the
    # 250 countries' choices for every row.
    list_display = ["legal_name", "kind", "country_name", "status", "created_at"]
    list_filter = ["kind", "status", OrganizationCountryListFilter]
    search_fields = ["legal_name", "public_id", "support_email"]
    # Hundreds of thousands of organizations (every customer is one): a keyset list by legal name, never
    # counted (portal.admin.KeysetChangeList), each filter with its index (accounts.Organization.Meta).
    keyset_ordering = ("legal_name", "id")
    # The change form's fields are exactly the legal details (everything else in the fieldsets is
    # read-only); the model's validators, e.g. no control characters in the legal name, show at the field.
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "public_id",
                    "kind",
                    "status",
                    "country",
                    "directory_tenant",
                    "created_at",
                    "members",
                ]
            },
        ),
        (
            _("Legal business profile"),
            {"fields": ["legal_name", "address_line1", "address_line2", "city", "region", "postal_code"]},
        ),
        (_("Customer support contact"), {"fields": ["support_email", "support_phone", "support_website"]}),
    ]
    readonly_fields = [
        name
        for _title, options in fieldsets
        for name in options["fields"]
        if name not in ORGANIZATION_DETAIL_FIELDS
    ]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["suspend", "reactivate"]

    @admin.display(description=_("country"))
    def country_name(self, obj: Organization) -> str:
        return obj.country.name

    def get_search_results(self, request, queryset, search_term):
        """A public ID finds its organization by its unique index; anything else searches the legal name
        and the support email, each term in either (trigram indexes, migration 0009)."""
        try:
            return queryset.filter(public_id=uuid.UUID(search_term.strip())), False
        except ValueError:
            pass
        for term in smart_split(search_term):
            if term.startswith(('"', "'")) and term[0] == term[-1]:
                term = unescape_string_literal(term)
            queryset = queryset.filter(Q(legal_name__icontains=term) | Q(support_email__icontains=term))
        return queryset, False

    def has_add_permission(self, request, obj=None):
        return False  # organizations come from enrollment and sign-up, with their first Global admin

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("Members"))
    def members(self, obj: Organization):
        memberships = (
            Membership.objects.filter(organization=obj)
            .select_related("user")
            .prefetch_related("roles")
            .order_by("user__email")
        )
        return _membership_list(
            memberships,
            link=lambda membership: reverse("admin:accounts_membership_change", args=[membership.pk]),
            label=lambda membership: membership.user.email,
            empty=_("No members"),
        )

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        organization_details_update(organization=obj, changes=changes, by=request.user)
        obj.refresh_from_db()

    suspend = service_action(
        service=organization_suspend,
        target="organization",
        description=_("Suspend"),
        done_message=ngettext_lazy(
            "%(count)d organization suspended.", "%(count)d organizations suspended.", "count"
        ),
        permission="change",
    )

    reactivate = service_action(
        service=organization_reactivate,
        target="organization",
        description=_("Reactivate"),
        done_message=ngettext_lazy(
            "%(count)d organization reactivated.", "%(count)d organizations reactivated.", "count"
        ),
        permission="change",
    )


@admin.register(DirectoryTenant)
class DirectoryTenantAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: a tenant is proven by signing in to it, never typed in by staff."""

    list_display = ["name", "tenant_id", "country", "source", "created_at"]
    list_filter = ["source", CountryListFilter]
    search_fields = ["name", "tenant_id"]


@admin.register(DirectoryUser)
class DirectoryUserAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: users of built-in tenants change through their services; the password hash is never
    shown (it is not among the fields)."""

    list_display = [
        "user_principal_name",
        "display_name",
        "tenant",
        "is_global_admin",
        "status",
        "created_at",
    ]
    list_filter = ["status", "is_global_admin"]
    search_fields = ["user_principal_name", "display_name", "tenant__name"]
    list_select_related = ["tenant"]
    fields = [
        "public_id",
        "tenant",
        "user_principal_name",
        "display_name",
        "is_global_admin",
        "status",
        "created_at",
    ]
    readonly_fields = fields


@admin.register(Membership)
class MembershipAdmin(KeysetAdminMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """Read-only here: roles change through the organization's own User management, which guards the
    last Global admin and writes the audit trail. Every person's membership of every organization: a
    keyset list, newest first (index ``membership_created_idx``), never counted."""

    list_display = ["user", "organization", "status", "created_at"]
    list_filter = ["status", "organization__kind"]
    search_fields = ["user__email"]  # the search itself: get_search_results
    search_help_text = _(
        "Search by a person's email address or part of it (with its @, such as ann@ or @contoso.example), "
        "an organization's legal name or part of it, or an organization's public ID."
    )
    list_select_related = ["user", "organization"]
    keyset_ordering = ("-created_at", "-id")
    fields = ["public_id", "organization", "user", "status", "roles", "created_at"]
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        """Each term (a quoted one whole) narrows the list by one condition that an index answers: an
        organization's public ID, to its members (its unique index); a term with an @, to the people
        whose email address holds it (its trigrams, migration 0010); any other term, to the members of
        the organizations whose legal name holds it (its trigrams, migration 0009). One condition on one
        joined table, not an OR across two (which read every membership: 0.6 s at 110,000 in
        bench/scale.py): the planner starts from the few rows an index finds, or for a common term reads
        the newest memberships until the page is full. Still slow: a term that many organizations hold
        but few members of them do ("customer": 0.25 s at that size)."""
        for term in search_terms(search_term):
            try:
                queryset = queryset.filter(organization__public_id=uuid.UUID(term))
            except ValueError:
                if "@" in term:
                    queryset = queryset.filter(user__email__icontains=term)
                else:
                    queryset = queryset.filter(organization__legal_name__icontains=term)
        return queryset, False

    @admin.display(description=_("roles"))
    def roles(self, obj: Membership) -> str:
        return ", ".join(str(role) for role in obj.roles.all())


@admin.register(MembershipInvitation)
class MembershipInvitationAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["email", "organization", "status", "created_at", "expires_at"]
    list_filter = ["status"]
    search_fields = ["email", "organization__legal_name"]
    exclude = ["token_hash"]
    readonly_fields = [
        "public_id",
        "organization",
        "email",
        "roles",
        "status",
        "invited_by",
        "decided_by",
        "created_at",
        "expires_at",
        "decided_at",
        "reason",
    ]


# --- allauth's records: read-only, and never a secret ------------------------------------------------

admin.site.unregister(EmailAddress)
admin.site.unregister(Authenticator)
admin.site.unregister(UserSession)


@admin.register(EmailAddress)
class EmailAddressAdmin(ViewOnlyAdminMixin, AllauthEmailAddressAdmin):
    """Read-only: an address is verified by its owner, never ticked by staff (an invitation is bound to
    a verified address). allauth's "mark as verified" action is removed for the same reason."""

    actions = ()
    raw_id_fields = ()
    fields = ["email", "user", "primary", "verified"]
    readonly_fields = fields


@admin.register(Authenticator)
class AuthenticatorAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Which second factors a person has, never their ``data``: it holds the TOTP secret and the seed
    of the recovery codes."""

    list_display = ["user_email", "kind", "created", "last_used"]
    list_filter = [
        ("type", titled(admin.ChoicesFieldListFilter, _("type"))),
        ("created_at", titled(admin.DateFieldListFilter, _("created at"))),
    ]
    list_select_related = ["user"]
    search_fields = ["user__email"]
    fields = ["person", "kind", "created", "last_used"]
    readonly_fields = fields
    ordering = ["user__email", "type"]

    @admin.display(description=_("user"), ordering="user__email")
    def user_email(self, obj: Authenticator) -> str:
        return obj.user.email

    @admin.display(description=_("user"))
    def person(self, obj: Authenticator):
        return _user_link(obj.user)

    @admin.display(description=_("type"), ordering="type")
    def kind(self, obj: Authenticator) -> str:
        return obj.get_type_display()

    @admin.display(description=_("created at"), ordering="created_at")
    def created(self, obj: Authenticator):
        return obj.created_at

    @admin.display(description=_("last used at"), ordering="last_used_at")
    def last_used(self, obj: Authenticator):
        return obj.last_used_at


@admin.register(UserSession)
class UserSessionAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Where people are signed in (to look into a takeover), never the session key: it is the session.
    Deactivating an account ends its sessions."""

    list_display = ["user_email", "ip_address", "browser", "created", "last_seen"]
    list_select_related = ["user"]
    search_fields = ["user__email", "ip"]
    fields = ["person", "ip_address", "browser", "created", "last_seen"]
    readonly_fields = fields
    ordering = ["-last_seen_at"]

    @admin.display(description=_("user"), ordering="user__email")
    def user_email(self, obj: UserSession) -> str:
        return obj.user.email

    @admin.display(description=_("user"))
    def person(self, obj: UserSession):
        return _user_link(obj.user)

    @admin.display(description=_("IP address"), ordering="ip")
    def ip_address(self, obj: UserSession) -> str:
        return obj.ip

    @admin.display(description=_("browser"))
    def browser(self, obj: UserSession) -> str:
        return obj.user_agent

    @admin.display(description=_("signed in at"), ordering="created_at")
    def created(self, obj: UserSession):
        return obj.created_at

    @admin.display(description=_("last seen at"), ordering="last_seen_at")
    def last_seen(self, obj: UserSession):
        return obj.last_seen_at
