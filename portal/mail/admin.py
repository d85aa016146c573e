from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal.admin import ViewOnlyAdminMixin
from portal.mail import sealing
from portal.mail.models import OutboxEmail
from portal.mail.services import outbox_email_requeue


@admin.register(OutboxEmail)
class OutboxEmailAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Reviewers see what was sent to whom and whether it arrived; never a link token or a code: the text
    is shown with every secret replaced, and the sealed secrets themselves are never shown."""

    list_display = ["created_at", "to", "subject_shown", "language", "status", "attempts", "sent_at"]
    list_filter = ["status", "language", "template"]
    search_fields = ["to", "subject", "dedupe_key", "id"]
    date_hierarchy = "created_at"
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
