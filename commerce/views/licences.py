"""Licences: the seats of a customer's seat-based subscriptions and the users of its tenant who hold them;
assign, remove, and the CSV export of every assignment. The same classes serve the customer's own pages
and its reseller's (delegated admin with the License administrator role); ``commerce.access`` says who
may, ``commerce.services.licences`` decides (never more assignments than seats).

A reseller sees the subscriptions it is reseller of record of (``commerce.selectors.subscriptions_of``),
and only their licences; the customer sees all of its own."""

from __future__ import annotations

import csv
from datetime import UTC
from typing import NamedTuple

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts.models import DirectoryUser
from accounts.organization_views import BYTE_ORDER_MARK, _Echo, csv_safe
from commerce import access, selectors
from commerce.forms_directory import LicenceAssignForm, SubscriptionFindForm
from commerce.models import Subscription
from commerce.services.licences import licence_assign, licence_remove
from commerce.views.directory import TenantPage
from portal.errors import DomainError, form_add_domain_error
from portal.lists import DEFAULT_PAGE_SIZE, keyset_first_page, keyset_page
from portal.rows import RowLink, choice_labels, minute

#: The ordering of a subscription's assignments (portal.lists): every field one way, the last one unique.
ASSIGNMENT_ORDERING = ("user_principal_name", "id")
#: The Licences page lists at most this many subscriptions (live first, by name); a search finds the
#: others: a customer may have a thousand.
CHOOSER_SIZE = 50
#: Rows per fetch from the export's server-side cursor, and CSV lines per chunk sent to the client.
EXPORT_FETCH_ROWS = 2000
EXPORT_LINES_PER_CHUNK = 500
EXPORT_HEADER = [
    "subscription",
    "offer_product_code",
    "user_principal_name",
    "display_name",
    "assigned_at_utc",
]


class SubscriptionLink(NamedTuple):
    """A subscription in the Licences page's list, in plain values: the list's ``{% memo %}`` keys it by
    them, so a list already printed with these values is not rendered again (``portal.memo``)."""

    url: str
    name: str
    status: str
    status_label: str
    current: bool  # the subscription the page shows


class LicenceHolderRow(NamedTuple):
    """What a row of the licence holders prints, in plain values (its ``{% memo %}`` keys it by them)."""

    user_principal_name: str
    display_name: str
    user_status: str
    user_status_label: str
    assigned: str  # "Y-m-d H:i" in the current time zone
    remove_url: str  # "" when the member may not take licences back


def subscription_links(subscriptions, chosen: Subscription | None, page_url) -> tuple[SubscriptionLink, ...]:
    """The Licences page's list of subscriptions; ``page_url(subscription)`` is the page of one."""
    statuses = choice_labels(Subscription, "status")
    return tuple(
        SubscriptionLink(
            url=page_url(subscription),
            name=subscription.name,
            status=subscription.status,
            status_label=statuses.get(subscription.status, subscription.status),
            current=chosen is not None and subscription.pk == chosen.pk,
        )
        for subscription in subscriptions
    )


def holder_rows(assignments, remove_url: RowLink | None) -> list[LicenceHolderRow]:
    """The rows of a page of ``selectors.licence_holder_rows``; ``remove_url`` None: no Remove button."""
    statuses = choice_labels(DirectoryUser, "status")
    return [
        LicenceHolderRow(
            user_principal_name=assignment.user_principal_name,
            display_name=assignment.display_name,
            user_status=assignment.user_status,
            user_status_label=statuses.get(assignment.user_status, assignment.user_status),
            assigned=minute(assignment.assigned_at),
            remove_url=remove_url(assignment.public_id) if remove_url is not None else "",
        )
        for assignment in assignments
    ]


