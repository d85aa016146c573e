"""The applicant's side of an enrollment, through its services: one open application per applicant, a
tenant and a partner ID held by one live application at a time, the details checked with the field rules
(nothing saved when one is wrong), **Enroll now** with its audit row and emails, and withdrawal."""

import uuid

import pytest
from django.db import IntegrityError, transaction

from accounts.models import DirectoryTenant, DirectoryTenantSource
from enrollment.directory.base import DirectoryAdmin, TenantInUse, VerifiedTenant
from enrollment.models import (
    ApplicationStatus,
    ContactConfirmation,
    EnrollmentApplication,
)
from enrollment.services import applications
from enrollment.services.email_domains import blocked_email_domain_add
from enrollment.validation.details import DETAIL_FIELDS, SHORT_PATH_FIELDS
from portal.audit.models import AuditEvent
from portal.errors import DomainError
from portal.mail.models import OutboxEmail
from portal.mail.services import email_render
from tests.enrollment.builders import (
    JP_DETAILS,
    US_DETAILS,
    complete_draft,
    draft_with_profile,
    draft_with_tenant,
    submitted_application,
)
from tests.factories.accounts import OrganizationFactory, StaffFactory, UserFactory
from tests.factories.enrollment import PartnerProfileFactory

pytestmark = pytest.mark.django_db

Status = ApplicationStatus
STORED_FIELDS = (
    "status",
    "tenant_id",
    "tenant",
    "tenant_country_declared",
    "country",
    "partner_id",
    "partner_profile_id",
    "already_authorised",
    *DETAIL_FIELDS,
    "contact_language",
    "updated_at",
)


def stored(application: EnrollmentApplication) -> dict:
    """The application's columns as the database has them now."""
    row = EnrollmentApplication.objects.get(pk=application.pk)
    return {name: getattr(row, name) for name in STORED_FIELDS}


def actions(application: EnrollmentApplication) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_id=str(application.public_id))
        .order_by("id")
        .values_list("action", flat=True)
    )


def other_draft_with_tenant(country: str = "JP") -> EnrollmentApplication:
    return draft_with_tenant(applicant=UserFactory(), country=country)


# --- One open application per applicant ---------------------------------------------------------------


def test_starting_a_draft_again_returns_the_open_application():
    applicant = UserFactory()
    first = applications.application_draft_start(applicant=applicant)

    second = applications.application_draft_start(applicant=applicant)

    assert second.pk == first.pk
    assert EnrollmentApplication.objects.filter(applicant=applicant).count() == 1
    assert AuditEvent.objects.filter(action="enrollment_application.started").count() == 1
    assert applications.application_open_for(applicant).pk == first.pk


def test_the_open_application_under_review_is_returned_rather_than_a_new_draft():
    application = submitted_application()

    again = applications.application_draft_start(applicant=application.applicant)

    assert again.pk == application.pk
    assert again.status == Status.AWAITING_CONFIRMATION


def test_the_database_refuses_a_second_live_application_of_one_applicant():
    applicant = UserFactory()
    applications.application_draft_start(applicant=applicant)

    with pytest.raises(IntegrityError, match="enrollment_app_one_open"), transaction.atomic():
        EnrollmentApplication.objects.create(applicant=applicant)

    assert EnrollmentApplication.objects.filter(applicant=applicant).count() == 1


def test_after_withdrawing_the_applicant_may_start_a_new_draft():
    draft = draft_with_tenant()
    applications.application_withdraw(application=draft, applicant=draft.applicant)

    fresh = applications.application_draft_start(applicant=draft.applicant)

    assert fresh.pk != draft.pk
    assert fresh.status == Status.DRAFT
    assert fresh.tenant_id is None


# --- The tenant and the partner ID are held by one live application ------------------------------------


def test_a_tenant_held_by_a_live_application_cannot_be_set_on_another():
    holder = draft_with_tenant()
    other = applications.application_draft_start(applicant=UserFactory())
    before = stored(other)
    events = AuditEvent.objects.count()

    with pytest.raises(TenantInUse) as refused:
        applications.application_tenant_set(
            application=other, applicant=other.applicant, verified=VerifiedTenant.from_dict(holder.tenant)
        )

    assert (refused.value.code, refused.value.reason) == ("tenant_in_use", "tenant_held")
    assert stored(other) == before
    assert AuditEvent.objects.count() == events


