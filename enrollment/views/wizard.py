"""The enrollment wizard, from "Before you begin" to **Enroll now**.

Every page of an application resolves it through ``application_get`` (someone else's is a 404) and, once
it is no longer a draft, sends the applicant to its status page. Each step calls one service and shows
its refusal at the field it names; nothing here decides what is allowed.

Steps: the directory tenant (sign in to a built-in tenant, **Create a new tenant**, or Microsoft Entra ID
when configured, then its country when Entra did not say it), the partner-membership sign-in and the
choice of a profile, the organization details, and the review.
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_countries import countries

from accounts.models import DirectoryTenantSource
from enrollment.directory.base import StateMismatch
from enrollment.directory.builtin import builtin_sign_in
from enrollment.directory.entra import entra_configured, entra_sign_in_finish, entra_sign_in_start
from enrollment.directory.tenants import tenant_check_available
from enrollment.forms import (
    DetailsForm,
    MembershipSignInForm,
    ProfileChoiceForm,
    TenantCountryForm,
    TenantCreateForm,
    TenantSignInForm,
)
from enrollment.models import ApplicationStatus, EnrollmentApplication, MembershipAccount
from enrollment.selectors import application_get, membership_account_signed_in, membership_profiles_for
from enrollment.services.applications import (
    application_details_set,
    application_draft_start,
    application_open_for,
    application_profile_choose,
    application_submit,
    application_tenant_country_set,
    application_tenant_create,
    application_tenant_set,
    missing_steps,
    tenant_country_needed,
)
from enrollment.services.membership_accounts import membership_sign_in
from enrollment.validation.address import region_label
from enrollment.validation.phone import phone_number_display
from portal.errors import DomainError, form_add_domain_error

#: The session key that carries the application across the Microsoft Entra ID round trip.
ENTRA_APPLICATION_SESSION_KEY = "enrollment:entra_application"
#: Set by customers.views.onboarding, which uses the same round trip for a customer organization's tenant:
#: the callback then keeps the verified tenant in the session (under the second key) for that page.
CUSTOMER_ONBOARDING_ENTRA_SESSION_KEY = "customers:entra_onboarding"
CUSTOMER_ONBOARDING_TENANT_SESSION_KEY = "customers:onboarding_tenant"
TRACKER = "enrollment:application"

STEPS = (
    ("tenant", gettext_lazy("Directory tenant")),
    ("membership", gettext_lazy("Partner membership")),
    ("details", gettext_lazy("Organization details")),
    ("review", pgettext_lazy("enrollment step", "Review")),
)

#: The profile-step refusals that come with "Cancel / Sign in with another account".
PROFILE_REFUSALS = ("country_mismatch", "partner_id_in_use")


def membership_session_key(application: EnrollmentApplication) -> str:
    """Where the session keeps the membership account signed in for this application (its pk)."""
    return f"enrollment:{application.public_id}:membership_account"


def draft_step(view):
    """Resolve the applicant's own application from the URL (404 otherwise); one that is no longer a
    draft has its status page instead of the wizard. It goes outside the method check, so that another
    user's application is a 404 whatever the method."""

    @functools.wraps(view)
    def wrapper(request, application_id):
        application = application_get(applicant=request.user, public_id=application_id)
        if application.status != ApplicationStatus.DRAFT:
            return redirect(TRACKER, application_id=application.public_id)
        return view(request, application)

    return wrapper


def _tenant_done(application: EnrollmentApplication) -> bool:
    """A tenant is verified and its country known (or not the applicant's to give)."""
    return bool(application.tenant_id) and not tenant_country_needed(application)


def _steps_done(application: EnrollmentApplication) -> dict[str, bool]:
    tenant = _tenant_done(application)
    membership = bool(application.partner_id)
    return {
        "tenant": tenant,
        "membership": membership,
        "details": tenant and membership and not missing_steps(application),
        "review": False,
    }


def next_step_url(application: EnrollmentApplication) -> str:
    """The first step still to do (the status page once submitted)."""
    if application.status != ApplicationStatus.DRAFT:
        return reverse(TRACKER, args=[application.public_id])
    done = _steps_done(application)
    step = next(key for key, _label in STEPS if not done[key])
    return reverse(f"enrollment:{step}", args=[application.public_id])


