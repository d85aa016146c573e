"""The built-in directory: tenants with an initial domain under the configured suffix and a Global
Administrator, users named in the tenant's domains, disable / enable without losing the last Global
Administrator, and a sign-in that never tells which names exist. The review site lists the users and
never shows a password or its hash."""

import json
import logging

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from accounts.audit_actions import ACTION_LABELS
from accounts.models import DirectoryTenant, DirectoryUser
from accounts.services.directory import (
    SIGN_IN_ATTEMPTS_PER_CLIENT,
    SIGN_IN_ATTEMPTS_PER_USER,
    builtin_tenant_create,
    directory_user_create,
    directory_user_disable,
    directory_user_enable,
    directory_user_sign_in,
)
from accounts.transitions import DIRECTORY_USER_STATUS
from portal.audit.catalogue import action_label
from portal.audit.models import AuditEvent
from portal.errors import DomainError, InvalidTransition
from tests.factories.accounts import (
    DIRECTORY_PASSWORD,
    DirectoryTenantFactory,
    DirectoryUserFactory,
    OrganizationFactory,
    StaffFactory,
    UserFactory,
)
from tests.platform.test_secrets_at_rest import every_row_as_text
from tests.support.processes import run_python
from tests.support.races import TRIALS, race

pytestmark = pytest.mark.django_db

PASSWORD = "Lantern-harbour-quiet-58"
OTHER_PASSWORD = "Meadow-compass-river-91"
SUFFIX = "onportal.test"
CONTROL_CHARACTERS = ["Contoso\nBcc: x@example.com", "Contoso\u202eKK", "Contoso\tKK", "Contoso\x00"]


@pytest.fixture(autouse=True)
def domain_suffix(settings):
    settings.BUILTIN_DIRECTORY_DOMAIN_SUFFIX = SUFFIX


def create(**changes):
    values = {
        "name": "Contoso Japan",
        "country": "JP",
        "initial_domain_label": "contoso",
        "admin_display_name": "Taro Yamada",
        "admin_password": PASSWORD,
        "by_user": None,
    }
    return builtin_tenant_create(**(values | changes))


def directory_state():
    return (
        list(
            DirectoryTenant.objects.order_by("pk").values_list("pk", "tenant_id", "name", "verified_domains")
        ),
        list(
            DirectoryUser.objects.order_by("pk").values_list(
                "pk",
                "tenant_id",
                "user_principal_name",
                "display_name",
                "password",
                "is_global_admin",
                "status",
            )
        ),
        AuditEvent.objects.count(),
    )


def audit_text() -> str:
    return json.dumps(list(AuditEvent.objects.values("action", "before", "after", "target_label")))


# --- Creating a tenant --------------------------------------------------------------------------------------


def test_a_new_tenant_gets_its_domain_under_the_suffix_and_its_creator_becomes_global_administrator():
    applicant = UserFactory(email="taro@example.com")

    tenant, admin = create(by_user=applicant)

    tenant.refresh_from_db()
    assert (tenant.name, tenant.country.code, tenant.source, tenant.verified_domains) == (
        "Contoso Japan",
        "JP",
        "builtin",
        ["contoso.onportal.test"],
    )
    admin = DirectoryUser.objects.get(pk=admin.pk)
    assert (admin.tenant_id, admin.user_principal_name, admin.display_name) == (
        tenant.pk,
        "admin@contoso.onportal.test",
        "Taro Yamada",
    )
    assert (admin.is_global_admin, admin.status) == (True, "active")
    assert PASSWORD not in admin.password and admin.check_password(PASSWORD)
    events = list(
        AuditEvent.objects.order_by("pk").values_list(
            "action", "actor_id", "organization_id", "target_type", "target_label", "after"
        )
    )
    assert events == [
        (
            "directory_tenant.created",
            applicant.pk,
            None,
            "accounts.directorytenant",
            f"Contoso Japan ({tenant.tenant_id})",
            {
                "tenant_id": str(tenant.tenant_id),
                "name": "Contoso Japan",
                "country": "JP",
                "verified_domains": ["contoso.onportal.test"],
                "source": "builtin",
            },
        ),
        (
            "directory_user.created",
            applicant.pk,
            None,
            "accounts.directoryuser",
            "admin@contoso.onportal.test",
            {
                "tenant_id": str(tenant.tenant_id),
                "user_principal_name": "admin@contoso.onportal.test",
                "display_name": "Taro Yamada",
                "is_global_admin": True,
                "status": "active",
            },
        ),
    ]
    assert AuditEvent.objects.get(action="directory_user.created").target_id == str(admin.public_id)
    assert PASSWORD not in audit_text() and admin.password not in audit_text()
    assert PASSWORD not in every_row_as_text()