class _LicencePage(TenantPage):
    def seat_subscriptions(self) -> QuerySet[Subscription]:
        """The customer's seat-based subscriptions this organization sees (the columns the page shows)."""
        return selectors.licence_subscriptions_of(self.organization, self.customer)

    def chooser(self, search: str) -> tuple[list[Subscription], bool]:
        """The first ``CHOOSER_SIZE`` seat-based subscriptions (those ``search`` finds: part of their
        name, or of their offer's name or product code), the live ones first, by name; and whether there
        are more. One query, bounded by the customer's subscriptions, never all of them read."""
        if not search:
            # the page without a search, which nearly every visit is: compiled once per process
            rows = selectors.licence_chooser_first(self.organization, self.customer, count=CHOOSER_SIZE + 1)
            return rows[:CHOOSER_SIZE], len(rows) > CHOOSER_SIZE
        rows = self.seat_subscriptions()
        if search:
            rows = rows.filter(
                Q(name__icontains=search)
                | Q(offer__name__icontains=search)
                | Q(offer__product_code__icontains=search)
            )
        rows = list(selectors.licence_chooser(rows, count=CHOOSER_SIZE + 1))
        return rows[:CHOOSER_SIZE], len(rows) > CHOOSER_SIZE

    def chosen_subscription(self, public_id, listed: list[Subscription]) -> Subscription | None:
        """One seat-based subscription this organization sees, with ``assigned`` (its licences in use);
        None when there is none with this id (or the id is malformed). One of ``listed`` (the chooser's
        rows) is not read again: only its count is."""
        for subscription in listed:
            if str(subscription.public_id) == str(public_id):
                subscription.assigned = selectors.licences_assigned_of(subscription)
                return subscription
        try:
            return (
                selectors.with_assigned_counts(self.seat_subscriptions()).filter(public_id=public_id).first()
            )
        except ValidationError:
            return None

    def licences_url(self, subscription=None, *, search: str = "", url: str = "") -> str:
        """The page of ``subscription`` (the page without one when None), keeping ``search``; ``url``: the
        page's own, when the caller already has it."""
        url = url or self.url("licences")
        if subscription is None:
            return url
        query = {"subscription": subscription.public_id, **({"q": search} if search else {})}
        return f"{url}?{urlencode(query)}"

    def render_page(self, *, chosen_id=None, assign_form=None, status=200, strict=True):
        """The licences page of one subscription (``chosen_id``; the first listed when None). An id this
        organization does not see is 404 (``strict``), or the first subscription when the page comes
        back with an error. The chooser lists at most ``CHOOSER_SIZE`` subscriptions; ``?q=`` finds the
        others (``SubscriptionFindForm``: a malformed search is 400 with the error at its field, and the
        list unfiltered)."""
        find_form = SubscriptionFindForm(self.request.GET or None)
        search = ""
        if find_form.is_bound:
            if find_form.is_valid():
                search = find_form.cleaned_data["q"]
            else:
                status = 400
        subscriptions, more = self.chooser(search)
        chosen = self.chosen_subscription(chosen_id, subscriptions) if chosen_id else None
        if chosen_id and chosen is None and strict:
            raise Http404
        if chosen is None and subscriptions:
            chosen = self.chosen_subscription(subscriptions[0].public_id, subscriptions)
        can_manage = self.may(access.LICENCES_MANAGE)
        page, rows = None, []
        if chosen is not None:
            query = self.request.GET
            if not query.get("after") and not query.get("before"):
                # the first page, which nearly every visit is: its query compiled once per process
                first = selectors.licence_holder_rows_first(
                    chosen, ordering=ASSIGNMENT_ORDERING, count=DEFAULT_PAGE_SIZE + 1
                )
                page = keyset_first_page(first, ordering=ASSIGNMENT_ORDERING, query=query)
            else:
                page = keyset_page(
                    selectors.licence_holder_rows(chosen), ordering=ASSIGNMENT_ORDERING, query=query
                )
            remove_url = None
            if can_manage:
                route, kwargs = self.route("licence_remove")
                remove_url = RowLink(route, "assignment_id", **kwargs)
            rows = holder_rows(page.object_list, remove_url)
            if can_manage and assign_form is None:
                assign_form = LicenceAssignForm(initial={"subscription": chosen.public_id})
        page_url = self.url("licences")
        context = self.tenant_context(
            access.LICENCES_VIEW,
            subscriptions=subscriptions,
            subscription_links=subscription_links(
                subscriptions, chosen, lambda row: self.licences_url(row, search=search, url=page_url)
            ),
            # the search shows once the list does not fit (and while a search is on)
            find_form=find_form if (more or search or find_form.errors) else None,
            searching=bool(search),
            more_subscriptions=more,
            chooser_size=CHOOSER_SIZE,
            chosen=chosen,
            page=page,
            rows=rows,
            can_manage=can_manage,
            assign_form=assign_form if can_manage else None,
            assign_url=self.url("licence_assign"),
            export_url=self.url("licences_export"),
        )
        return render(self.request, "commerce/licences.html", context, status=status)


