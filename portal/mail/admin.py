from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal.admin import ViewOnlyAdminMixin
from portal.mail.models import OutboxEmail
from portal.mail.services import outbox_email_requeue


@admin.register(OutboxEmail)
class OutboxEmailAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "to", "subject", "language", "status", "attempts", "sent_at"]
    list_filter = ["status", "language", "template"]
    search_fields = ["to", "subject", "dedupe_key", "id"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in OutboxEmail._meta.fields] + ["message_id"]
    actions = ["send_again"]

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
