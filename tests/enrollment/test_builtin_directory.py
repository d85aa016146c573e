"""The built-in directory mode of the directory-tenant step: a Global Administrator's sign-in, or a new
tenant, both giving the same ``VerifiedTenant`` as the Microsoft Entra ID mode; an ordinary user, wrong
credentials and a tenant already linked to an organization are refused with the family's errors."""

import logging
import uuid

import pytest

from accounts.models import DirectoryTenant, DirectoryUser
from accounts.services.directory import SIGN_IN_ATTEMPTS_PER_USER
from enrollment import demo_directory
from enrollment.directory.base import (
    DirectoryAdmin,
    DirectoryError,
    InvalidCredentials,
    NotGlobalAdmin,
    TenantInUse,
    TenantNotCreated,
    TooManyAttempts,
    VerifiedTenant,
)
from enrollment.directory.builtin import builtin_sign_in, builtin_tenant_create_verified
from enrollment.directory.tenants import tenant_available, tenant_check_available
from portal.audit.models import AuditEvent
from tests.factories.accounts import (
    DIRECTORY_PASSWORD,
    DirectoryTenantFactory,
    DirectoryUserFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

PASSWORD = "Lantern-harbour-quiet-58"


@pytest.fixture(autouse=True)
def domain_suffix(settings):
    settings.BUILTIN_DIRECTORY_DOMAIN_SUFFIX = "onportal.test"


@pytest.fixture
def tenant():
    return DirectoryTenantFactory(
        name="Contoso Japan", country="JP", verified_domains=["contoso.onportal.test", "contoso.example"]
    )


@pytest.fixture
def global_admin(tenant):
    return DirectoryUserFactory(
        tenant=tenant,
        user_principal_name="admin@contoso.onportal.test",
        display_name="Taro Yamada",
        is_global_admin=True,
    )


def sign_in(user_principal_name: str, password: str = DIRECTORY_PASSWORD, client_key: str = "applicant-1"):
    return builtin_sign_in(user_principal_name=user_principal_name, password=password, client_key=client_key)


# --- Sign-in to an existing tenant ------------------------------------------------------------------------


def test_a_global_administrator_gets_the_verified_tenant(tenant, global_admin):
    verified = sign_in("Admin@Contoso.onportal.test")

    assert verified == VerifiedTenant(
        tenant_id=tenant.tenant_id,
        display_name="Contoso Japan",
        verified_domains=["contoso.onportal.test", "contoso.example"],
        country="JP",
        source=DirectoryTenant.Source.BUILTIN,
        admin=DirectoryAdmin(
            object_id=global_admin.public_id,
            user_principal_name="admin@contoso.onportal.test",
            email="",
            display_name="Taro Yamada",
        ),
    )
    assert VerifiedTenant.from_dict(verified.as_dict()) == verified
    assert verified.as_dict()["source"] == "builtin"


@pytest.mark.parametrize(
    ("user_principal_name", "password"),
    [
        pytest.param("admin@contoso.onportal.test", "wrong-password-1", id="wrong-password"),
        pytest.param("nobody@contoso.onportal.test", DIRECTORY_PASSWORD, id="unknown-user"),
        pytest.param("disabled@contoso.onportal.test", DIRECTORY_PASSWORD, id="disabled-admin"),
        pytest.param("", "", id="empty"),
    ],
)
def test_wrong_credentials_unknown_and_disabled_users_get_one_answer(
    tenant, global_admin, user_principal_name, password
):
    DirectoryUserFactory(
        tenant=tenant,
        user_principal_name="disabled@contoso.onportal.test",
        is_global_admin=True,
        status=DirectoryUser.Status.DISABLED,
    )
    with pytest.raises(InvalidCredentials) as refused:
        sign_in(user_principal_name, password)

    assert isinstance(refused.value, DirectoryError)
    assert (refused.value.code, str(refused.value.message), refused.value.field, refused.value.reason) == (
        "invalid_credentials",
        "The user name or password is incorrect.",
        None,
        "invalid_credentials",
    )


def test_sign_in_is_rate_limited(global_admin):
    for attempt in range(SIGN_IN_ATTEMPTS_PER_USER):
        with pytest.raises(InvalidCredentials):
            sign_in("admin@contoso.onportal.test", "wrong-password", client_key=f"client-{attempt}")

    with pytest.raises(TooManyAttempts) as limited:
        sign_in("admin@contoso.onportal.test", client_key="fresh")
    assert (limited.value.code, str(limited.value.message)) == (
        "rate_limited",
        "Too many sign-in attempts. Wait a few minutes and try again.",
    )


def test_a_user_who_is_not_a_global_administrator_is_refused_with_a_clear_message(tenant, global_admin):
    DirectoryUserFactory(tenant=tenant, user_principal_name="hanako@contoso.onportal.test")

    with pytest.raises(NotGlobalAdmin) as refused:
        sign_in("hanako@contoso.onportal.test")

    assert (refused.value.code, refused.value.reason, refused.value.account) == (
        "not_global_admin",
        "role_missing",
        "hanako@contoso.onportal.test",
    )
    assert str(refused.value.message) == (
        "The user hanako@contoso.onportal.test is not a Global Administrator of its tenant. Sign in with "
        "a Global Administrator of the tenant, ask one to complete this step, or create a new tenant."
    )


def test_a_tenant_already_linked_to_an_organization_cannot_be_used_again(tenant, global_admin):
    OrganizationFactory(directory_tenant=tenant)

    with pytest.raises(TenantInUse) as refused:
        sign_in("admin@contoso.onportal.test")
    assert (refused.value.code, refused.value.reason) == ("tenant_in_use", "tenant_linked")
    assert str(refused.value.message) == (
        "This tenant is already linked to an organization of the program, or is being enrolled by another "
        "application, so it cannot be used again. Use another tenant, or create a new one."
    )
    # Only someone who proved the credentials learns that: a wrong password is still just wrong.
    with pytest.raises(InvalidCredentials):
        sign_in("admin@contoso.onportal.test", "wrong-password")


def test_refusals_are_logged_by_code_without_the_password(tenant, global_admin, caplog):
    DirectoryUserFactory(tenant=tenant, user_principal_name="hanako@contoso.onportal.test")
    with caplog.at_level(logging.INFO, logger="enrollment.directory.builtin"):
        with pytest.raises(NotGlobalAdmin):
            sign_in("hanako@contoso.onportal.test")
        with pytest.raises(InvalidCredentials):
            sign_in("admin@contoso.onportal.test", "Typed-Secret-Passphrase-77")
        sign_in("admin@contoso.onportal.test")

    step_lines = [r.getMessage() for r in caplog.records if r.name == "enrollment.directory.builtin"]
    assert step_lines == [
        "Built-in directory step refused: not_global_admin (role_missing)",
        "Built-in directory step refused: invalid_credentials (invalid_credentials)",
        f"Built-in directory sign-in verified: tenant {tenant.tenant_id}, administrator object "
        f"{global_admin.public_id}",
    ]
    assert "Typed-Secret-Passphrase-77" not in caplog.text and DIRECTORY_PASSWORD not in caplog.text


# --- Availability, shared by both modes -----------------------------------------------------------------


def test_a_tenant_is_available_until_an_organization_holds_it(tenant):
    entra = DirectoryTenantFactory(source=DirectoryTenant.Source.ENTRA)
    OrganizationFactory(directory_tenant=entra)

    assert tenant_available(tenant.tenant_id) is True
    assert tenant_available(str(tenant.tenant_id)) is True
    assert tenant_available(uuid.uuid4()) is True  # an Entra tenant the portal has never seen
    assert tenant_available(entra.tenant_id) is False
    assert tenant_available(str(entra.tenant_id).upper()) is False
    tenant_check_available(tenant.tenant_id)
    with pytest.raises(TenantInUse):
        tenant_check_available(entra.tenant_id)


# --- Create a new tenant ----------------------------------------------------------------------------------


def test_creating_a_tenant_verifies_it_with_its_new_global_administrator():
    applicant = UserFactory()

    verified = builtin_tenant_create_verified(
        name="Fabrikam USA",
        country="us",
        initial_domain_label="Fabrikam",
        admin_display_name="Alex Johnson",
        admin_password=PASSWORD,
        by_user=applicant,
    )

    tenant = DirectoryTenant.objects.get()
    admin = DirectoryUser.objects.get()
    assert verified == VerifiedTenant(
        tenant_id=tenant.tenant_id,
        display_name="Fabrikam USA",
        verified_domains=["fabrikam.onportal.test"],
        country="US",
        source=DirectoryTenant.Source.BUILTIN,
        admin=DirectoryAdmin(
            object_id=admin.public_id,
            user_principal_name="admin@fabrikam.onportal.test",
            email="",
            display_name="Alex Johnson",
        ),
    )
    assert list(AuditEvent.objects.order_by("pk").values_list("action", "actor_id")) == [
        ("directory_tenant.created", applicant.pk),
        ("directory_user.created", applicant.pk),
    ]
    assert tenant_available(verified.tenant_id)
    # Its administrator can sign in to it afterwards, e.g. from another draft.
    assert sign_in("admin@fabrikam.onportal.test", PASSWORD) == verified


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"name": "Fabrikam\u202eUSA"}, "name", "control_characters"),
        ({"country": "ZZ"}, "country", "country_invalid"),
        ({"initial_domain_label": "fa"}, "initial_domain_label", "domain_label_invalid"),
        ({"initial_domain_label": "contoso"}, "initial_domain_label", "domain_taken"),
        ({"admin_display_name": "Alex\nJohnson"}, "admin_display_name", "control_characters"),
        ({"admin_password": "password1234"}, "admin_password", "password_invalid"),
    ],
)
def test_a_refused_value_is_a_directory_error_at_its_field_and_nothing_is_saved(
    tenant, global_admin, changes, field, reason
):
    before = (DirectoryTenant.objects.count(), DirectoryUser.objects.count(), AuditEvent.objects.count())
    values = {
        "name": "Fabrikam USA",
        "country": "US",
        "initial_domain_label": "fabrikam",
        "admin_display_name": "Alex Johnson",
        "admin_password": PASSWORD,
        "by_user": None,
    }

    with pytest.raises(TenantNotCreated) as refused:
        builtin_tenant_create_verified(**(values | changes))

    assert isinstance(refused.value, DirectoryError)
    assert (refused.value.code, refused.value.field, refused.value.reason) == (
        "tenant_not_created",
        field,
        reason,
    )
    assert str(refused.value.message)
    assert (
        DirectoryTenant.objects.count(),
        DirectoryUser.objects.count(),
        AuditEvent.objects.count(),
    ) == before