class LicenceListView(_LicencePage):
    action = access.LICENCES_VIEW

    def get(self, request, customer_id=None):
        denied = self.customer_resolve(customer_id, action=access.LICENCES_VIEW)
        if denied is not None:
            return denied
        return self.render_page(chosen_id=request.GET.get("subscription"))


class LicenceAssignView(_LicencePage):
    """Give one seat of a subscription to a user of the tenant, named by user principal name."""

    action = access.LICENCES_MANAGE

    def post(self, request, customer_id=None):
        denied = self.customer_resolve(customer_id, action=access.LICENCES_MANAGE)
        if denied is not None:
            return denied
        form = LicenceAssignForm(request.POST)
        if not form.is_valid():
            chosen_id = form.cleaned_data.get("subscription")
            return self.render_page(chosen_id=chosen_id, assign_form=form, status=400, strict=False)
        subscription = selectors.subscription_for(
            self.organization, self.customer, form.cleaned_data["subscription"]
        )
        try:
            assignment = licence_assign(
                by=self.membership,
                subscription=subscription,
                user_principal_name=form.cleaned_data["user_principal_name"],
            )
        except DomainError as error:
            form_add_domain_error(form, error)
            return self.render_page(
                chosen_id=subscription.public_id, assign_form=form, status=400, strict=False
            )
        messages.success(
            request,
            _("%(user)s now holds a licence of %(subscription)s.")
            % {"user": assignment.user_principal_name, "subscription": subscription.name},
        )
        return redirect(self.licences_url(subscription))


class LicenceRemoveView(_LicencePage):
    """Take one licence back: its seat is free again."""

    action = access.LICENCES_MANAGE

    def post(self, request, assignment_id, customer_id=None):
        denied = self.customer_resolve(customer_id, action=access.LICENCES_MANAGE)
        if denied is not None:
            return denied
        assignment = selectors.licence_assignment_for(self.organization, self.customer, assignment_id)
        # A reseller takes back only the licences of the subscriptions it sees (those it is reseller of
        # record of): another subscription's licence is 404, as on the page.
        subscription = selectors.subscription_for(
            self.organization, self.customer, assignment.subscription.public_id
        )
        try:
            licence_remove(by=self.membership, assignment=assignment)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("%(user)s no longer holds this licence: its seat is free again.")
                % {"user": assignment.user_principal_name},
            )
        return redirect(self.licences_url(subscription))


class LicenceExportView(_LicencePage):
    """Every licence assignment of the customer's subscriptions this organization sees, as CSV, streamed
    (a server-side cursor: never the whole list in memory)."""

    action = access.LICENCES_VIEW

    def get(self, request, customer_id=None):
        denied = self.customer_resolve(customer_id, action=access.LICENCES_VIEW)
        if denied is not None:
            return denied
        columns = (
            selectors.licence_assignments_visible_to(self.organization, self.customer)
            .order_by("subscription__name", "subscription_id", "user_principal_name", "id")
            .values_list(
                "subscription__name",
                "subscription__offer__product_code",
                "user_principal_name",
                "directory_user__display_name",
                "assigned_at",
            )
        )
        writer = csv.writer(_Echo())

        def rows():
            yield BYTE_ORDER_MARK + writer.writerow(EXPORT_HEADER)
            lines = []
            for name, product_code, user_principal_name, display_name, assigned_at in columns.iterator(
                chunk_size=EXPORT_FETCH_ROWS
            ):
                values = (
                    name,
                    product_code,
                    user_principal_name,
                    display_name,
                    assigned_at.astimezone(UTC).isoformat(),
                )
                lines.append(writer.writerow([csv_safe(value) for value in values]))
                if len(lines) == EXPORT_LINES_PER_CHUNK:
                    yield "".join(lines)
                    lines = []
            if lines:
                yield "".join(lines)

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="licences-{self.customer.public_id}.csv"'
        return response
