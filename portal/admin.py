"""Shared pieces of the review site (Django admin).

Every write on the review site goes through a service that locks its row and writes its audit row:
models are either read-only here (``ViewOnlyAdminMixin``), or change only through admin actions that
call a service (``service_action``), or save through a service from ``save_model``.
"""

from collections.abc import Callable, Iterator

from django.contrib import admin, messages
from django.contrib.admin.views.main import ALL_VAR, ERROR_FLAG, PAGE_VAR, ChangeList
from django.shortcuts import redirect
from django.utils.text import smart_split, unescape_string_literal

from portal.errors import DomainError
from portal.lists import keyset_page

#: a keyset list's own parameters (``portal.lists``): not filters, and never carried into the links of
#: the filters or the search, which start again at the top of their list
CURSOR_PARAMS = ("after", "before")


def search_terms(search_term: str) -> Iterator[str]:
    """The terms of a review-site search, split as Django's admin splits them (a quoted term whole,
    unquoted), without surrounding spaces and without empty ones: for a ``get_search_results`` that
    chooses an index for each term itself."""
    for term in smart_split(search_term):
        if len(term) > 1 and term.startswith(('"', "'")) and term[0] == term[-1]:
            term = unescape_string_literal(term)
        term = term.strip()
        if term:
            yield term


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


class KeysetChangeList(ChangeList):
    """A changelist that is one keyset page (``portal.lists``) of the filtered and searched rows, in
    ``model_admin.keyset_ordering``: no ``COUNT(*)`` and no ``OFFSET``, so that a table of millions
    costs what a table of ten does. ``result_count`` is the page's length; the admin's totals, page
    numbers and "Show all" have nothing to show, and the templates (``admin/keyset/change_list.html``,
    ``admin/keyset/search_form.html``) show First page, Previous and Next instead, keeping the filters and
    the search. Columns cannot be sorted (``sortable_by = ()``): the order is the keyset's."""

    def __init__(self, request, *args, **kwargs):
        # The cursor and everything the links keep (filters, search); not the admin's own page number.
        self.cursor_query = request.GET.copy()
        for name in (PAGE_VAR, ALL_VAR, ERROR_FLAG):
            self.cursor_query.pop(name, None)
        super().__init__(request, *args, **kwargs)
        for name in CURSOR_PARAMS:  # the search form's hidden fields: a new search starts at the top
            self.params.pop(name, None)

    def get_filters_params(self, params=None):
        lookup_params = super().get_filters_params(params)
        for name in CURSOR_PARAMS:
            lookup_params.pop(name, None)
        return lookup_params

    def get_query_string(self, new_params=None, remove=None):
        return super().get_query_string(new_params, [*(remove or ()), *CURSOR_PARAMS])

    def get_results(self, request):
        self.page = keyset_page(
            self.queryset,
            ordering=self.model_admin.keyset_ordering,
            query=self.cursor_query,
            size=self.list_per_page,
        )
        self.result_list = self.page.object_list
        self.result_count = len(self.page.object_list)
        self.full_result_count = None
        self.show_full_result_count = False
        self.show_admin_actions = True
        self.can_show_all = False
        self.multi_page = self.page.has_other_pages
        self.paginator = None


class KeysetAdminMixin:
    """A ModelAdmin whose list is a ``KeysetChangeList`` in ``keyset_ordering``: never counted, no facets
    (they count too), columns not sortable (the order is the keyset's), 50 rows a page."""

    keyset_ordering: tuple[str, ...]
    change_list_template = "admin/keyset/change_list.html"
    sortable_by = ()
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50

    def get_changelist(self, request, **kwargs):
        return KeysetChangeList
