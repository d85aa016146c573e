"""The editable email draft of an invitation that a partner sends to someone outside the portal.

A partner (a provider inviting a reseller; a reseller inviting a customer) gets the invitation's email
as a draft: a subject and a text, in the invitation's language, holding the personalised link. The
partner may edit it, then open it in its own mail app (``mailto_href``), copy it, or have the portal send
it (``draft_email``: the outbox, with the link stored sealed like every link). Whatever the partner
writes, the link must stay in the text (``draft_clean``). The page is ``templates/invitations/_draft.html``
with ``static/js/invitation-draft.js``; it is rendered only in the response to a POST and never cached,
because it shows the link.
"""

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from django import forms
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from portal.branding import program_name_lazy
from portal.errors import DomainError
from portal.mail import sealing
from portal.mail.models import OutboxEmail
from portal.mail.services import email_enqueue_rendered, text_render
from portal.text import text_clean
from portal.tokens import token_hash

#: a draft posted with a token that is no longer the invitation's (resent since, or forged)
STALE_DRAFT = _("This draft belongs to an older link. Resend the invitation to get a new draft.")


def draft_token_require(invitation, raw_token: str) -> None:
    """Refuse a draft whose hidden token is not the invitation's current link."""
    if not raw_token or token_hash(raw_token) != invitation.token_hash:
        raise DomainError(STALE_DRAFT, code="draft_stale")


SUBJECT_MAX = 200
BODY_MAX = 10_000
LINK_MISSING = _(
    "Keep the personalised link %(link)s in the message: without it the recipient cannot accept."
)


@dataclass(frozen=True)
class Draft:
    subject: str
    body: str
    link: str


def draft_render(*, template: str, context: dict, language: str, link: str) -> Draft:
    """``templates/email/<template>/{subject,body}.txt`` in ``language``, with ``link`` in the context."""
    context = {**context, "link": link, "PROGRAM_NAME": program_name_lazy, "SITE_URL": settings.SITE_URL}
    with translation.override(language):
        subject = " ".join(text_render(f"email/{template}/subject.txt", context).split())
        body = text_render(f"email/{template}/body.txt", context).strip() + "\n"
    return Draft(subject=subject, body=body, link=link)


def draft_clean(*, subject: str, body: str, link: str) -> tuple[str, str]:
    """The edited draft as it will be sent: one-line subject, bounded text, no control characters but
    line breaks, and the personalised link still in it (else a field error)."""
    subject = " ".join((subject or "").split())
    if not subject:
        raise DomainError(_("Write a subject."), code="required", field="subject")
    if len(subject) > SUBJECT_MAX:
        raise DomainError(
            _("Write at most %(count)d characters.") % {"count": SUBJECT_MAX},
            code="too_long",
            field="subject",
        )
    body = text_clean((body or "").replace("\r\n", "\n"), field="body", required=True, max_length=BODY_MAX)
    if link not in body:
        raise DomainError(LINK_MISSING % {"link": link}, code="link_missing", field="body")
    return subject, body + "\n"


def draft_email(
    *,
    to: str,
    link: str,
    raw_token: str,
    subject: str,
    body: str,
    language: str,
    template: str,
    organization_id: int | None,
    dedupe_key: str,
    reply_to: str = "",
) -> OutboxEmail:
    """Put the (cleaned) draft in this transaction's outbox; the link, and the token wherever else the
    sender copied it, are stored sealed."""
    return email_enqueue_rendered(
        to=to,
        subject=subject,
        body_text=body,
        language=language,
        template=template,
        secrets={sealing.placeholder_new(): link, sealing.placeholder_new(): raw_token},
        organization_id=organization_id,
        dedupe_key=dedupe_key,
        reply_to=reply_to,
    )


def mailto_href(*, to: str, subject: str, body: str) -> str:
    """A mailto: link (RFC 6068) that opens the draft in the sender's own mail app."""
    body = body.replace("\r\n", "\n").replace("\n", "\r\n")
    query = urlencode({"subject": subject, "body": body}, quote_via=quote)
    return f"mailto:{quote(to, safe='@')}?{query}"


class DraftForm(forms.Form):
    """The edited email and the link's token (a hidden field: the page already shows the link). Strings
    only: ``draft_clean``, called by the app's service, decides."""

    subject = forms.CharField(
        label=_("Subject"), required=False, widget=forms.TextInput(attrs={"maxlength": SUBJECT_MAX})
    )
    body = forms.CharField(
        label=_("Message"), required=False, strip=False, widget=forms.Textarea(attrs={"rows": 16})
    )
    token = forms.CharField(required=False, widget=forms.HiddenInput)