# --- Demo data ------------------------------------------------------------------------------------------


def test_the_demo_tenants_load_once_and_their_logins_work():
    logins = demo_directory.load_builtin_tenants()
    again = demo_directory.load_builtin_tenants()

    password = demo_directory.DIRECTORY_DEMO_PASSWORD
    assert (
        logins
        == again
        == [
            (
                "admin@tailspinjp.onportal.test",
                password,
                "built-in tenant Tailspin Toys Japan (JP): Global Administrator",
            ),
            (
                "hanako.sato@tailspinjp.onportal.test",
                password,
                "built-in tenant Tailspin Toys Japan (JP): user, not an administrator",
            ),
            (
                "admin@wingtiptoys.onportal.test",
                password,
                "built-in tenant Wingtip Toys (US): Global Administrator",
            ),
            (
                "sam.miller@wingtiptoys.onportal.test",
                password,
                "built-in tenant Wingtip Toys (US): user, not an administrator",
            ),
        ]
    )
    assert DirectoryTenant.objects.count() == 2 and DirectoryUser.objects.count() == 4
    assert sorted(DirectoryTenant.objects.values_list("country", flat=True)) == ["JP", "US"]
    assert AuditEvent.objects.filter(actor=None).count() == 6  # 2 tenants and 4 users, by the system
    japan = sign_in("admin@tailspinjp.onportal.test", password)
    assert (japan.display_name, japan.country, japan.verified_domains) == (
        "Tailspin Toys Japan",
        "JP",
        ["tailspinjp.onportal.test"],
    )
    assert sign_in("admin@wingtiptoys.onportal.test", password).country == "US"
    with pytest.raises(NotGlobalAdmin):
        sign_in("sam.miller@wingtiptoys.onportal.test", password)
