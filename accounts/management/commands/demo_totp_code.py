"""Print the current two-factor code of a demo user, so the demo reviewer can sign in without a phone."""

import time

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import hotp_value
from allauth.mfa.utils import decrypt
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Print the current TOTP code of a demo user (development only)."

    def add_arguments(self, parser):
        parser.add_argument("email", nargs="?", default="reviewer@demo.example")

    def handle(self, *args, email, **options):
        if settings.PRODUCTION or not email.endswith("@demo.example"):
            raise CommandError("Only for demo users, outside production.")
        authenticator = Authenticator.objects.filter(user__email=email, type=Authenticator.Type.TOTP).first()
        if authenticator is None:
            raise CommandError(f"{email} has no authenticator app set up.")
        secret = decrypt(authenticator.data["secret"])
        counter = int(time.time()) // mfa_settings.TOTP_PERIOD
        self.stdout.write(str(hotp_value(secret, counter)).zfill(mfa_settings.TOTP_DIGITS))
