"""allauth's sign-up form, made to cost the same whether or not the address is already registered."""

from allauth.account.forms import SignupForm as AllauthSignupForm
from django.contrib.auth.hashers import make_password


class SignupForm(AllauthSignupForm):
    def try_save(self, request):
        if self.account_already_exists:
            # A new account costs one password hash; without this the "already registered" answer came
            # back ~100 ms sooner and told anyone which addresses have accounts. The hash is discarded.
            make_password(self.cleaned_data.get("password1"))
        return super().try_save(request)
