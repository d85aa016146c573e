"""Shared pieces of the review site (Django admin)."""


class ViewOnlyAdminMixin:
    """Rows that change only through their services: staff see them, nobody adds, edits or deletes
    them here (actions declared with ``permissions=["view"]`` still run their service)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