def test_the_database_refuses_a_second_live_application_holding_one_tenant():
    holder = draft_with_tenant()
    other = applications.application_draft_start(applicant=UserFactory())

    with pytest.raises(IntegrityError, match="enrollment_app_tenant_held"), transaction.atomic():
        EnrollmentApplication.objects.filter(pk=other.pk).update(tenant_id=holder.tenant_id)


def test_a_withdrawn_application_releases_its_tenant():
    holder = draft_with_tenant()
    applications.application_withdraw(application=holder, applicant=holder.applicant)
    other = applications.application_draft_start(applicant=UserFactory())

    other = applications.application_tenant_set(
        application=other, applicant=other.applicant, verified=VerifiedTenant.from_dict(holder.tenant)
    )

    assert other.tenant_id == holder.tenant_id
    assert stored(other)["tenant_id"] == holder.tenant_id


def test_a_tenant_linked_to_an_organization_cannot_be_set():
    holder = draft_with_tenant()
    applications.application_withdraw(application=holder, applicant=holder.applicant)
    OrganizationFactory(directory_tenant=DirectoryTenant.objects.get(tenant_id=holder.tenant_id))
    other = applications.application_draft_start(applicant=UserFactory())
    before = stored(other)

    with pytest.raises(TenantInUse) as refused:
        applications.application_tenant_set(
            application=other, applicant=other.applicant, verified=VerifiedTenant.from_dict(holder.tenant)
        )

    assert refused.value.reason == "tenant_linked"
    assert stored(other) == before


def test_a_partner_id_held_by_a_live_application_cannot_be_chosen_by_another():
    profile = PartnerProfileFactory(country="JP")
    draft_with_profile(profile=profile)
    other = other_draft_with_tenant()
    before = stored(other)
    events = AuditEvent.objects.count()

    with pytest.raises(DomainError) as refused:
        applications.application_profile_choose(
            application=other,
            applicant=other.applicant,
            account=profile.account,
            partner_id=profile.partner_id,
        )

    assert (refused.value.code, refused.value.field) == ("partner_id_in_use", "partner_id")
    assert profile.partner_id in str(refused.value.message)
    assert stored(other) == before
    assert AuditEvent.objects.count() == events


def test_a_partner_id_of_an_organization_cannot_be_chosen():
    profile = PartnerProfileFactory(country="JP")
    OrganizationFactory(partner_id=profile.partner_id)
    draft = draft_with_tenant()
    before = stored(draft)

    with pytest.raises(DomainError) as refused:
        applications.application_profile_choose(
            application=draft,
            applicant=draft.applicant,
            account=profile.account,
            partner_id=profile.partner_id,
        )

    assert refused.value.code == "partner_id_in_use"
    assert stored(draft) == before


def test_a_withdrawn_application_releases_its_partner_id():
    profile = PartnerProfileFactory(country="JP")
    holder = draft_with_profile(profile=profile)
    applications.application_withdraw(application=holder, applicant=holder.applicant)
    other = other_draft_with_tenant()

    other = applications.application_profile_choose(
        application=other, applicant=other.applicant, account=profile.account, partner_id=profile.partner_id
    )

    assert stored(other)["partner_id"] == profile.partner_id


def test_a_profile_of_another_country_than_the_tenant_is_refused_and_nothing_saved():
    draft = draft_with_tenant(country="JP")
    profile = PartnerProfileFactory(country="US")
    before = stored(draft)
    events = AuditEvent.objects.count()

    with pytest.raises(DomainError) as refused:
        applications.application_profile_choose(
            application=draft,
            applicant=draft.applicant,
            account=profile.account,
            partner_id=profile.partner_id,
        )

    assert (refused.value.code, refused.value.field) == ("country_mismatch", "partner_id")
    assert stored(draft) == before
    assert AuditEvent.objects.count() == events


def test_a_profile_of_another_account_is_unknown():
    draft = draft_with_tenant()
    profile = PartnerProfileFactory(country="JP")
    someone_else = PartnerProfileFactory(country="JP")

    with pytest.raises(DomainError) as refused:
        applications.application_profile_choose(
            application=draft,
            applicant=draft.applicant,
            account=someone_else.account,
            partner_id=profile.partner_id,
        )

    assert refused.value.code == "profile_unknown"
    assert stored(draft)["partner_id"] == ""


