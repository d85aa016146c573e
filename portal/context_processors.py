from django.conf import settings


def portal(request):
    return {
        "PROGRAM_NAME": settings.PROGRAM_NAME,
        "DEV_MAILBOX_ENABLED": settings.DEV_MAILBOX_ENABLED,
    }
