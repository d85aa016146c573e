from django.core.management.base import BaseCommand
from django.db import transaction

from portal.mail.services import email_enqueue


class Command(BaseCommand):
    help = "Put a test email in the outbox, to check outgoing email end to end."

    def add_arguments(self, parser):
        parser.add_argument("to")
        parser.add_argument("--language", default="en", choices=["en", "ja"])

    def handle(self, *args, to, language, **options):
        with transaction.atomic():
            email = email_enqueue(to=to, template="test_message", context={}, language=language)
        self.stdout.write(f"Queued {email.pk} for {to}")