def test_a_profile_before_a_tenant_is_refused():
    draft = applications.application_draft_start(applicant=UserFactory())
    profile = PartnerProfileFactory(country="JP")

    with pytest.raises(DomainError) as refused:
        applications.application_profile_choose(
            application=draft,
            applicant=draft.applicant,
            account=profile.account,
            partner_id=profile.partner_id,
        )

    assert refused.value.code == "tenant_missing"


def test_another_persons_draft_is_not_found():
    draft = draft_with_tenant()
    profile = PartnerProfileFactory(country="JP")
    before = stored(draft)

    with pytest.raises(DomainError) as refused:
        applications.application_profile_choose(
            application=draft, applicant=UserFactory(), account=profile.account, partner_id=profile.partner_id
        )

    assert refused.value.code == "not_found"
    assert stored(draft) == before


# --- The country of a Microsoft Entra ID tenant that did not say it ------------------------------------


def entra_tenant(country: str = "") -> VerifiedTenant:
    """A tenant verified through Microsoft Entra ID; ``country`` empty as Graph gives it without one."""
    return VerifiedTenant(
        tenant_id=uuid.uuid4(),
        display_name="Fabrikam Japan KK",
        verified_domains=["fabrikam.co.jp"],
        country=country,
        source=DirectoryTenantSource.ENTRA,
        admin=DirectoryAdmin(object_id=uuid.uuid4(), user_principal_name="dana@fabrikam.co.jp"),
    )


def draft_with_entra_tenant(country: str = "") -> EnrollmentApplication:
    applicant = UserFactory()
    draft = applications.application_draft_start(applicant=applicant)
    return applications.application_tenant_set(
        application=draft, applicant=applicant, verified=entra_tenant(country)
    )


def test_an_entra_tenant_without_a_country_needs_one_and_no_other_tenant_does():
    assert applications.tenant_country_needed(draft_with_entra_tenant()) is True
    assert applications.tenant_country_needed(draft_with_entra_tenant("JP")) is False
    assert applications.tenant_country_needed(draft_with_tenant()) is False
    assert (
        applications.tenant_country_needed(applications.application_draft_start(applicant=UserFactory()))
        is False
    )


def test_the_applicant_gives_the_tenant_country_once_with_one_audit_row():
    draft = draft_with_entra_tenant()

    draft = applications.application_tenant_country_set(application=draft, country="jp", by=draft.applicant)

    row = stored(draft)
    assert (row["tenant"]["country"], row["country"], row["tenant_country_declared"]) == ("JP", "JP", True)
    assert row["tenant"]["source"] == "entra"
    assert applications.tenant_country_needed(draft) is False
    assert actions(draft) == [
        "enrollment_application.started",
        "enrollment_application.tenant_verified",
        "enrollment_application.tenant_country_set",
    ]
    event = AuditEvent.objects.get(action="enrollment_application.tenant_country_set")
    assert (event.actor, event.before, event.after) == (
        draft.applicant,
        {"country": ""},
        {"country": "JP", "declared": True},
    )


def _refused(draft: EnrollmentApplication, *, country: str = "US", by=None) -> DomainError:
    before, events = stored(draft), AuditEvent.objects.count()
    with pytest.raises(DomainError) as refused:
        applications.application_tenant_country_set(
            application=draft, country=country, by=by or draft.applicant
        )
    assert stored(draft) == before
    assert AuditEvent.objects.count() == events
    return refused.value


def test_a_second_tenant_country_is_refused():
    draft = draft_with_entra_tenant()
    applications.application_tenant_country_set(application=draft, country="JP", by=draft.applicant)

    refused = _refused(draft)

    assert (refused.code, refused.message) == (
        "tenant_country_known",
        "Your tenant's country is already recorded: Japan.",
    )


def test_a_country_entra_gave_cannot_be_replaced():
    assert _refused(draft_with_entra_tenant("JP")).code == "tenant_country_known"


def test_a_builtin_tenant_country_is_never_given_by_the_applicant():
    refused = _refused(draft_with_tenant())

    assert (refused.code, refused.field) == ("tenant_country_from_directory", None)


@pytest.mark.parametrize("country", ["", "XX", "Japan"])
def test_an_unknown_country_is_refused_at_its_field(country):
    refused = _refused(draft_with_entra_tenant(), country=country)

    assert (refused.code, refused.field, refused.message) == (
        "country_invalid",
        "country",
        "Choose the tenant's country from the list.",
    )


def test_the_tenant_country_before_a_tenant_is_refused():
    assert _refused(applications.application_draft_start(applicant=UserFactory())).code == "tenant_missing"


