"""Shared pieces of the review site (Django admin).

Every write on the review site goes through a service that locks its row and writes its audit row:
models are either read-only here (``ViewOnlyAdminMixin``), or change only through admin actions that
call a service (``service_action``), or save through a service from ``save_model``.
"""

from collections.abc import Callable

from django.contrib import admin, messages
from django.shortcuts import redirect

from portal.errors import DomainError


class ViewOnlyAdminMixin:
    """Rows that change only through their services: staff see them, nobody adds, edits or deletes
    them here (actions declared with ``permissions=["view"]`` still run their service)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def service_action(*, service: Callable, target: str, description, done_message, permission: str):
    """An admin action that calls ``service(<target>=row, by=staff member)`` for each selected row, each
    in its own transaction. A refusal is shown as an error that names what was refused; the rows that did
    change are counted in one success message (``done_message``: an ``ngettext_lazy`` counted by "count").
    """

    @admin.action(description=description, permissions=[permission])
    def action(model_admin, request, queryset) -> None:
        done = 0
        for obj in queryset:
            try:
                service(**{target: obj}, by=request.user)
            except DomainError as error:
                model_admin.message_user(request, error.message, messages.ERROR)
            else:
                done += 1
        if done:
            model_admin.message_user(request, done_message % {"count": done}, messages.SUCCESS)

    action.__name__ = service.__name__
    return action


def titled(filter_class: type[admin.FieldListFilter], title) -> type[admin.FieldListFilter]:
    """A field filter with a translated title, for third-party models whose fields have none."""

    class TitledFilter(filter_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.title = title

    return TitledFilter


def _password_change_through_allauth(request, extra_context=None):
    # allauth's page asks for the current password, applies the portal's rules and notifies the person
    # by email; the admin's own form would do none of that.
    return redirect("account_change_password")


admin.site.password_change = _password_change_through_allauth
