"""allauth's own words that our glossary translates differently from allauth's Japanese catalogue.

allauth's catalogue says ログイン / ログアウト / ユーザー登録 where the portal says
サインイン / サインアウト / サインアップ. Listing the msgids here puts them in our catalogue
(``locale/ja``), which Django consults before allauth's, so that every page a user meets uses one word for
each. Each msgid must match allauth's exactly (``tests/accounts/test_newcomer_wording.py`` renders the
pages and checks the result).
"""

from django.utils.translation import gettext_noop, pgettext_lazy

ALLAUTH_TERMS = [
    # Headings, buttons and links of the sign-in, sign-up and sign-out pages.
    gettext_noop("Sign In"),
    gettext_noop("Sign Up"),
    gettext_noop("Signup"),
    gettext_noop("Sign Out"),
    gettext_noop("Sign Out Other Sessions"),
    gettext_noop("Are you sure you want to sign out?"),
    gettext_noop("Remember Me"),
    pgettext_lazy("field label", "Login"),
    gettext_noop("If you have not created an account yet, then please %(link)ssign up%(end_link)s first."),
    gettext_noop("Already have an account? Then please %(link)ssign in%(end_link)s."),
    gettext_noop("Sign in with a passkey"),
    gettext_noop("Sign up using a passkey"),
    gettext_noop("Passkey Sign Up"),
    gettext_noop("Send me a sign-in code"),
    gettext_noop("Enter Sign-In Code"),
    gettext_noop("Sign-In Code"),
    gettext_noop("Other sign-in options"),
    gettext_noop("You will receive a special code for a password-free sign-in."),
    gettext_noop("Your sign-in code is listed below. Please enter it in your open browser window."),
    gettext_noop("Sign Up Closed"),
    gettext_noop("We are sorry, but the sign up is currently closed."),
    gettext_noop(
        "We have sent an email to you for verification. Follow the link provided to finalize the signup "
        "process. If you do not see the verification email in your main inbox, check your spam folder. "
        "Please contact us if you do not receive the verification email within a few minutes."
    ),
    gettext_noop(
        "If you choose to trust this browser, you will not be asked for a verification code the next time "
        "you sign in."
    ),
    # Errors and messages shown on those pages.
    gettext_noop("Invalid login."),
    gettext_noop("Too many failed login attempts. Try again later."),
    gettext_noop("Successfully signed in as %(name)s."),
    gettext_noop("You have signed out."),
    gettext_noop("A sign-in code has been sent to %(recipient)s."),
    gettext_noop("You are already logged in as %(user_display)s."),
    gettext_noop("Signed out of all other sessions."),
]
