from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import (
    DirectoryTenant,
    Membership,
    MembershipInvitation,
    MembershipRole,
    Organization,
    User,
)
from portal.admin import ViewOnlyAdminMixin


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = [
        "email",
        "full_name",
        "preferred_language",
        "is_staff",
        "is_active",
        "date_joined",
    ]
    list_filter = ["is_staff", "is_superuser", "is_active", "preferred_language"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Profile"), {"fields": ["full_name", "preferred_language"]}),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    readonly_fields = ["last_login", "date_joined"]


class MembershipRoleInline(admin.TabularInline):
    model = MembershipRole
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "status", "created_at"]
    readonly_fields = ["user", "status", "created_at"]
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["legal_name", "kind", "country", "status", "created_at"]
    list_filter = ["kind", "status", "country"]
    search_fields = ["legal_name", "public_id", "support_email"]
    readonly_fields = ["public_id", "created_at"]
    inlines = [MembershipInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(DirectoryTenant)
class DirectoryTenantAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant_id", "country", "source", "created_at"]
    list_filter = ["source", "country"]
    search_fields = ["name", "tenant_id"]


@admin.register(Membership)
class MembershipAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Read-only here: roles change through the organization's own User management, which guards the
    last Global admin and writes the audit trail."""

    list_display = ["user", "organization", "status", "created_at"]
    list_filter = ["status", "organization__kind"]
    search_fields = ["user__email", "organization__legal_name"]
    list_select_related = ["user", "organization"]
    inlines = [MembershipRoleInline]
    readonly_fields = ["public_id", "organization", "user", "status", "created_at"]


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
        "accepted_by",
        "created_at",
        "expires_at",
        "decided_at",
    ]