def test_another_persons_tenant_country_is_not_found():
    assert _refused(draft_with_entra_tenant(), by=UserFactory()).code == "not_found"


def test_a_submitted_applications_tenant_country_is_refused():
    application = submitted_application()

    assert _refused(application).code == "not_a_draft"


def test_a_new_tenant_forgets_the_country_given_for_the_previous_one():
    draft = draft_with_entra_tenant()
    applications.application_tenant_country_set(application=draft, country="JP", by=draft.applicant)

    draft = applications.application_tenant_set(
        application=draft, applicant=draft.applicant, verified=entra_tenant("US")
    )

    row = stored(draft)
    assert (row["tenant"]["country"], row["country"], row["tenant_country_declared"]) == ("US", "US", False)


# --- The details --------------------------------------------------------------------------------------


@pytest.fixture
def blocked_domain():
    return blocked_email_domain_add(domain="tailspin-mail.jp", kind="other", by=StaffFactory())


@pytest.mark.parametrize(
    ("country", "changes", "field", "code"),
    [
        ("JP", {"legal_name": "Tailspin\u200bKK"}, "legal_name", "invisible_characters"),
        ("JP", {"legal_name": "Tailspin \u202eKK"}, "legal_name", "invisible_characters"),
        ("JP", {"legal_name": "\ufeffTailspin KK"}, "legal_name", "invisible_characters"),
        ("JP", {"postal_code": "12345"}, "postal_code", None),
        ("US", {"region": "XX"}, "region", None),
        ("JP", {"contact_phone": "+1 415 555 0134"}, "contact_phone", "phone_wrong_country"),
        ("US", {"support_phone": "03-1234-5678"}, "support_phone", None),
        ("JP", {"contact_email": "aki@gmail.com"}, "contact_email", "free_email_domain"),
        ("JP", {"contact_email": "aki@yopmail.com"}, "contact_email", "disposable_email_domain"),
        ("JP", {"contact_email": "aki@office.tailspin-mail.jp"}, "contact_email", "blocked_email_domain"),
    ],
)
def test_a_bad_detail_is_refused_by_name_and_nothing_saved(blocked_domain, country, changes, field, code):
    draft = draft_with_profile(country=country)
    values = {**(US_DETAILS if country == "US" else JP_DETAILS), **changes}
    before = stored(draft)
    events = AuditEvent.objects.count()

    with pytest.raises(DomainError) as refused:
        applications.application_details_set(
            application=draft, applicant=draft.applicant, values=values, contact_language="en"
        )

    assert (refused.value.code, refused.value.field) == ("invalid_details", field)
    errors = refused.value.validation_error.error_dict
    assert set(errors) == {field}
    if code is not None:
        assert [error.code for error in errors[field]] == [code]
    assert stored(draft) == before
    assert AuditEvent.objects.count() == events


def test_every_bad_detail_is_named_at_once(blocked_domain):
    draft = draft_with_profile(country="JP")
    values = {
        **JP_DETAILS,
        "legal_name": "Tailspin\u200bKK",
        "postal_code": "12345",
        "contact_phone": "+1 415 555 0134",
        "contact_email": "aki@gmail.com",
        "support_website": "not a website",
    }
    before = stored(draft)

    with pytest.raises(DomainError) as refused:
        applications.application_details_set(
            application=draft, applicant=draft.applicant, values=values, contact_language="ja"
        )

    assert set(refused.value.validation_error.error_dict) == {
        "legal_name",
        "postal_code",
        "contact_phone",
        "contact_email",
        "support_website",
    }
    assert stored(draft) == before


def test_good_details_are_stored_normalised():
    draft = draft_with_profile(country="JP")

    applications.application_details_set(
        application=draft, applicant=draft.applicant, values=JP_DETAILS, contact_language="ja"
    )

    row = stored(draft)
    assert row["legal_name"] == "Tailspin KK"
    assert (row["region"], row["postal_code"]) == ("13", "100-0001")
    assert (row["contact_phone"], row["support_phone"]) == ("+81312345678", "+81312345679")
    assert row["contact_language"] == "ja"


# --- Enroll now ----------------------------------------------------------------------------------------


def test_submit_refuses_an_incomplete_draft():
    draft = draft_with_profile()
    assert applications.missing_steps(draft) == ["organization details"]
    before = stored(draft)

    with pytest.raises(DomainError) as refused:
        applications.application_submit(application=draft, applicant=draft.applicant)

    assert refused.value.code == "incomplete"
    assert "organization details" in str(refused.value.message)
    assert stored(draft) == before
    assert "enrollment_application.submitted" not in actions(draft)
    assert not OutboxEmail.objects.exists()
    assert not ContactConfirmation.objects.exists()


