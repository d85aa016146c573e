"""allauth's two-factor forms, adjusted where allauth's behaviour confuses people."""

from allauth.mfa.totp import forms as allauth_totp_forms
from allauth.mfa.totp.internal import auth
from django import forms


class ActivateTOTPForm(allauth_totp_forms.ActivateTOTPForm):
    """The secret is made once per session, not on every page load: a reload keeps the QR code that the
    person may already have scanned, so the code their app shows still works."""

    def __init__(self, *args, **kwargs) -> None:
        self.user = kwargs.pop("user")
        forms.Form.__init__(self, *args, **kwargs)
        self.secret = auth.get_totp_secret(regenerate=False)