def test_the_suffix_comes_from_the_setting(settings):
    settings.BUILTIN_DIRECTORY_DOMAIN_SUFFIX = "directory.example.org"
    tenant, admin = create(initial_domain_label="fabrikam")
    assert tenant.verified_domains == ["fabrikam.directory.example.org"]
    assert admin.user_principal_name == "admin@fabrikam.directory.example.org"


def test_values_are_tidied_full_width_and_upper_case_labels_and_countries_included():
    tenant, admin = create(
        name="  株式会社コントソ  ",
        country=" jp ",
        initial_domain_label=" \uff23\uff4f\uff4e\uff54\uff4f\uff53\uff4f-JP ",  # "Contoso" full width
        admin_display_name="  山田 太郎 ",
    )
    assert (tenant.name, tenant.country.code, tenant.verified_domains) == (
        "株式会社コントソ",
        "JP",
        ["contoso-jp.onportal.test"],
    )
    assert (admin.user_principal_name, admin.display_name) == ("admin@contoso-jp.onportal.test", "山田 太郎")


@pytest.mark.parametrize("label", ["abc", "a-b", "0123456789", "a" * 40, "x1-y2-z3"])
def test_labels_of_three_to_forty_letters_digits_and_hyphens_are_accepted(label):
    tenant, _admin = create(initial_domain_label=label)
    assert tenant.verified_domains == [f"{label}.onportal.test"]


@pytest.mark.parametrize(
    "label",
    [
        pytest.param("", id="empty"),
        pytest.param("ab", id="too-short"),
        pytest.param("a" * 41, id="too-long"),
        pytest.param("-abc", id="leading-hyphen"),
        pytest.param("abc-", id="trailing-hyphen"),
        pytest.param("ab--cd", id="double-hyphen"),
        pytest.param("xn--abc", id="punycode-prefix"),
        pytest.param("con_toso", id="underscore"),
        pytest.param("con.toso", id="dot"),
        pytest.param("con toso", id="space"),
        pytest.param("café", id="accent"),
        pytest.param("コントソ", id="japanese"),
        pytest.param("con\ntoso", id="line-break-inside"),
    ],
)
def test_a_label_against_the_rules_is_refused_at_its_field_and_nothing_is_saved(label):
    before = directory_state()
    with pytest.raises(DomainError) as refused:
        create(initial_domain_label=label)
    assert (refused.value.code, refused.value.field, str(refused.value.message)) == (
        "domain_label_invalid",
        "initial_domain_label",
        "Use 3 to 40 lower-case letters (a to z), digits and single hyphens, starting and ending with a "
        "letter or a digit.",
    )
    assert directory_state() == before


def test_a_taken_domain_is_refused_in_any_case_and_nothing_is_saved():
    create(initial_domain_label="contoso")
    before = directory_state()

    with pytest.raises(DomainError) as taken:
        create(initial_domain_label="CONTOSO", name="Another Contoso")

    assert (taken.value.code, taken.value.field, str(taken.value.message)) == (
        "domain_taken",
        "initial_domain_label",
        "The domain contoso.onportal.test is already taken. Choose another name for it.",
    )
    assert directory_state() == before
    # A longer or shorter name is another domain.
    create(initial_domain_label="contoso2")
    create(initial_domain_label="contos")


def test_a_domain_taken_between_the_check_and_the_insert_is_refused_by_the_unique_index(monkeypatch):
    create(initial_domain_label="contoso")
    before = directory_state()
    monkeypatch.setattr("accounts.services.directory.domain_taken", lambda domain: False)

    with pytest.raises(DomainError) as taken:
        create(initial_domain_label="contoso", name="Late Contoso")

    assert (taken.value.code, taken.value.field) == ("domain_taken", "initial_domain_label")
    assert isinstance(taken.value.__cause__, DomainError)
    assert isinstance(taken.value.__cause__.__cause__, IntegrityError)
    assert directory_state() == before  # the new tenant and its audit row went with the savepoint's failure