def test_the_missing_steps_are_named_in_order():
    draft = applications.application_draft_start(applicant=UserFactory())
    assert applications.missing_steps(draft) == [
        "directory tenant",
        "partner profile",
        "organization details",
    ]
    draft = draft_with_tenant()
    assert applications.missing_steps(draft) == ["partner profile", "organization details"]
    assert applications.missing_steps(complete_draft()) == []


def test_submit_refuses_a_contact_whose_domain_was_blocked_after_the_details_step():
    draft = complete_draft()
    blocked_email_domain_add(domain="tailspin.jp", kind="other", by=StaffFactory())
    before = stored(draft)

    with pytest.raises(DomainError) as refused:
        applications.application_submit(application=draft, applicant=draft.applicant)

    assert (refused.value.code, refused.value.field) == ("invalid_details", "contact_email")
    assert set(refused.value.validation_error.error_dict) == {"contact_email"}
    assert stored(draft) == before
    assert not OutboxEmail.objects.exists()
    assert not ContactConfirmation.objects.exists()


def test_submit_refuses_a_partner_id_enrolled_since_it_was_chosen():
    draft = complete_draft()
    OrganizationFactory(partner_id=draft.partner_id)
    before = stored(draft)

    with pytest.raises(DomainError) as refused:
        applications.application_submit(application=draft, applicant=draft.applicant)

    assert refused.value.code == "partner_id_in_use"
    assert stored(draft) == before
    assert not OutboxEmail.objects.exists()


def test_submit_moves_the_draft_once_with_one_audit_row_and_the_emails_in_each_language():
    applicant = UserFactory(preferred_language="en")
    draft = draft_with_profile(applicant=applicant)
    applications.application_details_set(
        application=draft, applicant=applicant, values=JP_DETAILS, contact_language="ja"
    )
    audited_before = AuditEvent.objects.count()

    submitted = applications.application_submit(application=draft, applicant=applicant)

    row = EnrollmentApplication.objects.get(pk=draft.pk)
    assert row.status == Status.AWAITING_CONFIRMATION
    assert row.submitted_at is not None
    new_events = AuditEvent.objects.order_by("id")[audited_before:]
    assert [event.action for event in new_events] == [
        "enrollment_application.submitted",
        "enrollment_contact_confirmation.sent",
    ]
    moved = new_events[0]
    assert (moved.actor_id, moved.target_id) == (applicant.pk, str(row.public_id))
    assert moved.before == {"status": "draft"}
    assert moved.after == {
        "status": "awaiting_confirmation",
        "partner_id": row.partner_id,
        "tenant_id": str(row.tenant_id),
    }
    confirmation = ContactConfirmation.objects.get(application=row)
    assert (confirmation.email, confirmation.status, confirmation.reminded) == (
        "aki@tailspin.jp",
        ContactConfirmation.Status.PENDING,
        False,
    )
    emails = {email.template: email for email in OutboxEmail.objects.all()}
    assert OutboxEmail.objects.count() == 2
    to_contact = emails["enrollment_contact_confirmation"]
    assert (to_contact.to, to_contact.language) == ("aki@tailspin.jp", "ja")
    assert (
        to_contact.subject
        == email_render(
            template="enrollment_contact_confirmation",
            context={"legal_name": "Tailspin KK", "reminder": False},
            language="ja",
        ).subject
    )
    to_applicant = emails["enrollment_status"]
    assert (to_applicant.to, to_applicant.language) == (applicant.email, "en")
    assert to_applicant.subject == "Enrollment update: Tailspin KK"
    assert submitted.status == Status.AWAITING_CONFIRMATION


def test_the_applicant_status_email_follows_the_applicants_language():
    applicant = UserFactory(preferred_language="ja")

    submitted_application(applicant=applicant)

    email = OutboxEmail.objects.get(template="enrollment_status")
    assert (email.to, email.language) == (applicant.email, "ja")


