"""The public page where a user added to a built-in tenant by an administrator chooses a password.

The emailed link (``/directory/setup/<token>/``) is looked up once; its token's hash goes into the
server-side session and the browser moves on, with no referrer, to the same page without the token
(``/directory/setup/set-password/``), where the form is. So the token is neither in the address of the
page that shows the form nor sent as a referrer from it, and the form posts with the page's ordinary
referrer policy: under ``no-referrer`` browsers send ``Origin: null`` with a POST, which CSRF protection
rightly refuses (Django's own password-reset confirmation does the same for the same reasons).

The service decides (``accounts.services.directory``): whether the link is valid (unused, unexpired, the
user active), the password rules, and using the link up. The token is never logged here; the request
logs redact it (``portal.logging``). Every answer is never cached.
"""

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.services.directory import (
    SETUP_LINK_INVALID,
    directory_user_setup_complete,
    directory_user_setup_find,
)
from portal.errors import DomainError, form_add_domain_error
from portal.tokens import token_hash

#: The last segment of the page's address once the token is out of it (a token is never this word).
SETUP_CONTINUE = "set-password"
SESSION_KEY = "directory_user_setup"
TEMPLATE = "accounts/directory_user_setup.html"


class DirectoryUserSetupForm(forms.Form):
    """The new user's password, typed twice; the service checks the rules (``new_password_check``)."""

    password = forms.CharField(
        label=_("Password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_confirmation = forms.CharField(
        label=_("Password again"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password"].help_text = " ".join(password_validation.password_validators_help_texts())

    def clean(self):
        cleaned_data = super().clean()
        password = cleaned_data.get("password")
        confirmation = cleaned_data.get("password_confirmation")
        if password and confirmation and password != confirmation:
            self.add_error(
                "password_confirmation", _("The two passwords are different. Type the same password twice.")
            )
        return cleaned_data


def _no_referrer(response):
    response["Referrer-Policy"] = "no-referrer"
    return response


def _invalid(request):
    """The link does not open anything (any more): a page that says so, without a form."""
    request.session.pop(SESSION_KEY, None)
    response = render(request, TEMPLATE, {"state": "invalid", "problem": SETUP_LINK_INVALID}, status=404)
    return _no_referrer(response)


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def directory_user_setup(request, token):
    if token != SETUP_CONTINUE:
        # The emailed link: remember its token, move on to the address without it.
        if directory_user_setup_find(token) is None:
            return _invalid(request)
        # The session keeps the token's hash, never the token (it is stored nowhere else either).
        request.session[SESSION_KEY] = token_hash(token)
        return _no_referrer(redirect("accounts:directory_user_setup", token=SETUP_CONTINUE))

    hashed = request.session.get(SESSION_KEY) or ""
    directory_user = directory_user_setup_find(hashed=hashed)
    if directory_user is None:
        return _invalid(request)
    form = DirectoryUserSetupForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            directory_user = directory_user_setup_complete(
                hashed=hashed, password=form.cleaned_data["password"]
            )
        except DomainError as error:
            if error.field is None:  # the link was used a moment ago (another tab)
                return _invalid(request)
            form_add_domain_error(form, error)
        else:
            request.session.pop(SESSION_KEY, None)
            context = {"state": "done", "directory_user": directory_user}
            return _no_referrer(render(request, TEMPLATE, context))
    context = {"state": "form", "directory_user": directory_user, "form": form}
    return render(request, TEMPLATE, context, status=400 if form.is_bound else 200)
