"""Program staff (reviewers) must use two-factor authentication: allauth has no such switch."""

from allauth.mfa.utils import is_mfa_enabled
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

ALLOWED_WITHOUT_MFA = ("/accounts/", "/language/", "/static/", "/healthz", "/readyz")


class StaffMfaRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.is_staff
            and not request.path.startswith(ALLOWED_WITHOUT_MFA)
            and not is_mfa_enabled(user)
        ):
            next_url = urlencode({"next": request.get_full_path()})
            return redirect(reverse("mfa_activate_totp") + "?" + next_url)
        return self.get_response(request)