def test_a_domain_is_taken_by_any_tenant_that_lists_it_or_any_user_named_in_it():
    DirectoryTenantFactory(verified_domains=["other.example", "listed.onportal.test"], source="entra")
    DirectoryUserFactory(
        tenant=DirectoryTenantFactory(verified_domains=["named.onportal.test"]),
        user_principal_name="someone@named.onportal.test",
    )
    DirectoryTenantFactory(verified_domains=["xfree.onportal.test", "free.onportal.testing"])

    for label in ("listed", "named"):
        with pytest.raises(DomainError) as taken:
            create(initial_domain_label=label)
        assert taken.value.code == "domain_taken", label
    # Only the whole name counts: neither a longer one that ends with it nor one that starts with it.
    tenant, _admin = create(initial_domain_label="free")
    assert tenant.verified_domains == ["free.onportal.test"]


@pytest.mark.parametrize("country", ["", "XX", "Japan", "JPN", "日本"])
def test_a_country_that_is_not_an_iso_code_is_refused(country):
    before = directory_state()
    with pytest.raises(DomainError) as refused:
        create(country=country)
    assert (refused.value.code, refused.value.field, str(refused.value.message)) == (
        "country_invalid",
        "country",
        "Choose the tenant's country from the list.",
    )
    assert directory_state() == before


@pytest.mark.parametrize("value", CONTROL_CHARACTERS)
@pytest.mark.parametrize("field", ["name", "admin_display_name"])
def test_names_with_control_characters_are_refused_at_their_field(field, value):
    before = directory_state()
    with pytest.raises(DomainError) as refused:
        create(**{field: value})
    assert (refused.value.code, refused.value.field) == ("control_characters", field)
    assert str(refused.value.message) == (
        "Use one line of ordinary text: line breaks and control characters are not allowed."
    )
    assert directory_state() == before


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "   "}, "name", "This field cannot be blank."),
        ({"name": "x" * 201}, "name", "Ensure this value has at most 200 characters (it has 201)."),
        ({"admin_display_name": ""}, "admin_display_name", "This field cannot be blank."),
        (
            {"admin_password": "short-1"},
            "admin_password",
            "This password is too short. It must contain at least 12 characters.",
        ),
        (
            {"admin_password": ""},
            "admin_password",
            "This password is too short. It must contain at least 12 characters.",
        ),
        ({"admin_password": "123456789012345"}, "admin_password", "This password is entirely numeric."),
        (
            {"admin_display_name": "Hanako Kobayashi", "admin_password": "hanakokobayashi"},
            "admin_password",
            "The password is too similar to the display name.",
        ),
        (
            {"initial_domain_label": "lanternharbour", "admin_password": "lanternharbour!"},
            "admin_password",
            "The password is too similar to the user principal name.",
        ),
    ],
)
def test_other_bad_values_are_refused_at_their_field_and_nothing_is_saved(changes, field, message):
    before = directory_state()
    with pytest.raises(DomainError) as refused:
        create(**changes)
    assert (refused.value.field, str(refused.value.message)) == (field, message)
    assert directory_state() == before


@pytest.mark.django_db(transaction=True)
def test_two_people_creating_the_same_domain_at_once_get_one_tenant():
    assert connection.vendor == "postgresql", "race tests need real transactions: run them through bin/test"
    for trial in range(TRIALS):
        label = f"race{trial}"
        outcomes = race(
            lambda label=label: create(initial_domain_label=label, name="First"),
            lambda label=label: create(initial_domain_label=label, name="Second"),
        )

        assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
        assert [detail for kind, detail in outcomes if kind == "refused"] == ["domain_taken"]
        domain = f"{label}.onportal.test"
        assert DirectoryUser.objects.filter(user_principal_name=f"admin@{domain}").count() == 1
        assert DirectoryTenant.objects.filter(verified_domains__contains=[domain]).count() == 1
        created = AuditEvent.objects.filter(
            action="directory_tenant.created", after__verified_domains=[domain]
        )
        assert created.count() == 1


# --- The database's guards ----------------------------------------------------------------------------------


