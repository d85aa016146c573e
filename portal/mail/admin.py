"""The review site's outbox: millions of emails, a keyset list newest first
(``portal.admin.KeysetChangeList``) that is never counted. Each filter and the search are index seeks
ending in (created_at, id) (migration 0004): a status, a template, an exact recipient; the language (two of
them) reads the newest emails until a page is full. The template filter offers the templates that exist,
never a scan of the rows.
"""

import uuid
from functools import cache

from django.conf import settings
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal.admin import KeysetAdminMixin, ViewOnlyAdminMixin
from portal.mail import sealing
from portal.mail.models import OutboxEmail
from portal.mail.services import outbox_email_requeue


@cache
def email_templates() -> list[str]:
    """The emails the portal can send: the folders of ``templates/email/`` (portal.mail.services)."""
    folder = settings.BASE_DIR / "templates" / "email"
    return sorted(path.name for path in folder.iterdir() if path.is_dir())


class TemplateListFilter(admin.SimpleListFilter):
    title = _("template")
    parameter_name = "template"

    def lookups(self, request, model_admin):
        return [(name, name) for name in email_templates()]

    def queryset(self, request, queryset):
        return queryset.filter(template=self.value()) if self.value() else queryset


@admin.register(OutboxEmail)
class OutboxEmailAdmin(KeysetAdminMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """Reviewers see what was sent to whom and whether it arrived; never a link token or a code: the text
    is shown with every secret replaced, and the sealed secrets themselves are never shown."""

    list_display = ["created_at", "to", "subject_shown", "language", "status", "attempts", "sent_at"]
    list_filter = ["status", "language", TemplateListFilter]
    search_fields = ["to"]  # the search itself: get_search_results
    search_help_text = _("Search by an exact recipient address or an outbox email's ID.")
    keyset_ordering = ("-created_at", "-id")
    fields = [
        "id",
        "created_at",
        "to",
        "from_email",
        "reply_to",
        "subject_shown",
        "text_shown",
        "language",
        "template",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
        "message_id_shown",
    ]
    readonly_fields = fields
    actions = ["send_again"]

    def get_search_results(self, request, queryset, search_term):
        """One exact term: an outbox email's ID, else a recipient address as it was written."""
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(pk=uuid.UUID(term)), False
        except ValueError:
            return queryset.filter(to=term), False

    @admin.display(description=_("subject"))
    def subject_shown(self, email: OutboxEmail) -> str:
        return sealing.redacted(email.subject)

    @admin.display(description=_("Message-ID header"))
    def message_id_shown(self, email: OutboxEmail) -> str:
        return email.message_id

    @admin.display(description=_("text body"))
    def text_shown(self, email: OutboxEmail) -> str:
        return sealing.redacted(email.body_text)

    @admin.action(description=_("Send failed emails again"), permissions=["view"])
    def send_again(self, request, queryset):
        requeued = sum(
            outbox_email_requeue(email=email, by=request.user)
            for email in queryset.filter(status=OutboxEmail.Status.DEAD)
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d email will be sent again.",
                "%(count)d emails will be sent again.",
                requeued,
            )
            % {"count": requeued},
            messages.SUCCESS if requeued else messages.WARNING,
        )
