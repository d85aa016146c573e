from django.conf import settings

from portal.branding import program_name


def portal(request):
    return {
        "PROGRAM_NAME": program_name(),
        "DEV_MAILBOX_ENABLED": settings.DEV_MAILBOX_ENABLED,
    }