def test_the_database_refuses_a_raw_password_a_bad_name_a_case_duplicate_and_an_unknown_status():
    user = DirectoryUserFactory(user_principal_name="ann@tenant.example")
    for build in (
        lambda: DirectoryUserFactory(password="plain text"),
        lambda: DirectoryUserFactory(user_principal_name="ann@tenant.example"),
        lambda: DirectoryUserFactory(user_principal_name="ANN@tenant.example"),
        lambda: DirectoryUserFactory(tenant=user.tenant, user_principal_name="Bob@tenant.example"),
        lambda: DirectoryUserFactory(user_principal_name="no-at-sign"),
        lambda: DirectoryUserFactory(user_principal_name="two@at@signs.example"),
        lambda: DirectoryUserFactory(display_name=""),
        lambda: _sql("UPDATE accounts_directoryuser SET user_principal_name = 'ANN@tenant.example'"),
        lambda: _sql("UPDATE accounts_directoryuser SET status = 'deleted'"),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            build()


def _sql(statement: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement)


# --- Users of a tenant --------------------------------------------------------------------------------------


@pytest.fixture
def tenant():
    tenant, _admin = create()
    return tenant


def test_a_user_is_added_in_one_of_the_tenants_domains_and_audited(tenant):
    staff = StaffFactory()
    user = directory_user_create(
        tenant=tenant,
        user_principal_name=" Hanako.Sato@CONTOSO.onportal.test ",
        display_name="佐藤 花子",
        password=OTHER_PASSWORD,
        by_user=staff,
    )

    user.refresh_from_db()
    assert (user.user_principal_name, user.display_name, user.is_global_admin, user.status) == (
        "hanako.sato@contoso.onportal.test",
        "佐藤 花子",
        False,
        "active",
    )
    assert user.check_password(OTHER_PASSWORD)
    event = AuditEvent.objects.filter(action="directory_user.created").latest("pk")
    assert (event.actor_id, event.organization_id, event.after["user_principal_name"]) == (
        staff.pk,
        None,
        "hanako.sato@contoso.onportal.test",
    )
    assert OTHER_PASSWORD not in audit_text() and user.password not in audit_text()


def test_changes_to_the_users_of_a_tenant_an_organization_owns_go_to_its_activity_log(tenant):
    organization = OrganizationFactory(directory_tenant=tenant)
    user = directory_user_create(
        tenant=tenant,
        user_principal_name="ken@contoso.onportal.test",
        display_name="Ken",
        password=OTHER_PASSWORD,
        by_user=None,
    )
    directory_user_disable(directory_user=user, by_user=None)
    directory_user_enable(directory_user=user, by_user=None)

    assert list(
        AuditEvent.objects.filter(organization_id=organization.pk)
        .order_by("pk")
        .values_list("action", "target_label", "before", "after")
    ) == [
        (
            "directory_user.created",
            "ken@contoso.onportal.test",
            None,
            {
                "tenant_id": str(tenant.tenant_id),
                "user_principal_name": "ken@contoso.onportal.test",
                "display_name": "Ken",
                "is_global_admin": False,
                "status": "active",
            },
        ),
        (
            "directory_user.disabled",
            "ken@contoso.onportal.test",
            {"status": "active"},
            {"status": "disabled"},
        ),
        ("directory_user.enabled", "ken@contoso.onportal.test", {"status": "disabled"}, {"status": "active"}),
    ]


@pytest.mark.parametrize(
    ("user_principal_name", "code", "message"),
    [
        (
            "ken",
            "user_name_invalid",
            "Enter a user name such as taro.yamada@contoso.onportal.test: up to 64 lower-case letters "
            "(a to z), digits, dots, hyphens and underscores before the @, starting and ending with a letter "
            "or a digit.",
        ),
        ("ken..ito@contoso.onportal.test", "user_name_invalid", None),
        (".ken@contoso.onportal.test", "user_name_invalid", None),
        ("ken+1@contoso.onportal.test", "user_name_invalid", None),
        ("k" * 65 + "@contoso.onportal.test", "user_name_invalid", None),
        ("けん@contoso.onportal.test", "user_name_invalid", None),
        (
            "ken@contoso.example",
            "user_domain_invalid",
            "The part after the @ must be one of the tenant's domains: contoso.onportal.test.",
        ),
        ("ken@sub.contoso.onportal.test", "user_domain_invalid", None),
        (
            "ADMIN@contoso.onportal.test",
            "user_name_taken",
            "The user name admin@contoso.onportal.test is already taken.",
        ),
    ],
)
def test_a_bad_or_taken_user_name_is_refused_at_its_field(tenant, user_principal_name, code, message):
    before = directory_state()
    with pytest.raises(DomainError) as refused:
        directory_user_create(
            tenant=tenant,
            user_principal_name=user_principal_name,
            display_name="Ken",
            password=OTHER_PASSWORD,
            by_user=None,
        )
    assert (refused.value.code, refused.value.field) == (code, "user_principal_name")
    if message is not None:
        assert str(refused.value.message) == message
    assert directory_state() == before


def test_a_tenant_of_microsoft_entra_id_has_no_users_here():
    entra = DirectoryTenantFactory(source=DirectoryTenant.Source.ENTRA, verified_domains=["fabrikam.com"])
    with pytest.raises(DomainError) as refused:
        directory_user_create(
            tenant=entra,
            user_principal_name="ken@fabrikam.com",
            display_name="Ken",
            password=OTHER_PASSWORD,
            by_user=None,
        )
    assert refused.value.code == "tenant_not_builtin"
    assert not DirectoryUser.objects.exists()


def test_disable_and_enable_follow_the_table_and_keep_the_last_global_administrator(tenant):
    admin = tenant.users.get()
    with pytest.raises(DomainError) as refused:
        directory_user_disable(directory_user=admin, by_user=None)
    assert (refused.value.code, str(refused.value.message)) == (
        "last_global_admin",
        "A tenant always keeps at least one active Global Administrator. Add another Global Administrator "
        "first.",
    )
    second = directory_user_create(
        tenant=tenant,
        user_principal_name="second@contoso.onportal.test",
        display_name="Second Admin",
        password=OTHER_PASSWORD,
        is_global_admin=True,
        by_user=None,
    )

    assert directory_user_disable(directory_user=admin, by_user=None).status == "disabled"
    # Now the second one is the last active Global Administrator.
    with pytest.raises(DomainError):
        directory_user_disable(directory_user=second, by_user=None)
    events = AuditEvent.objects.count()
    with pytest.raises(InvalidTransition):
        directory_user_disable(directory_user=admin, by_user=None)
    assert AuditEvent.objects.count() == events
    assert directory_user_enable(directory_user=admin, by_user=None).status == "active"
    with pytest.raises(InvalidTransition):
        directory_user_enable(directory_user=admin, by_user=None)
    assert DIRECTORY_USER_STATUS.allows("active", "disabled") and DIRECTORY_USER_STATUS.allows(
        "disabled", "active"
    )


@pytest.mark.django_db(transaction=True)
def test_two_global_administrators_disabling_each_other_at_once_leave_one():
    assert connection.vendor == "postgresql"
    for _ in range(TRIALS):
        first = DirectoryUserFactory(is_global_admin=True)
        second = DirectoryUserFactory(tenant=first.tenant, is_global_admin=True)

        outcomes = race(
            lambda first=first: directory_user_disable(directory_user=first, by_user=None),
            lambda second=second: directory_user_disable(directory_user=second, by_user=None),
        )

        assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"], outcomes
        assert [detail for kind, detail in outcomes if kind == "refused"] == ["last_global_admin"]
        assert DirectoryUser.objects.filter(tenant=first.tenant, status="active").count() == 1


# --- Sign-in ------------------------------------------------------------------------------------------------


def test_the_right_password_opens_the_user_in_any_case_of_its_name():
    user = DirectoryUserFactory(user_principal_name="paula@tenant.example")

    assert (
        directory_user_sign_in(
            user_principal_name=" Paula@Tenant.EXAMPLE ", password=DIRECTORY_PASSWORD, client_key="c1"
        )
        == user
    )
    signed_in = directory_user_sign_in(
        user_principal_name="paula@tenant.example", password=DIRECTORY_PASSWORD, client_key="c1"
    )
    assert signed_in.tenant == user.tenant


@pytest.fixture
def hash_count(settings):
    """How many password hashes a call costs (encoding or checking a password is one hash)."""
    from tests.hashers import CountingHasher

    settings.PASSWORD_HASHERS = ["tests.hashers.CountingHasher"]
    tenant = DirectoryTenantFactory(verified_domains=["tenant.example"])
    DirectoryUserFactory(tenant=tenant, user_principal_name="quinn@tenant.example")  # counting hasher
    DirectoryUserFactory(tenant=tenant, user_principal_name="rita@tenant.example", status="disabled")

    def measure(call) -> int:
        CountingHasher.hashes = 0
        call()
        return CountingHasher.hashes

    return measure


@pytest.mark.parametrize(
    ("user_principal_name", "password"),
    [
        pytest.param("quinn@tenant.example", "wrong-password-1", id="wrong-password"),
        pytest.param("nobody@tenant.example", "wrong-password-1", id="unknown-user"),
        pytest.param("nobody@tenant.example", DIRECTORY_PASSWORD, id="unknown-user-known-password"),
        pytest.param("quinn@elsewhere.example", DIRECTORY_PASSWORD, id="other-domain"),
        pytest.param("rita@tenant.example", DIRECTORY_PASSWORD, id="disabled-right-password"),
        pytest.param("rita@tenant.example", "wrong-password-1", id="disabled-wrong-password"),
        pytest.param("quinn@tenant.example", "", id="empty-password"),
        pytest.param("", "", id="empty-name"),
    ],
)
def test_every_failed_sign_in_gives_the_same_answer_for_the_same_work(
    hash_count, user_principal_name, password
):
    errors = []

    def sign_in():
        with pytest.raises(DomainError) as refused:
            directory_user_sign_in(
                user_principal_name=user_principal_name, password=password, client_key="client"
            )
        errors.append(refused.value)

    assert hash_count(sign_in) == 1
    assert (errors[0].code, str(errors[0].message), errors[0].field) == (
        "invalid_credentials",
        "The user name or password is incorrect.",
        None,
    )


def test_a_successful_sign_in_costs_the_same_one_hash(hash_count):
    def sign_in():
        directory_user_sign_in(
            user_principal_name="quinn@tenant.example", password=DIRECTORY_PASSWORD, client_key="c"
        )

    assert hash_count(sign_in) == 1


@pytest.mark.parametrize("user_principal_name", ["sven@tenant.example", "nobody-at-all@tenant.example"])
def test_sign_in_is_limited_per_user_known_or_not(user_principal_name):
    tenant = DirectoryTenantFactory(verified_domains=["tenant.example"])
    DirectoryUserFactory(tenant=tenant, user_principal_name="sven@tenant.example")
    for attempt in range(SIGN_IN_ATTEMPTS_PER_USER):
        with pytest.raises(DomainError) as refused:
            directory_user_sign_in(
                user_principal_name=user_principal_name, password="wrong", client_key=f"client-{attempt}"
            )
        assert refused.value.code == "invalid_credentials"

    # From yet another client, in any case, even with the right password: refused until the window ends.
    with pytest.raises(DomainError) as limited:
        directory_user_sign_in(
            user_principal_name=user_principal_name.upper(), password=DIRECTORY_PASSWORD, client_key="fresh"
        )
    assert (limited.value.code, str(limited.value.message)) == (
        "rate_limited",
        "Too many sign-in attempts. Wait a few minutes and try again.",
    )
    # Another user is not affected.
    other = DirectoryUserFactory(tenant=tenant, user_principal_name="tara@tenant.example")
    assert (
        directory_user_sign_in(
            user_principal_name="tara@tenant.example", password=DIRECTORY_PASSWORD, client_key="fresh"
        )
        == other
    )


def test_sign_in_is_limited_per_client():
    user = DirectoryUserFactory()
    for attempt in range(SIGN_IN_ATTEMPTS_PER_CLIENT):
        with pytest.raises(DomainError):
            directory_user_sign_in(
                user_principal_name=f"guess{attempt}@tenant.example",
                password="wrong",
                client_key="one-client",
            )

    with pytest.raises(DomainError) as limited:
        directory_user_sign_in(
            user_principal_name=user.user_principal_name, password=DIRECTORY_PASSWORD, client_key="one-client"
        )
    assert limited.value.code == "rate_limited"
    assert (
        directory_user_sign_in(
            user_principal_name=user.user_principal_name, password=DIRECTORY_PASSWORD, client_key="other"
        )
        == user
    )


def test_a_refused_sign_in_is_a_log_line_that_says_why_never_what_was_typed(caplog):
    user = DirectoryUserFactory(user_principal_name="victor@tenant.example")
    events = AuditEvent.objects.count()
    typed_password = "Typed-Secret-Passphrase-77"

    with caplog.at_level(logging.WARNING, logger="accounts.services.directory"):
        for name in ("victor@tenant.example", "Typed-Secret-Passphrase-77"):
            with pytest.raises(DomainError):
                directory_user_sign_in(user_principal_name=name, password=typed_password, client_key="c")

    assert [r.getMessage() for r in caplog.records if r.name == "accounts.services.directory"] == [
        f"Built-in directory sign-in refused: wrong_password (user {user.public_id})",
        "Built-in directory sign-in refused: unknown_user",
    ]
    assert AuditEvent.objects.count() == events  # nothing changed, nothing audited


# --- The setting --------------------------------------------------------------------------------------------

PRINT_SUFFIX = """
import django
from django.conf import settings
django.setup()
print(settings.BUILTIN_DIRECTORY_DOMAIN_SUFFIX)
"""


def test_the_suffix_is_read_from_the_environment(tmp_path):
    default = run_python(PRINT_SUFFIX, {}, tmp_path)
    assert (default.returncode, default.stdout.strip()) == (0, "onportal.example"), default.stderr
    configured = run_python(
        PRINT_SUFFIX, {"BUILTIN_DIRECTORY_DOMAIN_SUFFIX": ".Directory.Example.ORG."}, tmp_path
    )
    assert (configured.returncode, configured.stdout.strip()) == (0, "directory.example.org"), (
        configured.stderr
    )
    refused = run_python(PRINT_SUFFIX, {"BUILTIN_DIRECTORY_DOMAIN_SUFFIX": "not a domain"}, tmp_path)
    assert refused.returncode != 0
    assert "BUILTIN_DIRECTORY_DOMAIN_SUFFIX must be a domain name" in refused.stderr


# --- Audit labels and the review site -----------------------------------------------------------------------


def test_the_directory_actions_have_labels():
    for action in (
        "directory_tenant.created",
        "directory_user.created",
        "directory_user.disabled",
        "directory_user.enabled",
    ):
        assert action_label(action) == str(ACTION_LABELS[action]) != action


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def test_review_site_lists_and_searches_users_but_never_shows_a_password_or_its_hash(staff_client):
    tenant, admin = create(name="Contoso Japan")
    _other_tenant, other_admin = create(name="Wingtip Toys", initial_domain_label="wingtip", country="US")
    secrets = [PASSWORD, admin.password, admin.password.split("$")[-1]]
    pages = [
        reverse("admin:accounts_directoryuser_changelist"),
        reverse("admin:accounts_directoryuser_change", args=[admin.pk]),
        reverse("admin:accounts_directoryuser_history", args=[admin.pk]),
        reverse("admin:accounts_directorytenant_change", args=[tenant.pk]),
        reverse("admin:audit_auditevent_changelist"),
    ]
    for url in pages:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        for secret in secrets:
            assert secret not in body, (url, secret)
    detail = staff_client.get(pages[1]).content.decode()
    assert "admin@contoso.onportal.test" in detail and str(admin.public_id) in detail
    assert 'name="_save"' not in detail and 'name="password"' not in detail

    def found(query: str) -> list[str]:
        response = staff_client.get(reverse("admin:accounts_directoryuser_changelist"), {"q": query})
        return sorted(str(obj) for obj in response.context["cl"].result_list)

    assert found("ADMIN@CONTOSO") == ["admin@contoso.onportal.test"]
    assert found("wingtip toys") == [other_admin.user_principal_name]
    assert found("taro") == ["admin@contoso.onportal.test", "admin@wingtip.onportal.test"]
    assert found("nobody") == []


def test_review_site_users_are_read_only(staff_client):
    user = DirectoryUserFactory(display_name="Xena")
    assert staff_client.get(reverse("admin:accounts_directoryuser_add")).status_code == 403
    response = staff_client.post(
        reverse("admin:accounts_directoryuser_change", args=[user.pk]), {"display_name": "Changed"}
    )
    assert response.status_code == 403
    response = staff_client.post(
        reverse("admin:accounts_directoryuser_delete", args=[user.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    user.refresh_from_db()
    assert user.display_name == "Xena"
    assert DirectoryUser.objects.filter(pk=user.pk).exists()
