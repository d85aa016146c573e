"""The whole first visit, in each language: sign up, verify the email by code, turn on an authenticator
app (without being asked for the password again), go on from the recovery codes, sign out, and sign back
in with a second factor — in real Chromium against the live server."""

import re
import time
import uuid

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import expect

from accounts.models import User
from portal.mail.models import OutboxEmail
from tests.mail import email_text
from tests.support.clock import frozen_clock, next_totp_step, totp_code

pytestmark = pytest.mark.browser

PASSWORD = "a-long-and-unusual-passphrase-42"
CODE_RE = re.compile(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}\b")

# What the pages say, per language: the portal's own catalogue (locale/ja) for the portal's pages and for
# the allauth words it overrides (accounts/allauth_terms.py), allauth's bundled catalogue for the rest.
TEXT = {
    "en": {
        "sign_up_link": "Sign up",
        "sign_in_link": "Sign in",
        "sign_out": "Sign out",
        "welcome": "Welcome",
        "signup_heading": "Sign Up",
        "code_heading": "Enter Email Verification Code",
        "confirm": "Confirm",
        "qr_alt": "QR code to scan with your authenticator app",
        "continue": "Continue",
        "activate_heading": "Activate Authenticator App",
        "activate": "Activate",
        "recovery_heading": "Recovery Codes",
        "login_heading": "Sign In",
        "mfa_heading": "Two-Factor Authentication",
        "totp_active": "Authentication using an authenticator app is active.",
    },
    "ja": {
        "sign_up_link": "サインアップ",
        "sign_in_link": "サインイン",
        "sign_out": "サインアウト",
        "welcome": "ようこそ",
        "signup_heading": "サインアップ",
        "code_heading": "メールの確認コードを入力:",
        "confirm": "確認する",
        "qr_alt": "認証アプリでスキャンする QR コード",
        "continue": "続行",
        "activate_heading": "認証アプリを有効化する",
        "activate": "有効化する",
        "recovery_heading": "リカバリーコード",
        "login_heading": "サインイン",
        "mfa_heading": "多要素認証",
        "totp_active": "認証アプリを使用した認証が有効です。",
    },
}


def field(page, name):
    return page.locator(f'input[name="{name}"]')


def heading(page, text):
    return page.get_by_role("heading", level=1, name=text, exact=True)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_sign_up_verify_enable_totp_and_sign_in_again(page, portal_url, language):
    text = TEXT[language]
    email = f"journey-{language}-{uuid.uuid4().hex[:10]}@example.com"
    html = page.locator("html")

    # 1. The home page, in the visitor's language.
    page.goto(portal_url + "/")
    if language == "ja":
        page.get_by_role("button", name="日本語").click()
    expect(html).to_have_attribute("lang", language)

    # 2. Sign up.
    page.get_by_role("link", name=text["sign_up_link"], exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    expect(heading(page, text["signup_heading"])).to_be_visible()
    field(page, "email").fill(email)
    field(page, "password1").fill(PASSWORD)
    field(page, "password2").fill(PASSWORD)
    page.get_by_role("button", name=text["signup_heading"], exact=True).click()

    # 3. The verification code arrives by email, in the page's language, and signs the user in.
    expect(heading(page, text["code_heading"])).to_be_visible()
    expect(html).to_have_attribute("lang", language)
    user = User.objects.get(email=email)
    assert user.preferred_language == language
    message = OutboxEmail.objects.filter(to=email).order_by("-created_at").first()
    assert message is not None
    assert message.language == language
    match = CODE_RE.search(email_text(message))
    assert match, email_text(message)
    field(page, "code").fill(match.group(0))
    page.get_by_role("button", name=text["confirm"], exact=True).click()

    expect(page).to_have_url(re.compile(r"/welcome/$"))
    expect(heading(page, text["welcome"])).to_be_visible()
    expect(html).to_have_attribute("lang", language)
    assert user.emailaddress_set.get(email=email).verified

    # 4. Turn on an authenticator app. Signing up a moment ago counts as a fresh confirmation of the
    # password, so the activation page opens at once; reloading it keeps the secret already scanned.
    page.goto(portal_url + "/accounts/2fa/totp/activate/")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/$"))
    expect(heading(page, text["activate_heading"])).to_be_visible()
    secret = page.locator("#authenticator_secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    expect(page.get_by_role("img", name=text["qr_alt"], exact=True)).to_be_visible()
    page.reload()
    assert page.locator("#authenticator_secret").input_value() == secret
    # The live server is a thread of this process: frozen_clock() stops its clock too, so the code is
    # made and checked at one instant and no 30 s step can end in between. That is what is wanted here;
    # Chromium keeps its own clock but has no part in the code, and Playwright's and the server's waits
    # run on the monotonic clock, which is not frozen. The clock runs again once the next page is shown.
    activated_at = time.time()
    with frozen_clock(activated_at):
        field(page, "code").fill(totp_code(secret))
        page.get_by_role("button", name=text["activate"], exact=True).click()
        expect(page).to_have_url(re.compile(r"/accounts/2fa/recovery-codes/$"))
    expect(heading(page, text["recovery_heading"])).to_be_visible()
    assert Authenticator.objects.filter(user__email=email, type=Authenticator.Type.TOTP).exists()
    stored = Authenticator.objects.get(user__email=email, type=Authenticator.Type.RECOVERY_CODES)
    shown = page.locator("#recovery_codes").input_value().split()
    assert shown == stored.wrap().get_unused_codes()
    assert len(shown) == 10
    # The codes are saved; Continue leads on to the dashboard (here: the welcome page).
    page.get_by_role("link", name=text["continue"], exact=True).click()
    expect(page).to_have_url(re.compile(r"/welcome/$"))
    page.goto(portal_url + "/accounts/2fa/")
    expect(heading(page, text["mfa_heading"])).to_be_visible()
    expect(page.get_by_text(text["totp_active"], exact=True)).to_be_visible()
    expect(html).to_have_attribute("lang", language)

    # 5. Sign out with the top bar's button.
    page.get_by_role("button", name=text["sign_out"], exact=True).click()
    expect(page).to_have_url(portal_url + "/")
    expect(page.get_by_role("link", name=text["sign_in_link"], exact=True).first).to_be_visible()
    expect(page.get_by_role("button", name=text["sign_out"], exact=True)).to_have_count(0)
    expect(html).to_have_attribute("lang", language)

    # 6. Sign in again: the password is not enough, the authenticator code is asked for.
    page.get_by_role("link", name=text["sign_in_link"], exact=True).first.click()
    expect(heading(page, text["login_heading"])).to_be_visible()
    field(page, "login").fill(email)
    field(page, "password").fill(PASSWORD)
    page.get_by_role("button", name=text["login_heading"], exact=True).click()

    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
    expect(heading(page, text["mfa_heading"])).to_be_visible()
    expect(page.get_by_role("button", name=text["sign_out"], exact=True)).to_have_count(0)
    # allauth takes each code once: sign in no earlier than the step after the activation's (up to 30 s
    # ahead of the real clock, for this one request), whose code differs from the one used to activate.
    with frozen_clock(max(time.time(), next_totp_step(activated_at))):
        field(page, "code").fill(totp_code(secret))
        page.get_by_role("button", name=text["login_heading"], exact=True).click()
        expect(page).to_have_url(re.compile(r"/welcome/$"))
    expect(heading(page, text["welcome"])).to_be_visible()
    expect(page.get_by_role("button", name=text["sign_out"], exact=True)).to_be_visible()
    expect(html).to_have_attribute("lang", language)