def _redirect_to_next_step(application: EnrollmentApplication) -> HttpResponseRedirect:
    return HttpResponseRedirect(next_step_url(application))


def _steps(application: EnrollmentApplication, current: str) -> list[dict[str, Any]]:
    done = _steps_done(application)
    return [
        {
            "number": number,
            "key": key,
            "label": label,
            "done": done[key],
            "current": key == current,
            "url": reverse(f"enrollment:{key}", args=[application.public_id]),
        }
        for number, (key, label) in enumerate(STEPS, start=1)
    ]


def _render(request, template: str, application: EnrollmentApplication, step: str, **context):
    context.update(application=application, steps=_steps(application, step), step=step)
    return render(request, f"enrollment/{template}", context)


def _country_name(code: str) -> str:
    return str(countries.name(code)) if code else ""


def _tenant_summary(application: EnrollmentApplication) -> dict[str, Any] | None:
    if not application.tenant_id:
        return None
    admin = application.tenant.get("admin", {})
    source = application.tenant_source
    return {
        "name": application.tenant_name,
        "country": _country_name(application.tenant_country),
        "domains": application.tenant_domains,
        "admin": admin.get("user_principal_name", ""),
        "source": DirectoryTenantSource(source).label if source in DirectoryTenantSource.values else source,
        "country_declared": application.tenant_country_declared,
    }


# --- 1. Before you begin -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def start(request):
    """What the applicant needs; **Next** starts a draft (or continues the open application)."""
    if request.method == "POST":
        application = application_draft_start(applicant=request.user)
        return _redirect_to_next_step(application)
    open_application = application_open_for(request.user)
    context = {"open_application": open_application}
    if open_application is not None:
        context["continue_url"] = next_step_url(open_application)
        context["is_draft"] = open_application.status == ApplicationStatus.DRAFT
    return render(request, "enrollment/start.html", context)


# --- 2. The directory tenant -------------------------------------------------------------------------------


def _domain_suffix() -> str:
    return settings.BUILTIN_DIRECTORY_DOMAIN_SUFFIX


@draft_step
@require_http_methods(["GET", "POST"])
def tenant_step(request, application):
    """Sign in as the global administrator of a built-in tenant; or go create one, or use Entra ID."""
    form = TenantSignInForm(request.POST or None, domain_suffix=_domain_suffix())
    if request.method == "POST" and form.is_valid():
        try:
            verified = builtin_sign_in(
                user_principal_name=form.cleaned_data["user_principal_name"],
                password=form.cleaned_data["password"],
                client_key=f"user:{request.user.pk}",
            )
            application = application_tenant_set(
                application=application, applicant=request.user, verified=verified
            )
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            messages.success(
                request, _("You signed in to the tenant %(tenant)s.") % {"tenant": application.tenant_name}
            )
            return redirect("enrollment:tenant", application_id=application.public_id)
    return _tenant_page(request, application, form=form)


def _tenant_page(
    request,
    application: EnrollmentApplication,
    *,
    form: TenantSignInForm | None = None,
    country_form: TenantCountryForm | None = None,
):
    """The tenant step: the verified tenant (with its country to give, when Entra did not say it), and the
    ways to verify another."""
    country_needed = tenant_country_needed(application)
    if form is None:
        form = TenantSignInForm(domain_suffix=_domain_suffix())
    if country_form is None and country_needed:
        country_form = TenantCountryForm()
    return _render(
        request,
        "tenant.html",
        application,
        "tenant",
        form=form,
        tenant=_tenant_summary(application),
        country_needed=country_needed,
        country_form=country_form,
        entra_enabled=entra_configured(),
    )


@draft_step
@require_POST
def tenant_country_step(request, application):
    """The country of a Microsoft Entra ID tenant whose directory did not say it, given by the applicant
    (the form is on the tenant page)."""
    form = TenantCountryForm(request.POST)
    if form.is_valid():
        try:
            application = application_tenant_country_set(
                application=application, country=form.cleaned_data["country"], by=request.user
            )
        except DomainError as error:
            if error.field not in form.fields:
                # Not the country's fault (already known, or not an Entra tenant): the tenant page says why.
                messages.error(request, error.message)
                return redirect("enrollment:tenant", application_id=application.public_id)
            form_add_domain_error(form, error)
        else:
            messages.success(
                request,
                _("Your tenant's country is recorded: %(country)s.")
                % {"country": _country_name(application.tenant_country)},
            )
            return redirect("enrollment:membership", application_id=application.public_id)
    return _tenant_page(request, application, country_form=form)


