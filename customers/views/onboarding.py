"""Creating the customer organization, for an invitation's recipient who administers none yet.

Two steps on one page (``customers:onboarding``): the directory tenant, through the same ways as the
enrollment wizard (sign in as a Global Administrator of a built-in tenant, **Create a new tenant**, or
Microsoft Entra ID when configured), then the organization (legal name, country, the country's address
fields). The verified tenant waits in the session (``VerifiedTenant.as_dict``) until the organization is
created; ``customer_organization_create`` decides, and nothing is saved until it says yes. ``next`` (a
path of this site only, such as the invitation page) is where the person goes afterwards.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_countries import countries

from accounts.models import DirectoryTenantSource
from customers.customer_forms import CustomerOrganizationForm
from customers.services.acceptance import customer_organization_create
from enrollment.directory.base import VerifiedTenant
from enrollment.directory.builtin import builtin_sign_in, builtin_tenant_create_verified
from enrollment.directory.entra import entra_configured, entra_sign_in_start
from enrollment.forms import TenantCreateForm, TenantSignInForm, country_choices
from portal.errors import DomainError, form_add_domain_error

#: the verified tenant between the steps (``VerifiedTenant.as_dict()``)
TENANT_SESSION_KEY = "customers:onboarding_tenant"
#: where to go once the organization exists (a path of this site)
NEXT_SESSION_KEY = "customers:onboarding_next"
#: set before the Microsoft Entra ID round trip; enrollment's callback then comes back here
ENTRA_SESSION_KEY = "customers:entra_onboarding"


def _domain_suffix() -> str:
    return settings.BUILTIN_DIRECTORY_DOMAIN_SUFFIX


def _safe_next(request, candidate: str | None) -> str | None:
    """``candidate`` when it is a path of this site (never another host, never ``//host``)."""
    if not candidate or not candidate.startswith("/") or candidate.startswith("//"):
        return None
    allowed = url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return candidate if allowed else None


def _remember_next(request) -> None:
    next_url = _safe_next(request, request.GET.get("next"))
    if next_url:
        request.session[NEXT_SESSION_KEY] = next_url


def _verified_tenant(request) -> VerifiedTenant | None:
    data = request.session.get(TENANT_SESSION_KEY)
    if not data:
        return None
    try:
        return VerifiedTenant.from_dict(data)
    except (KeyError, TypeError, ValueError):
        request.session.pop(TENANT_SESSION_KEY, None)
        return None


def _tenant_keep(request, verified: VerifiedTenant) -> None:
    request.session[TENANT_SESSION_KEY] = verified.as_dict()


def _country_name(code: str) -> str:
    return str(countries.name(code)) if code else ""


def _tenant_summary(verified: VerifiedTenant) -> dict[str, Any]:
    """The verified tenant as templates/enrollment/_wizard_tenant.html shows it."""
    source = verified.source
    return {
        "name": verified.display_name,
        "country": _country_name(verified.country),
        "domains": verified.verified_domains,
        "admin": verified.admin.user_principal_name,
        "source": DirectoryTenantSource(source).label if source in DirectoryTenantSource.values else source,
        "country_declared": False,
    }


def _organization_form(verified: VerifiedTenant, data=None, *, country: str = "", initial=None):
    return CustomerOrganizationForm(
        data,
        country=country or verified.country,
        tenant_country=verified.country,
        initial=initial
        if initial is not None
        else {"legal_name": verified.display_name, "country": verified.country},
    )


def _page(request, *, status: int = 200, **context):
    """The onboarding page: the tenant step, or the verified tenant and the organization's form."""
    verified = _verified_tenant(request)
    context.setdefault("sign_in_form", TenantSignInForm(domain_suffix=_domain_suffix()))
    if verified is not None:
        context.setdefault("organization_form", _organization_form(verified))
        context["tenant"] = _tenant_summary(verified)
    context.update(
        entra_enabled=entra_configured(),
        cancel_url=request.session.get(NEXT_SESSION_KEY) or reverse("dashboard"),
    )
    return render(request, "customers/onboarding.html", context, status=status)


# --- The page, and the organization --------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def organization_create(request):
    """GET: the page. POST: create the organization (or, ``tenant_forget``, go back to the tenant step)."""
    if request.method == "GET":
        _remember_next(request)
        return _page(request)
    if "tenant_forget" in request.POST:
        request.session.pop(TENANT_SESSION_KEY, None)
        return redirect("customers:onboarding")
    verified = _verified_tenant(request)
    if verified is None:
        messages.error(request, _("Verify your organization's directory tenant first."))
        return redirect("customers:onboarding")
    valid_countries = {code for code, _name in country_choices() if code}
    built_for = str(request.POST.get("address_country") or "").upper()
    form = _organization_form(
        verified, request.POST, country=built_for if built_for in valid_countries else verified.country
    )
    if form.country_changed():
        # Another country asks for other address fields: show them, keeping what was typed.
        chosen = str(request.POST.get("country")).upper()
        initial = {name: request.POST.get(name, "") for name in form.fields if name != "address_country"}
        form = _organization_form(verified, country=chosen, initial={**initial, "country": chosen})
        return _page(request, organization_form=form, country_changed=_country_name(chosen))
    if form.is_valid():
        try:
            organization = customer_organization_create(
                user=request.user,
                legal_name=form.cleaned_data["legal_name"],
                country=form.cleaned_data["country"],
                address=form.address_values(),
                verified=verified,
            )
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            request.session.pop(TENANT_SESSION_KEY, None)
            next_url = _safe_next(request, request.session.pop(NEXT_SESSION_KEY, None))
            messages.success(
                request,
                _("Your organization %(organization)s was created, with you as its Global admin.")
                % {"organization": organization.legal_name},
            )
            if next_url:
                return HttpResponseRedirect(next_url)
            return redirect("accounts:organization_dashboard", organization_public_id=organization.public_id)
    return _page(request, organization_form=form, status=400)


# --- The directory tenant ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def tenant_sign_in(request):
    """Sign in as the Global Administrator of an existing built-in tenant (the form is on the page)."""
    if request.method == "GET":
        return redirect("customers:onboarding")
    form = TenantSignInForm(request.POST, domain_suffix=_domain_suffix())
    if form.is_valid():
        try:
            verified = builtin_sign_in(
                user_principal_name=form.cleaned_data["user_principal_name"],
                password=form.cleaned_data["password"],
                client_key=f"user:{request.user.pk}",
            )
        except DomainError as error:
            form_add_domain_error(form, error)
        else:
            _tenant_keep(request, verified)
            messages.success(
                request, _("You signed in to the tenant %(tenant)s.") % {"tenant": verified.display_name}
            )
            return redirect("customers:onboarding")
    return _page(request, sign_in_form=form, status=400)


@require_http_methods(["GET", "POST"])
def tenant_create(request):
    """**Create a new tenant** in the built-in directory, with the user as its Global Administrator."""
    form = TenantCreateForm(request.POST or None, domain_suffix=_domain_suffix())
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                verified = builtin_tenant_create_verified(**form.tenant_values(), by_user=request.user)
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                _tenant_keep(request, verified)
                messages.success(
                    request,
                    _(
                        "Your tenant %(tenant)s was created. Its global administrator, you, signs in as "
                        "%(account)s: note this name with your password."
                    )
                    % {"tenant": verified.display_name, "account": verified.admin.user_principal_name},
                )
                return redirect("customers:onboarding")
    context = {"form": form, "domain_suffix": _domain_suffix()}
    return render(request, "customers/onboarding_tenant_create.html", context, status=status)


@require_POST
def tenant_entra(request):
    """Send the browser to Microsoft's sign-in; enrollment's callback brings the tenant back here."""
    request.session[ENTRA_SESSION_KEY] = "1"
    try:
        sign_in_url = entra_sign_in_start(
            session=request.session,
            redirect_uri=settings.SITE_URL + reverse("enrollment:entra_callback"),
        )
    except DomainError as error:
        request.session.pop(ENTRA_SESSION_KEY, None)
        messages.error(request, error.message)
        return redirect("customers:onboarding")
    return HttpResponseRedirect(sign_in_url)
