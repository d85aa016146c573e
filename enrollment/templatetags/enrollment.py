"""Template tags for pages outside the enrollment app that show a person's enrollments.

``{% enrollment_applications_for user as applications %}`` gives ``applications.open`` (the one live
application, or None) and ``applications.past`` (the ended ones, newest first, at most ``PAST_SHOWN``);
``{% enrollment_application_url application %}`` is where its link goes: the wizard for a draft, the
status tracker otherwise; ``{{ e164|enrollment_phone:country }}`` shows a stored phone number as people of
that country read it.
"""

from dataclasses import dataclass, field

from django import template
from django.urls import reverse

from enrollment.models import ApplicationStatus, EnrollmentApplication
from enrollment.selectors import applications_of
from enrollment.validation.phone import phone_number_display

register = template.Library()

PAST_SHOWN = 5


@dataclass(frozen=True)
class ApplicantApplications:
    open: EnrollmentApplication | None = None
    past: list[EnrollmentApplication] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.open is not None or bool(self.past)


@register.simple_tag
def enrollment_applications_for(user) -> ApplicantApplications:
    if not getattr(user, "is_authenticated", False):
        return ApplicantApplications()
    # At most one application is live at a time (a database constraint), so a live one is the newest.
    applications = list(applications_of(user)[: PAST_SHOWN + 1])
    live = next((application for application in applications if application.is_live), None)
    past = [application for application in applications if not application.is_live][:PAST_SHOWN]
    return ApplicantApplications(open=live, past=past)


@register.simple_tag
def enrollment_application_url(application: EnrollmentApplication) -> str:
    if application.status == ApplicationStatus.DRAFT:
        return reverse("enrollment:review", kwargs={"application_id": application.public_id})
    return reverse("enrollment:application", kwargs={"application_id": application.public_id})


@register.filter
def enrollment_phone(e164: str, country: str) -> str:
    return phone_number_display(e164, country=country) if e164 else ""