def test_the_contact_confirmation_subject_is_japanese_for_a_japanese_contact():
    """Fails until the Japanese catalogue translates the enrollment emails (filled in by the lead)."""
    applicant = UserFactory(preferred_language="en")
    draft = draft_with_profile(applicant=applicant)
    applications.application_details_set(
        application=draft, applicant=applicant, values=JP_DETAILS, contact_language="ja"
    )

    applications.application_submit(application=draft, applicant=applicant)

    subject = OutboxEmail.objects.get(template="enrollment_contact_confirmation").subject
    assert "Tailspin KK" in subject
    assert subject != "Confirm the enrollment of Tailspin KK"


def test_a_submitted_application_is_no_longer_a_draft():
    application = submitted_application()

    with pytest.raises(DomainError) as refused:
        applications.application_details_set(
            application=application, applicant=application.applicant, values=JP_DETAILS
        )

    assert refused.value.code == "not_a_draft"


# --- The short path -----------------------------------------------------------------------------------


def test_the_short_path_asks_only_for_support_and_the_applicant_is_the_contact():
    applicant = UserFactory(full_name="Hana Sato", preferred_language="ja")
    profile = PartnerProfileFactory(country="JP", already_authorised=True, legal_name="Northwind KK")
    draft = draft_with_profile(applicant=applicant, profile=profile)
    assert draft.already_authorised is True
    assert applications.details_fields_for(draft) == SHORT_PATH_FIELDS

    draft = applications.application_details_set(
        application=draft,
        applicant=applicant,
        values={
            "support_email": "help@northwind.jp",
            "support_phone": "03-1111-2222",
            "support_website": "https://northwind.jp",
            # not asked on the short path: ignored
            "legal_name": "Something Else KK",
            "contact_email": "someone@northwind.jp",
        },
    )

    row = stored(draft)
    assert row["legal_name"] == "Northwind KK"
    assert (row["contact_name"], row["contact_email"]) == ("Hana Sato", applicant.email)
    assert (row["support_email"], row["support_phone"]) == ("help@northwind.jp", "+81311112222")
    assert row["address_line1"] == ""
    assert row["contact_language"] == "ja"
    assert applications.missing_steps(draft) == []

    applications.application_submit(application=draft, applicant=applicant)

    assert stored(draft)["status"] == Status.AWAITING_CONFIRMATION
    assert ContactConfirmation.objects.get(application=draft).email == applicant.email
    # The contact is the applicant: the confirmation email, and the status email, both to them.
    assert sorted(OutboxEmail.objects.values_list("to", "template")) == [
        (applicant.email, "enrollment_contact_confirmation"),
        (applicant.email, "enrollment_status"),
    ]


def test_the_short_path_refuses_a_missing_support_field():
    profile = PartnerProfileFactory(country="JP", already_authorised=True)
    draft = draft_with_profile(profile=profile)
    before = stored(draft)

    with pytest.raises(DomainError) as refused:
        applications.application_details_set(
            application=draft, applicant=draft.applicant, values={"support_email": "help@northwind.jp"}
        )

    assert set(refused.value.validation_error.error_dict) == {"support_phone", "support_website"}
    assert stored(draft) == before


# --- Withdrawal ---------------------------------------------------------------------------------------


def test_withdrawing_frees_the_tenant_and_the_partner_id_and_tells_the_applicant():
    application = submitted_application()
    OutboxEmail.objects.all().delete()

    withdrawn = applications.application_withdraw(application=application, applicant=application.applicant)

    assert withdrawn.status == Status.WITHDRAWN
    assert actions(application).count("enrollment_application.withdrawn") == 1
    assert sorted(OutboxEmail.objects.values_list("to", flat=True)) == sorted(
        [application.applicant.email, application.contact_email]
    )
    other = other_draft_with_tenant()
    other = applications.application_tenant_set(
        application=other, applicant=other.applicant, verified=VerifiedTenant.from_dict(application.tenant)
    )
    other = applications.application_profile_choose(
        application=other,
        applicant=other.applicant,
        account=application.partner_profile.account,
        partner_id=application.partner_id,
    )
    assert (other.tenant_id, other.partner_id) == (application.tenant_id, application.partner_id)


def test_withdrawing_a_draft_sends_no_email():
    draft = complete_draft()

    applications.application_withdraw(application=draft, applicant=draft.applicant)

    assert stored(draft)["status"] == Status.WITHDRAWN
    assert not OutboxEmail.objects.exists()


def test_only_the_applicant_can_withdraw():
    application = submitted_application()
    before = stored(application)

    with pytest.raises(DomainError) as refused:
        applications.application_withdraw(application=application, applicant=UserFactory())

    assert refused.value.code == "not_found"
    assert stored(application) == before