@draft_step
@require_http_methods(["GET", "POST"])
def tenant_create_step(request, application):
    """**Create a new tenant** in the built-in directory, with the applicant as its global administrator."""
    form = TenantCreateForm(request.POST or None, domain_suffix=_domain_suffix())
    if request.method == "POST" and form.is_valid():
        try:
            application = application_tenant_create(
                application=application, applicant=request.user, **form.tenant_values()
            )
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            messages.success(
                request,
                _(
                    "Your tenant %(tenant)s was created. Its global administrator, you, signs in as "
                    "%(account)s: note this name with your password."
                )
                % {
                    "tenant": application.tenant_name,
                    "account": application.tenant.get("admin", {}).get("user_principal_name", ""),
                },
            )
            return redirect("enrollment:tenant", application_id=application.public_id)
    return _render(
        request,
        "tenant.html",
        application,
        "tenant",
        creating=True,
        form=form,
        domain_suffix=_domain_suffix(),
    )


@draft_step
@require_POST
def tenant_entra_start(request, application):
    """Send the browser to Microsoft's sign-in; the callback finds the application in the session."""
    request.session[ENTRA_APPLICATION_SESSION_KEY] = str(application.public_id)
    request.session.pop(CUSTOMER_ONBOARDING_ENTRA_SESSION_KEY, None)  # the newer sign-in wins
    try:
        sign_in_url = entra_sign_in_start(
            session=request.session,
            redirect_uri=settings.SITE_URL + reverse("enrollment:entra_callback"),
        )
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("enrollment:tenant", application_id=application.public_id)
    return HttpResponseRedirect(sign_in_url)


@require_GET
def tenant_entra_callback(request):
    """Microsoft's redirect back: verify the global administrator, then link the tenant to the draft."""
    if request.session.pop(CUSTOMER_ONBOARDING_ENTRA_SESSION_KEY, None):
        try:
            verified = entra_sign_in_finish(session=request.session, query_params=request.GET)
            tenant_check_available(verified.tenant_id)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            request.session[CUSTOMER_ONBOARDING_TENANT_SESSION_KEY] = verified.as_dict()
            messages.success(
                request, _("You signed in to the tenant %(tenant)s.") % {"tenant": verified.display_name}
            )
        return redirect("customers:onboarding")
    public_id = request.session.get(ENTRA_APPLICATION_SESSION_KEY)
    if not public_id:
        messages.error(request, StateMismatch.default_message)
        return redirect("enrollment:start")
    application = application_get(applicant=request.user, public_id=public_id)
    del request.session[ENTRA_APPLICATION_SESSION_KEY]
    if application.status != ApplicationStatus.DRAFT:
        return redirect(TRACKER, application_id=application.public_id)
    try:
        verified = entra_sign_in_finish(session=request.session, query_params=request.GET)
        application = application_tenant_set(
            application=application, applicant=request.user, verified=verified
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("You signed in to the tenant %(tenant)s.") % {"tenant": application.tenant_name}
        )
    return redirect("enrollment:tenant", application_id=application.public_id)


# --- 3. The partner-membership center ----------------------------------------------------------------------


def _membership_account(request, application: EnrollmentApplication) -> MembershipAccount | None:
    """The membership account signed in for this application in this session, while it is active."""
    account_pk = request.session.get(membership_session_key(application))
    if account_pk is None:
        return None
    return membership_account_signed_in(account_pk)


@draft_step
@require_http_methods(["GET", "POST"])
def membership_step(request, application):
    """Sign in to the partner-membership center, to list the profiles (partner IDs) of the account."""
    if not _tenant_done(application):
        return redirect("enrollment:tenant", application_id=application.public_id)
    form = MembershipSignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = membership_sign_in(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
                client_key=f"user:{request.user.pk}",
            )
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            request.session[membership_session_key(application)] = account.pk
            return redirect("enrollment:profile", application_id=application.public_id)
    return _render(
        request,
        "membership.html",
        application,
        "membership",
        form=form,
        account=_membership_account(request, application),
    )


