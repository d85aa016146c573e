"""The review queue: its filters, the time in review against the SLA, its search and its keyset pages.

The queue (the changelist of enrollment applications) is a keyset list (``portal.lists``): each page is
the next ``list_per_page`` rows after a cursor, found by one row comparison, with no ``COUNT(*)`` and no
``OFFSET``, so that the last page of ten thousand applications costs what the first one does. Pages have
no numbers and the list has no total; its links are First page, Previous and Next, and they keep the
filters and the search. The columns cannot be sorted: the order is the queue's own.

Oldest started first (``created_at``, ``id``). The queue used to be worked oldest *submitted* first, but
``portal.lists`` takes NOT NULL columns only and ``submitted_at`` is empty on a draft: ordering by it needs
``keyset_page`` to accept a nullable column on a queryset that leaves its NULLs out (see ``QUEUE_ORDERING``).
"""

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from enrollment.models import ApplicationStatus, EnrollmentApplication
from enrollment.services.review import sla_business_days
from portal.admin import KeysetChangeList, search_terms
from portal.business_days import is_business_day
from portal.queries import InSubquery

#: the statuses whose time in review counts towards the SLA (as ``sla_business_days`` counts it)
SLA_STATUSES = (ApplicationStatus.IN_REVIEW, ApplicationStatus.RESUBMITTED)

#: the queue's order, every field one way and the last one unique (``portal.lists``). Oldest submitted
#: first, ("submitted_at", "id"), is the order applicants wait in, but ``submitted_at`` is NULL on drafts
#: and ``keyset_page`` refuses a nullable column; until it accepts one on a queryset without NULLs, the
#: start of the application stands in for its submission.
QUEUE_ORDERING = ("created_at", "id")


def sla_days() -> int:
    return settings.ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS


def sla_past_lookup(now: datetime) -> Q:
    """The applications in review for more than the SLA's business days at ``now``: exactly those for
    which ``sla_business_days`` says more than ``ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS`` (its rules, counted
    backwards from ``now`` in the program's calendar), as one condition on ``review_started_at``."""
    country, tz = settings.PROGRAM_COUNTRY, ZoneInfo(settings.PROGRAM_TIME_ZONE)
    local = now.astimezone(tz)
    day = local.date()
    in_business_day = is_business_day(day, country=country)
    if not in_business_day:  # the whole of the last business day has passed
        day -= timedelta(days=1)
        while not is_business_day(day, country=country):
            day -= timedelta(days=1)
    # A start on ``day`` minus (SLA + 1) business days reaches SLA + 1 business days on ``day`` at its own
    # time of day; a start outside business days counts from 00:00 of the next business day.
    remaining = sla_days() + 1
    while remaining:
        day -= timedelta(days=1)
        if is_business_day(day, country=country):
            remaining -= 1
    if in_business_day:
        return Q(review_started_at__lte=datetime.combine(day, local.time(), tzinfo=tz))
    return Q(review_started_at__lt=datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz))


def time_in_review_display(application: EnrollmentApplication, *, now: datetime | None = None):
    """Business days in review, and a visible "Over SLA" badge past the SLA (None outside review)."""
    days = sla_business_days(application, now=now)
    if days is None:
        return None
    text = ngettext("%(count)d business day", "%(count)d business days", days) % {"count": days}
    if days > sla_days():
        return format_html('{} <span class="sla-badge sla-badge-over">{}</span>', text, _("Over SLA"))
    return text


class ApplicationStatusFilter(admin.SimpleListFilter):
    """By status; drafts only when asked for. A draft is the applicant's unfinished work, not yet sent to
    the program: nothing there to review, and listing them would bury the applications that wait."""

    title = _("status")
    parameter_name = "status"
    EVERY_STATUS = "all"

    def lookups(self, request, model_admin):
        return ApplicationStatus.choices

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("All but drafts"),
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == str(value),
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }
        yield {
            "selected": self.value() == self.EVERY_STATUS,
            "query_string": changelist.get_query_string({self.parameter_name: self.EVERY_STATUS}),
            "display": _("All, drafts included"),
        }

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset.exclude(status=ApplicationStatus.DRAFT)
        if value == self.EVERY_STATUS:
            return queryset
        return queryset.filter(status=value)


class TimeInReviewFilter(admin.SimpleListFilter):
    """Applications in review within the SLA, or past it (business days of the program's calendar)."""

    title = _("time in review")
    parameter_name = "sla"
    WITHIN, PAST = "within", "past"

    def lookups(self, request, model_admin):
        days = sla_days()
        within = ngettext(
            "Within the SLA (up to %(count)d business day)",
            "Within the SLA (up to %(count)d business days)",
            days,
        )
        past = ngettext(
            "Past the SLA (more than %(count)d business day)",
            "Past the SLA (more than %(count)d business days)",
            days,
        )
        return [(self.WITHIN, within % {"count": days}), (self.PAST, past % {"count": days})]

    def queryset(self, request, queryset):
        if self.value() not in (self.WITHIN, self.PAST):
            return queryset
        past = sla_past_lookup(timezone.now())
        in_review = queryset.filter(status__in=SLA_STATUSES, review_started_at__isnull=False)
        return in_review.filter(past) if self.value() == self.PAST else in_review.exclude(past)


#: a partner ID is seven digits (``PARTNER_ID_PATTERN``): only such a term is looked for among them
PARTNER_ID_LENGTH = 7


def queue_search(queryset, search_term: str):
    """The queue's search: each term (a quoted one whole) narrows the list to the applications whose
    legal name, primary contact email or applicant's email address holds it, or whose partner ID (seven
    digits) or tenant ID (a UUID) it is. Each of these has its index (migration 0008; the applicant's
    address: accounts 0010), and the applicants found are a list of ids computed first
    (``InSubquery``), an index condition too: one term is one BitmapOr, so that a search reads the
    rows it finds, not the whole queue."""
    for term in search_terms(search_term):
        try:
            queryset = queryset.filter(tenant_id=uuid.UUID(term))
            continue
        except ValueError:
            pass
        applicants = get_user_model().objects.filter(email__icontains=term).order_by().values("pk")
        found = (
            Q(legal_name__icontains=term)
            | Q(contact_email__icontains=term)
            | Q(InSubquery("applicant_id", applicants))
        )
        if term.isascii() and term.isdigit() and len(term) == PARTNER_ID_LENGTH:
            found |= Q(partner_id=term)
        queryset = queryset.filter(found)
    return queryset


class ReviewQueueChangeList(KeysetChangeList):
    """The queue's changelist: one keyset page (``self.page``, a ``portal.lists.KeysetPage``) of the
    filtered and searched applications, in the queue's order (``keyset_ordering`` of the admin:
    ``QUEUE_ORDERING``), never counted (``portal.admin.KeysetChangeList``)."""

    def apply_select_related(self, qs):
        # The rows show the applicant and nothing else related: not the joins of the application's page.
        return qs.select_related(None).select_related(*self.list_select_related)
