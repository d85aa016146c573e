"""Load the demo data of every app (its ``demo.load()``), idempotently, and print the logins."""

from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction


class Command(BaseCommand):
    help = "Create or refresh the demo organizations and users, and print their logins."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("Demo data is never loaded in production.")
        logins: list[tuple[str, str, str]] = []
        with transaction.atomic():
            for app_config in apps.get_app_configs():
                module_name = f"{app_config.name}.demo"
                if find_spec(module_name) is None:
                    continue
                logins.extend(import_module(module_name).load())
        self.stdout.write(self.style.SUCCESS("Demo data is ready. Logins:"))
        width = max((len(email) for email, _, _ in logins), default=10)
        for email, password, role in logins:
            self.stdout.write(f"  {email.ljust(width)}  {password}  {role}")