@draft_step
@require_http_methods(["GET", "POST"])
def profile_step(request, application):
    """Choose the organization profile (partner ID) to link; it must be in the tenant's country."""
    if not _tenant_done(application):
        return redirect("enrollment:tenant", application_id=application.public_id)
    account = _membership_account(request, application)
    if account is None:
        return redirect("enrollment:membership", application_id=application.public_id)
    profiles = list(membership_profiles_for(account))
    form = ProfileChoiceForm(
        request.POST or None, profiles=profiles, initial={"partner_id": application.partner_id}
    )
    refusal = None
    if request.method == "POST" and form.is_valid():
        try:
            application = application_profile_choose(
                application=application,
                applicant=request.user,
                account=account,
                partner_id=form.cleaned_data["partner_id"],
            )
        except DomainError as error:
            if error.code == "tenant_missing":
                return redirect("enrollment:tenant", application_id=application.public_id)
            if error.code in PROFILE_REFUSALS:
                refusal = error.message
            else:
                form_add_domain_error(form, error)
        else:
            return redirect("enrollment:details", application_id=application.public_id)
    return _render(
        request,
        "profile.html",
        application,
        "membership",
        form=form,
        account=account,
        profiles=profiles,
        chosen=form["partner_id"].value() or "",
        refusal=refusal,
        tenant_country=_country_name(application.tenant_country),
    )


@draft_step
@require_POST
def membership_cancel(request, application):
    """Forget the membership account of this session, to sign in with another one."""
    request.session.pop(membership_session_key(application), None)
    return redirect("enrollment:membership", application_id=application.public_id)


# --- 4. The organization details ---------------------------------------------------------------------------


@draft_step
@require_http_methods(["GET", "POST"])
def details_step(request, application):
    """The legal business profile, primary contact and customer support contact (only the last on the
    short path of an already authorised partner)."""
    if not application.tenant_id or not application.partner_id:
        return _redirect_to_next_step(application)
    form = DetailsForm(request.POST or None, application=application)
    if request.method == "POST" and form.is_valid():
        try:
            application_details_set(
                application=application,
                applicant=request.user,
                values=form.details_values(),
                contact_language=form.cleaned_data.get("contact_language", ""),
            )
        except DomainError as error:
            form.add_domain_error(error)
        else:
            return redirect("enrollment:review", application_id=application.public_id)
    return _render(request, "details.html", application, "details", form=form)


# --- 5. Review, and Enroll now -----------------------------------------------------------------------------


def _phone(number: str, country: str) -> str:
    return phone_number_display(number, country=country) if number else ""


def _summary(application: EnrollmentApplication) -> dict[str, Any]:
    country = application.tenant_country
    profile = application.partner_profile
    language_names = dict(settings.LANGUAGES)
    return {
        "tenant": _tenant_summary(application),
        "profile": profile,
        "profile_country": _country_name(profile.country.code) if profile else "",
        "legal_name": application.legal_name,
        "address_lines": [line for line in (application.address_line1, application.address_line2) if line],
        "city": application.city,
        "region": region_label(application.region, country=country) if application.region else "",
        "postal_code": application.postal_code,
        "country": _country_name(country),
        "contact_name": application.contact_name,
        "contact_email": application.contact_email,
        "contact_phone": _phone(application.contact_phone, country),
        "contact_language": language_names.get(application.contact_language, ""),
        "support_email": application.support_email,
        "support_phone": _phone(application.support_phone, country),
        "support_website": application.support_website,
    }


@draft_step
@require_http_methods(["GET", "POST"])
def review_step(request, application):
    """Everything at a glance, what happens next, and **Enroll now**."""
    error = None
    if request.method == "POST":
        try:
            application = application_submit(application=application, applicant=request.user)
        except DomainError as refusal:
            error = refusal.message
        else:
            messages.success(
                request,
                _("Your application was submitted. We emailed %(email)s to confirm it.")
                % {"email": application.contact_email},
            )
            return redirect(TRACKER, application_id=application.public_id)
    return _render(
        request,
        "review.html",
        application,
        "review",
        summary=_summary(application),
        missing=missing_steps(application),
        error=error,
        review_days=settings.ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS,
    )
