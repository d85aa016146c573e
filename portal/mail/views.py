"""The dev mailbox (development only): program staff read the emails the capture backend delivered.

In production these routes do not exist (portal/urls.py); with SMTP configured nothing is captured.
"""

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

from csp.decorators import csp_exempt
from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal.mail.backends import mailbox_dir

_NAME = re.compile(r"^\d{8}T\d{12}-(?P<id>[0-9a-f-]{32,36})\.eml$")


@dataclass(frozen=True)
class CapturedEmail:
    id: str
    message: EmailMessage

    @property
    def to(self) -> str:
        return str(self.message["To"] or "")

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def language(self) -> str:
        return str(self.message["Content-Language"] or "")

    @property
    def sender(self) -> str:
        return str(self.message["From"] or "")

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"] or "")

    @property
    def sent_at(self):
        return parsedate_to_datetime(self.message["Date"]) if self.message["Date"] else None

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        return body.get_content() if body is not None and body.get_content_subtype() == subtype else ""


def _require_enabled():
    if not settings.DEV_MAILBOX_ENABLED:
        raise Http404


def _captured_files() -> list:
    folder = mailbox_dir()
    if not folder.is_dir():
        return []
    return sorted((path for path in folder.iterdir() if _NAME.match(path.name)), reverse=True)


def _read(path) -> CapturedEmail:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    return CapturedEmail(id=_NAME.match(path.name)["id"], message=message)


def _captured(email_id) -> CapturedEmail:
    wanted = str(email_id)
    for path in _captured_files():
        if _NAME.match(path.name)["id"] == wanted:
            return _read(path)
    raise Http404


@require_GET
@staff_member_required
def mailbox(request):
    _require_enabled()
    page = Paginator(_captured_files(), 50).get_page(request.GET.get("page"))
    page.object_list = [_read(path) for path in page.object_list]
    return render(request, "mail/mailbox.html", {"page": page})


@require_GET
@staff_member_required
def mailbox_email(request, email_id):
    _require_enabled()
    email = _captured(email_id)
    return render(
        request,
        "mail/mailbox_email.html",
        {"email": email, "body_text": email.part("plain"), "has_html": bool(email.part("html"))},
    )


@require_GET
@staff_member_required
@csp_exempt()
def mailbox_email_html(request, email_id):
    """The HTML part as the recipient's mail client would show it, sandboxed: no scripts, no forms."""
    _require_enabled()
    email = _captured(email_id)
    response = HttpResponse(email.part("html"), content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = (
        "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
    )
    response["X-Frame-Options"] = "SAMEORIGIN"
    return response
