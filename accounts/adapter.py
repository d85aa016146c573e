"""allauth, adapted: its emails go through the outbox, in the recipient's language, with links built
from SITE_URL rather than from the request's Host header."""

from types import SimpleNamespace
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import record_authentication
from allauth.core import context as allauth_context
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation

from accounts.services.people import email_language
from portal.branding import program_name_lazy
from portal.mail import sealing
from portal.mail.services import email_enqueue_rendered, text_render

# What opens something in allauth's emails: a verification or sign-in code, a confirmation or password
# reset key and the links built from them. Stored sealed in the outbox (portal.mail.sealing).
SECRET_CONTEXT_KEYS = ("code", "key", "token", "activate_url", "password_reset_url")


def _site_links(context: dict, request) -> dict:
    """Rebase absolute links that allauth built from the request onto the configured SITE_URL."""
    if request is None:
        return context
    request_base = f"{request.scheme}://{request.get_host()}"
    rebased = {}
    for key, value in context.items():
        if isinstance(value, str) and value.startswith(request_base + "/"):
            value = settings.SITE_URL + value[len(request_base) :]
        rebased[key] = value
    return rebased


class PortalAccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        """A new user keeps the language they signed up in, for pages and for emails."""
        language = translation.get_language()
        if language in dict(settings.LANGUAGES):
            user.preferred_language = language
        return super().save_user(request, user, form, commit=commit)

    def post_login(self, request, user, *, signup: bool, **kwargs):
        """Someone who has just signed up typed their password moments ago: count that as a fresh
        confirmation, so that turning on two-factor authentication right away does not ask for it again
        (allauth's usual reauthentication window still applies)."""
        if signup and user.has_usable_password():
            record_authentication(request, user, method="password", reauthenticated=True)
        return super().post_login(request, user, signup=signup, **kwargs)

    def render_mail(self, template_prefix, email, context, headers=None):
        """allauth's emails, with the subject and text part rendered as plain text (never HTML-escaped)."""
        subject = " ".join(text_render(f"{template_prefix}_subject.txt", context).split())
        body = text_render(f"{template_prefix}_message.txt", context).strip()
        message = EmailMultiAlternatives(
            self.format_email_subject(subject), body, self.get_from_email(), [email], headers=headers
        )
        try:
            html = render_to_string(f"{template_prefix}_message.html", context).strip()
        except TemplateDoesNotExist:
            html = ""
        if html:
            message.attach_alternative(html, "text/html")
        return message

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        request = allauth_context.request
        site = SimpleNamespace(name=program_name_lazy, domain=urlsplit(settings.SITE_URL).hostname or "")
        base = {"request": request, "email": email, "current_site": site}
        full_context, secrets = sealing.context_sealed(
            _site_links({**base, **context}, request), SECRET_CONTEXT_KEYS
        )
        language = email_language(email)
        with translation.override(language):
            message = self.render_mail(template_prefix, email, full_context)
        html = next(
            (
                content
                for content, mimetype in getattr(message, "alternatives", [])
                if mimetype == "text/html"
            ),
            "",
        )
        email_enqueue_rendered(
            to=email,
            subject=message.subject,
            body_text=message.body,
            body_html=html,
            language=language,
            template=template_prefix,
            secrets=secrets,
        )
