"""The dev mailbox: program staff read captured outgoing email in the browser (embedded defaults)."""

from csp.decorators import csp_exempt
from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from portal.mail.models import OutboxEmail


def _require_enabled():
    if not settings.DEV_MAILBOX_ENABLED:
        raise Http404


@require_GET
@staff_member_required
def mailbox(request):
    _require_enabled()
    emails = OutboxEmail.objects.only("id", "to", "subject", "status", "language", "created_at").order_by(
        "-created_at"
    )
    page = Paginator(emails, 50).get_page(request.GET.get("page"))
    return render(request, "mail/mailbox.html", {"page": page})


@require_GET
@staff_member_required
def mailbox_email(request, email_id):
    _require_enabled()
    email = get_object_or_404(OutboxEmail, pk=email_id)
    return render(request, "mail/mailbox_email.html", {"email": email})


@require_GET
@staff_member_required
@csp_exempt()
def mailbox_email_html(request, email_id):
    """The HTML part as the recipient's mail client would show it, sandboxed: no scripts, no forms."""
    _require_enabled()
    email = get_object_or_404(OutboxEmail, pk=email_id)
    response = HttpResponse(email.body_html or "", content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = (
        "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
    )
    response["X-Frame-Options"] = "SAMEORIGIN"
    return response
