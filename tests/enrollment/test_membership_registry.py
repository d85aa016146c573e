"""The partner-membership registry: staff import accounts and profiles from CSV (a report per row, nothing
half-saved for a bad file), applicants sign in without learning which usernames exist, and the review
site lists the registry without ever showing a password or its hash."""

import io
import json

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from enrollment import demo
from enrollment.models import MembershipAccount, PartnerProfile
from enrollment.selectors import membership_profiles_for
from enrollment.services import membership_import
from enrollment.services.membership_accounts import (
    SIGN_IN_ATTEMPTS_PER_CLIENT,
    SIGN_IN_ATTEMPTS_PER_USERNAME,
    membership_account_create,
    membership_sign_in,
    partner_profile_create,
)
from enrollment.services.membership_import import membership_accounts_import_csv
from portal.audit.models import AuditEvent
from portal.errors import DomainError
from tests.factories.accounts import StaffFactory, UserFactory
from tests.factories.enrollment import MEMBERSHIP_PASSWORD, MembershipAccountFactory, PartnerProfileFactory
from tests.platform.test_secrets_at_rest import every_row_as_text

pytestmark = pytest.mark.django_db

HEADER = "username,password,partner_id,legal_name,country,location,already_authorised"
ALICE_PASSWORD = "Blue-harbour-lantern-42"
BOB_PASSWORD = "Quiet-meadow-compass-77"
IMPORT_URL = "/review/enrollment/membershipaccount/import/"
FULL_WIDTH_PARTNER_ID = "\uff11\uff12\uff13\uff14\uff15\uff16\uff17"  # the digits 1 to 7, full width


def csv_upload(*lines: str, name: str = "accounts.csv", bom: bool = False, encoding: str = "utf-8"):
    text = "\r\n".join(lines) + "\r\n"
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    return SimpleUploadedFile(name, data, content_type="text/csv")


def registry_state():
    return (
        list(MembershipAccount.objects.order_by("pk").values_list("pk", "username", "password", "is_active")),
        list(
            PartnerProfile.objects.order_by("pk").values_list(
                "pk", "account_id", "partner_id", "legal_name", "country", "location", "already_authorised"
            )
        ),
        AuditEvent.objects.count(),
    )


def outcomes(report) -> list[tuple]:
    return [(row.number, row.outcome, row.column, row.message) for row in report.rows]


def audit_text() -> str:
    return json.dumps(list(AuditEvent.objects.values("action", "before", "after", "target_label")))


@pytest.fixture
def reviewer():
    return StaffFactory(is_superuser=True, email="reviewer@program.example")


@pytest.fixture
def staff_client(client, reviewer):
    client.force_login(reviewer)
    return client


# --- Import: good rows ------------------------------------------------------------------------------------


def test_good_rows_create_accounts_and_profiles_with_hashed_passwords_and_one_audit_row(reviewer):
    upload = csv_upload(
        HEADER,
        f"alice,{ALICE_PASSWORD},1000001,Alice Trading KK,JP,Tokyo,false",
        "alice,,1000002,Alice Trading KK,jp,Osaka,yes",
        f'bob,{BOB_PASSWORD},1000003,"Bob Cloud, Inc.",US,Seattle,1',
    )

    report = membership_accounts_import_csv(file=upload, by=reviewer)

    assert outcomes(report) == [
        (2, "created", "", "Membership account and profile created."),
        (3, "created", "", "Profile added to the existing membership account."),
        (4, "created", "", "Membership account and profile created."),
    ]
    assert report.counts == {"created": 3, "updated": 0, "skipped": 0, "refused": 0}
    assert report.accounts_created == 2
    alice = MembershipAccount.objects.get(username="alice")
    bob = MembershipAccount.objects.get(username="bob")
    assert ALICE_PASSWORD not in alice.password and alice.check_password(ALICE_PASSWORD)
    assert bob.check_password(BOB_PASSWORD) and not bob.check_password(ALICE_PASSWORD)
    assert list(
        PartnerProfile.objects.order_by("partner_id").values_list(
            "account__username", "partner_id", "legal_name", "country", "location", "already_authorised"
        )
    ) == [
        ("alice", "1000001", "Alice Trading KK", "JP", "Tokyo", False),
        ("alice", "1000002", "Alice Trading KK", "JP", "Osaka", True),
        ("bob", "1000003", "Bob Cloud, Inc.", "US", "Seattle", True),
    ]
    event = AuditEvent.objects.get()
    assert (event.action, event.actor_id, event.organization_id) == (
        "membership_accounts.imported",
        reviewer.pk,
        None,
    )
    assert event.after == {
        "file_name": "accounts.csv",
        "rows": 3,
        "created": 3,
        "updated": 0,
        "skipped": 0,
        "refused": 0,
        "accounts_created": 2,
        "refused_rows": [],
    }
    assert ALICE_PASSWORD not in audit_text() and BOB_PASSWORD not in audit_text()


def test_no_imported_password_is_anywhere_in_the_database(reviewer):
    upload = csv_upload(
        HEADER,
        row(username="alice", password=ALICE_PASSWORD),
        row(username="bob", partner_id="2000002", password=BOB_PASSWORD),
        row(username="bob", partner_id="2000003", password=ALICE_PASSWORD),  # refused: not bob's
    )
    report = membership_accounts_import_csv(file=upload, by=reviewer)
    assert [r.outcome for r in report.rows] == ["created", "created", "refused"]

    dump = every_row_as_text()
    assert ALICE_PASSWORD not in dump and BOB_PASSWORD not in dump
    assert "alice" in dump  # the dump does hold the rows


def test_a_byte_order_mark_spaces_and_full_width_digits_are_read_as_meant(reviewer):
    upload = csv_upload(
        " Username , PASSWORD,partner_id,legal_name,country,location,already_authorised",
        f"  Carol ,{ALICE_PASSWORD},{FULL_WIDTH_PARTNER_ID}, 株式会社キャロル ,jp, 東京 ,はい",
        bom=True,
    )

    report = membership_accounts_import_csv(file=upload, by=reviewer)

    assert outcomes(report) == [(2, "created", "", "Membership account and profile created.")]
    profile = PartnerProfile.objects.select_related("account").get()
    assert (profile.account.username, profile.partner_id, profile.legal_name, profile.country.code) == (
        "Carol",
        "1234567",
        "株式会社キャロル",
        "JP",
    )
    assert (profile.location, profile.already_authorised) == ("東京", True)


def test_columns_may_come_in_any_order_and_blank_lines_are_ignored(reviewer):
    upload = csv_upload(
        "partner_id,country,username,location,password,already_authorised,legal_name",
        "",
        f"1000001,US,dave,Austin,{ALICE_PASSWORD},,Dave LLC",
        ",,,,,,",
    )

    report = membership_accounts_import_csv(file=upload, by=reviewer)

    assert outcomes(report) == [(3, "created", "", "Membership account and profile created.")]
    assert PartnerProfile.objects.get().legal_name == "Dave LLC"


def test_a_plain_binary_stream_is_read_too(reviewer):
    stream = io.BytesIO(f"{HEADER}\nerin,{ALICE_PASSWORD},1000009,Erin KK,JP,Kyoto,no\n".encode())

    report = membership_accounts_import_csv(file=stream, by=reviewer)

    assert report.counts["created"] == 1
    assert AuditEvent.objects.get().after["file_name"] == ""


# --- Import: bad rows, each with its reason; the good rows around them are saved ----------------------------

VALID = {
    "username": "frank",
    "password": ALICE_PASSWORD,
    "partner_id": "2000001",
    "legal_name": "Frank KK",
    "country": "JP",
    "location": "Nagoya",
    "already_authorised": "false",
}


def row(**changes) -> str:
    values = {**VALID, **changes}
    return ",".join(
        '"{}"'.format(values[name].replace('"', '""')) for name in membership_import.IMPORT_COLUMNS
    )


BAD_ROWS = [
    pytest.param(
        {"username": "frank smith"},
        "username",
        "Enter a valid username. This value may contain only unaccented lowercase a-z and uppercase A-Z "
        "letters, numbers, and @/./+/-/_ characters.",
        id="username-with-space",
    ),
    pytest.param({"username": ""}, "username", "This field cannot be blank.", id="username-missing"),
    pytest.param(
        {"password": ""}, "password", "A new membership account needs a password.", id="password-missing"
    ),
    pytest.param(
        {"password": "short-1"},
        "password",
        "This password is too short. It must contain at least 12 characters.",
        id="password-too-short",
    ),
    pytest.param(
        {"password": "1234567890123"},
        "password",
        "This password is too common.",
        id="password-too-common",
    ),
    pytest.param(
        {"partner_id": "200001"},
        "partner_id",
        "A partner ID is exactly seven digits, for example 1234567.",
        id="partner-id-six-digits",
    ),
    pytest.param(
        {"partner_id": "20000A1"},
        "partner_id",
        "A partner ID is exactly seven digits, for example 1234567.",
        id="partner-id-letter",
    ),
    pytest.param({"legal_name": "  "}, "legal_name", "This field cannot be blank.", id="legal-name-missing"),
    pytest.param(
        {"legal_name": "Frank\u202eKK"},
        "legal_name",
        "Use one line of ordinary text: line breaks and control characters are not allowed.",
        id="legal-name-bidi-override",
    ),
    pytest.param(
        {"legal_name": "Frank\nKK"},
        "legal_name",
        "Use one line of ordinary text: line breaks and control characters are not allowed.",
        id="legal-name-line-break",
    ),
    pytest.param(
        {"legal_name": "F" * 201},
        "legal_name",
        "Ensure this value has at most 200 characters (it has 201).",
        id="legal-name-too-long",
    ),
    pytest.param({"country": "XX"}, "country", "Value 'XX' is not a valid choice.", id="country-unknown"),
    pytest.param(
        {"country": "Japan"}, "country", "Value 'JAPAN' is not a valid choice.", id="country-by-name"
    ),
    pytest.param({"location": ""}, "location", "This field cannot be blank.", id="location-missing"),
    pytest.param(
        {"already_authorised": "maybe"},
        "already_authorised",
        "Use true or false (or yes/no, 1/0); empty means false.",
        id="flag-unreadable",
    ),
]


@pytest.mark.parametrize(("changes", "column", "reason"), BAD_ROWS)
def test_a_bad_row_is_refused_with_its_column_and_reason_and_the_others_are_saved(
    reviewer, changes, column, reason
):
    upload = csv_upload(
        HEADER,
        row(username="grace", partner_id="2000002"),
        row(**changes),
        row(username="heidi", partner_id="2000003", password=BOB_PASSWORD),
    )

    report = membership_accounts_import_csv(file=upload, by=reviewer)

    assert [(r.number, r.outcome) for r in report.rows] == [(2, "created"), (3, "refused"), (4, "created")]
    assert (report.rows[1].column, report.rows[1].message) == (column, reason)
    assert sorted(MembershipAccount.objects.values_list("username", flat=True)) == ["grace", "heidi"]
    assert sorted(PartnerProfile.objects.values_list("partner_id", flat=True)) == ["2000002", "2000003"]
    assert AuditEvent.objects.get().after["refused_rows"] == [3]


def test_a_row_with_the_wrong_number_of_cells_is_refused(reviewer):
    upload = csv_upload(HEADER, f"ivan,{ALICE_PASSWORD},2000004,Ivan KK,JP", row())

    report = membership_accounts_import_csv(file=upload, by=reviewer)

    assert outcomes(report) == [
        (2, "refused", "", "This row has 5 cells; the header has 7."),
        (3, "created", "", "Membership account and profile created."),
    ]
    assert not MembershipAccount.objects.filter(username="ivan").exists()


def test_a_refused_row_saves_nothing_of_itself(reviewer):
    # A new account whose profile is refused (its partner ID belongs to someone else) is not created.
    PartnerProfileFactory(partner_id="2000001")
    before = MembershipAccount.objects.count()

    report = membership_accounts_import_csv(file=csv_upload(HEADER, row(username="judy")), by=reviewer)

    assert outcomes(report) == [
        (2, "refused", "partner_id", "This partner ID belongs to another membership account.")
    ]
    assert MembershipAccount.objects.count() == before
    assert not MembershipAccount.objects.filter(username="judy").exists()


def test_reasons_are_given_in_the_staff_members_language(reviewer):
    upload = csv_upload(HEADER, row(username="frank smith"))
    with translation.override("ja"):
        report = membership_accounts_import_csv(file=upload, by=reviewer)
        refused = report.rows[0]
        assert refused.message != BAD_ROWS[0].values[2]
        assert "ユーザー名" in refused.message
        assert refused.outcome_label == str(membership_import.RowOutcome.REFUSED.label)


# --- Import: duplicates, within the file and against the registry ----------------------------------------


def test_duplicates_within_the_file(reviewer):
    upload = csv_upload(
        HEADER,
        row(),
        row(),  # the very same row
        row(legal_name="Frank Holdings KK"),  # the same partner ID, other details
        row(partner_id="2000005", password=""),  # the new account's second profile
        row(partner_id="2000006", password=BOB_PASSWORD),  # the new account, another password
        row(username="FRANK", partner_id="2000007"),  # the same account in other case
    )

    report = membership_accounts_import_csv(file=upload, by=reviewer)

    assert outcomes(report) == [
        (2, "created", "", "Membership account and profile created."),
        (3, "skipped", "", "The same as row 2."),
        (4, "refused", "partner_id", "This partner ID is already on row 2 of this file."),
        (5, "created", "", "Profile added to the existing membership account."),
        (
            6,
            "refused",
            "password",
            "This membership account already exists with another password, and an import never changes "
            "a password: leave the password empty.",
        ),
        (7, "created", "", "Profile added to the existing membership account."),
    ]
    account = MembershipAccount.objects.get()
    assert account.check_password(ALICE_PASSWORD)
    assert sorted(account.profiles.values_list("partner_id", flat=True)) == ["2000001", "2000005", "2000007"]
    assert report.counts == {"created": 3, "updated": 0, "skipped": 1, "refused": 2}


def test_duplicates_against_the_registry(reviewer):
    frank = MembershipAccountFactory(username="Frank")
    PartnerProfileFactory(account=frank, **_profile(VALID))
    PartnerProfileFactory(account=frank, partner_id="2000008", legal_name="Old name KK", location="Kobe")
    PartnerProfileFactory(partner_id="2000009")  # another account's
    password_hash = frank.password

    upload = csv_upload(
        HEADER,
        row(password=""),  # exactly what the registry holds
        row(
            partner_id="2000008",
            password="",
            legal_name="New name KK",
            location="Kobe",
            already_authorised="true",
        ),
        row(partner_id="2000009", password=""),
        row(username="frank", partner_id="2000010", password=MEMBERSHIP_PASSWORD),  # its right password
        row(partner_id="2000011", password=ALICE_PASSWORD),  # another password
    )

    report = membership_accounts_import_csv(file=upload, by=reviewer)

    assert outcomes(report) == [
        (2, "skipped", "", "Already in the registry."),
        (3, "updated", "", "Profile updated: legal name, already an authorised partner."),
        (4, "refused", "partner_id", "This partner ID belongs to another membership account."),
        (5, "created", "", "Profile added to the existing membership account."),
        (
            6,
            "refused",
            "password",
            "This membership account already exists with another password, and an import never changes "
            "a password: leave the password empty.",
        ),
    ]
    frank.refresh_from_db()
    assert frank.password == password_hash  # an import never changes a password
    updated = PartnerProfile.objects.get(partner_id="2000008")
    assert (updated.legal_name, updated.location, updated.already_authorised) == ("New name KK", "Kobe", True)
    assert MembershipAccount.objects.count() == 2
    assert report.accounts_created == 0


def test_importing_the_same_file_twice_changes_nothing_the_second_time(reviewer):
    lines = [
        HEADER,
        row(),
        row(partner_id="2000012", password=""),
        row(username="gina", partner_id="2000013"),
    ]
    membership_accounts_import_csv(file=csv_upload(*lines), by=reviewer)
    before = registry_state()

    report = membership_accounts_import_csv(file=csv_upload(*lines), by=reviewer)

    assert [r.outcome for r in report.rows] == ["skipped", "skipped", "skipped"]
    after = registry_state()
    assert after[:2] == before[:2]
    assert after[2] == before[2] + 1  # only the second import's audit row


def _profile(values: dict) -> dict:
    return {name: values[name] for name in ("partner_id", "legal_name", "country", "location")}


# --- Import: a bad file is refused whole, and nothing is saved ----------------------------------------------

BAD_FILES = [
    pytest.param(
        lambda: csv_upload("user,pass,id", row()),
        "file_header",
        "The first row must name exactly these columns, in any order: username, password, partner_id, "
        "legal_name, country, location, already_authorised.",
        id="wrong-header",
    ),
    pytest.param(
        lambda: csv_upload(HEADER.replace(",", ";"), row().replace(",", ";")),
        "file_header",
        None,
        id="semicolons",
    ),
    pytest.param(
        lambda: csv_upload(HEADER + ",extra", row() + ",x"),
        "file_header",
        None,
        id="extra-column",
    ),
    pytest.param(
        lambda: csv_upload(HEADER, row(legal_name="株式会社フランク"), encoding="shift_jis"),
        "file_not_utf8",
        "The file is not UTF-8 text. In Excel, save it as “CSV UTF-8 (comma delimited)”.",
        id="shift-jis",
    ),
    pytest.param(
        lambda: SimpleUploadedFile("accounts.xlsx", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 64),
        "file_not_csv",
        "The file is not a CSV file.",
        id="binary",
    ),
    pytest.param(
        lambda: csv_upload(HEADER, row(), 'kim,"unterminated,2000020,Kim KK,JP,Tokyo,no'),
        "file_not_csv",
        "The file is not a valid CSV file (check its quotation marks).",
        id="broken-quotes",
    ),
    pytest.param(
        lambda: SimpleUploadedFile("empty.csv", b""), "file_empty", "The file is empty.", id="empty"
    ),
    pytest.param(
        lambda: csv_upload(HEADER), "file_no_rows", "The file has no rows below its header.", id="header-only"
    ),
    pytest.param(
        lambda: csv_upload(HEADER, row(), "x" * (membership_import.IMPORT_MAX_BYTES)),
        "file_too_large",
        "The file is larger than 256.0\xa0KB. Split it into smaller files.",
        id="too-large",
    ),
    pytest.param(
        lambda: csv_upload(
            HEADER,
            *(
                row(username=f"user{n}", partner_id=f"{3000000 + n}")
                for n in range(membership_import.IMPORT_MAX_ROWS + 1)
            ),
        ),
        "file_too_many_rows",
        "The file has 201 rows; at most 200 are imported at once. Split it.",
        id="too-many-rows",
    ),
]


@pytest.mark.parametrize(("make_file", "code", "message"), BAD_FILES)
def test_a_bad_file_is_refused_whole_and_nothing_is_saved(reviewer, make_file, code, message):
    PartnerProfileFactory(partner_id="2000099")
    before = registry_state()

    with pytest.raises(DomainError) as refused:
        membership_accounts_import_csv(file=make_file(), by=reviewer)

    assert (refused.value.code, refused.value.field) == (code, "file")
    if message is not None:
        assert str(refused.value.message) == message
    assert registry_state() == before


def test_a_stream_without_a_size_is_cut_at_the_limit(reviewer):
    stream = io.BytesIO((HEADER + "\n" + row() + "\n").encode() + b" " * membership_import.IMPORT_MAX_BYTES)
    with pytest.raises(DomainError) as refused:
        membership_accounts_import_csv(file=stream, by=reviewer)
    assert refused.value.code == "file_too_large"
    assert not MembershipAccount.objects.exists()


# --- Creating one account or profile --------------------------------------------------------------------


def test_create_services_hash_the_password_check_uniqueness_in_any_case_and_audit(reviewer):
    account = membership_account_create(username="Lena", password=ALICE_PASSWORD, by=reviewer)
    profile = partner_profile_create(
        account=account,
        partner_id="4000001",
        legal_name="Lena KK",
        country="jp",
        location="Sapporo",
        by=reviewer,
    )

    assert account.check_password(ALICE_PASSWORD) and ALICE_PASSWORD not in account.password
    assert (profile.country.code, profile.already_authorised) == ("JP", False)
    assert list(AuditEvent.objects.order_by("pk").values_list("action", "target_label", "after")) == [
        ("membership_account.created", "Lena", {"username": "Lena", "is_active": True}),
        (
            "partner_profile.created",
            "Lena KK (4000001)",
            {
                "account": "Lena",
                "partner_id": "4000001",
                "legal_name": "Lena KK",
                "country": "JP",
                "location": "Sapporo",
                "already_authorised": False,
            },
        ),
    ]
    before = registry_state()
    with pytest.raises(DomainError) as taken:
        membership_account_create(username="LENA", password=BOB_PASSWORD, by=reviewer)
    assert (taken.value.code, taken.value.field) == ("username_taken", "username")
    with pytest.raises(DomainError) as taken:
        partner_profile_create(
            account=account, partner_id="4000001", legal_name="X", country="JP", location="Y", by=reviewer
        )
    assert (taken.value.code, taken.value.field) == ("partner_id_taken", "partner_id")
    with pytest.raises(DomainError) as weak:
        membership_account_create(username="mike", password="mike-mike", by=reviewer)
    assert weak.value.field == "password"
    assert registry_state() == before


def test_the_database_refuses_a_raw_password_a_case_duplicate_and_a_malformed_partner_id():
    account = MembershipAccountFactory(username="nina")
    for build in (
        lambda: MembershipAccount.objects.create(username="olga", password="plain text"),
        lambda: MembershipAccountFactory(username="NINA"),
        lambda: PartnerProfileFactory(account=account, partner_id="12345"),
        # django-countries writes a code in capitals: only SQL can write one in lower case.
        lambda: _sql(
            "UPDATE enrollment_partnerprofile SET country = 'jp'", PartnerProfileFactory(account=account)
        ),
        lambda: PartnerProfileFactory(account=account, legal_name=""),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            build()


def _sql(statement: str, *_made) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement)


def test_profiles_for_an_account_are_its_own_by_name():
    account = MembershipAccountFactory()
    PartnerProfileFactory(account=account, legal_name="Zeta KK", partner_id="5000002")
    PartnerProfileFactory(account=account, legal_name="Alpha KK", partner_id="5000001")
    PartnerProfileFactory(legal_name="Other KK")

    assert [profile.legal_name for profile in membership_profiles_for(account)] == ["Alpha KK", "Zeta KK"]


# --- Sign-in --------------------------------------------------------------------------------------------


def test_the_right_password_opens_the_account_in_any_case_of_the_username():
    account = MembershipAccountFactory(username="Paula")

    assert membership_sign_in(username=" paula ", password=MEMBERSHIP_PASSWORD, client_key="c1") == account
    assert membership_sign_in(username="PAULA", password=MEMBERSHIP_PASSWORD, client_key="c1") == account


@pytest.fixture
def hash_count(settings):
    """How many password hashes a call costs (encoding or checking a password is one hash)."""
    from tests.hashers import CountingHasher

    settings.PASSWORD_HASHERS = ["tests.hashers.CountingHasher"]
    MembershipAccountFactory(username="quinn")  # hashed with the counting hasher
    MembershipAccountFactory(username="rita", is_active=False)

    def measure(call) -> int:
        CountingHasher.hashes = 0
        call()
        return CountingHasher.hashes

    return measure


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("quinn", "wrong-password-1", id="wrong-password"),
        pytest.param("nobody", "wrong-password-1", id="unknown-username"),
        pytest.param("nobody", MEMBERSHIP_PASSWORD, id="unknown-username-known-password"),
        pytest.param("rita", MEMBERSHIP_PASSWORD, id="inactive-right-password"),
        pytest.param("quinn", "", id="empty-password"),
        pytest.param("", "", id="empty-username"),
    ],
)
def test_every_failed_sign_in_gives_the_same_answer_for_the_same_work(hash_count, username, password):
    errors = []

    def sign_in():
        with pytest.raises(DomainError) as refused:
            membership_sign_in(username=username, password=password, client_key="client")
        errors.append(refused.value)

    assert hash_count(sign_in) == 1
    assert (errors[0].code, str(errors[0].message), errors[0].field) == (
        "invalid_credentials",
        "The username or password is incorrect.",
        None,
    )


def test_a_successful_sign_in_costs_the_same_one_hash(hash_count):
    assert (
        hash_count(lambda: membership_sign_in(username="quinn", password=MEMBERSHIP_PASSWORD, client_key="c"))
        == 1
    )


@pytest.mark.parametrize("username", ["sven", "nobody-at-all"])
def test_sign_in_is_limited_per_username_known_or_not(username):
    MembershipAccountFactory(username="sven")
    for attempt in range(SIGN_IN_ATTEMPTS_PER_USERNAME):
        with pytest.raises(DomainError) as refused:
            membership_sign_in(username=username, password="wrong", client_key=f"client-{attempt}")
        assert refused.value.code == "invalid_credentials"

    # From yet another client, in any case, even with the right password: refused until the window ends.
    with pytest.raises(DomainError) as limited:
        membership_sign_in(username=username.upper(), password=MEMBERSHIP_PASSWORD, client_key="fresh")
    assert (limited.value.code, str(limited.value.message)) == (
        "rate_limited",
        "Too many sign-in attempts. Wait a few minutes and try again.",
    )
    # Another username is not affected.
    other = MembershipAccountFactory(username="tara")
    assert membership_sign_in(username="tara", password=MEMBERSHIP_PASSWORD, client_key="fresh") == other


def test_sign_in_is_limited_per_client():
    account = MembershipAccountFactory(username="uma")
    for attempt in range(SIGN_IN_ATTEMPTS_PER_CLIENT):
        with pytest.raises(DomainError):
            membership_sign_in(username=f"guess{attempt}", password="wrong", client_key="one-client")

    with pytest.raises(DomainError) as limited:
        membership_sign_in(username="uma", password=MEMBERSHIP_PASSWORD, client_key="one-client")
    assert limited.value.code == "rate_limited"
    assert membership_sign_in(username="uma", password=MEMBERSHIP_PASSWORD, client_key="other") == account


# --- The review site -------------------------------------------------------------------------------------


def test_staff_import_a_file_and_read_the_report(staff_client, reviewer):
    page = staff_client.get(IMPORT_URL)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'enctype="multipart/form-data"' in body and 'name="csrfmiddlewaretoken"' in body
    assert '<label class="required" for="id_file">CSV file</label>' in body

    upload = csv_upload(HEADER, row(), row(username="vera", partner_id="6000001", country="Atlantis"))
    response = staff_client.post(IMPORT_URL, {"file": upload})

    assert response.status_code == 200
    body = response.content.decode()
    assert "Created: 1. Updated: 0. Skipped: 0. Refused: 1." in body
    assert "Membership account and profile created." in body
    assert "Value &#x27;ATLANTIS&#x27; is not a valid choice." in body
    assert [(r.number, r.outcome) for r in response.context["report"].rows] == [
        (2, "created"),
        (3, "refused"),
    ]
    assert ALICE_PASSWORD not in body
    assert MembershipAccount.objects.get().username == "frank"
    event = AuditEvent.objects.get()
    assert (event.action, event.actor_id, event.after["refused_rows"]) == (
        "membership_accounts.imported",
        reviewer.pk,
        [3],
    )


def test_the_import_page_refuses_a_bad_file_at_the_field_and_saves_nothing(staff_client):
    before = registry_state()
    response = staff_client.post(
        IMPORT_URL, {"file": csv_upload(HEADER, row(legal_name="株式会社"), encoding="shift_jis")}
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "file": ["The file is not UTF-8 text. In Excel, save it as “CSV UTF-8 (comma delimited)”."]
    }
    body = response.content.decode()
    assert 'aria-invalid="true"' in body and 'aria-describedby="id_file_helptext id_file_errors"' in body
    assert registry_state() == before


def test_the_import_page_refuses_a_file_over_the_limit_before_reading_it(staff_client, monkeypatch):
    monkeypatch.setattr("enrollment.admin.registry.IMPORT_MAX_BYTES", 100)
    response = staff_client.post(IMPORT_URL, {"file": csv_upload(HEADER, row())})

    assert response.context["form"].errors == {
        "file": ["The file is larger than 100\xa0bytes. Split it into smaller files."]
    }
    assert not MembershipAccount.objects.exists()


def test_the_import_page_without_a_file_asks_for_one(staff_client):
    response = staff_client.post(IMPORT_URL, {})
    assert response.status_code == 200
    assert response.context["form"].errors == {"file": ["This field is required."]}
    assert AuditEvent.objects.count() == 0


def test_the_import_page_speaks_japanese(staff_client, reviewer):
    reviewer.preferred_language = "ja"
    reviewer.save(update_fields=["preferred_language"])
    response = staff_client.get(IMPORT_URL)
    body = response.content.decode()
    assert '<html lang="ja"' in body
    assert "ホーム" in body  # the admin's own breadcrumbs


def test_the_import_is_refused_to_anyone_but_permitted_staff(client):
    upload = lambda: csv_upload(HEADER, row())  # noqa: E731

    # Anonymous: to the sign-in page.
    response = client.post(IMPORT_URL, {"file": upload()})
    assert response.status_code == 302
    # A portal user who is not program staff: to the review site's sign-in, nothing imported.
    client.force_login(UserFactory())
    response = client.post(IMPORT_URL, {"file": upload()})
    assert response.status_code == 302
    assert "/login/" in response["Location"]
    # Program staff without the registry's permission: 403, and no Import link on the lists.
    staff = StaffFactory(is_superuser=False)
    staff.user_permissions.add(Permission.objects.get(codename="view_membershipaccount"))
    client.force_login(staff)
    assert client.post(IMPORT_URL, {"file": upload()}).status_code == 403
    assert client.get(IMPORT_URL).status_code == 403
    page = client.get(reverse("admin:enrollment_membershipaccount_changelist"))
    assert page.status_code == 200
    assert IMPORT_URL not in page.content.decode()
    assert not MembershipAccount.objects.exists()
    assert AuditEvent.objects.count() == 0

    # With the permission, the link shows and the import runs.
    staff.user_permissions.add(Permission.objects.get(codename="add_membershipaccount"))
    staff = type(staff).objects.get(pk=staff.pk)  # a fresh permission cache
    client.force_login(staff)
    assert IMPORT_URL in client.get(reverse("admin:enrollment_membershipaccount_changelist")).content.decode()
    assert client.post(IMPORT_URL, {"file": upload()}).status_code == 200
    assert MembershipAccount.objects.get().username == "frank"


def test_registry_pages_list_and_search_but_never_show_a_password_or_its_hash(staff_client, reviewer):
    membership_accounts_import_csv(
        file=csv_upload(HEADER, row(), row(username="wendy", partner_id="7000001", legal_name="Wendy LLC")),
        by=reviewer,
    )
    frank = MembershipAccount.objects.get(username="frank")
    profile = PartnerProfile.objects.get(partner_id="2000001")
    secrets = [ALICE_PASSWORD, frank.password, frank.password.split("$")[-1]]
    pages = [
        reverse("admin:enrollment_membershipaccount_changelist"),
        reverse("admin:enrollment_membershipaccount_change", args=[frank.pk]),
        reverse("admin:enrollment_partnerprofile_changelist"),
        reverse("admin:enrollment_partnerprofile_change", args=[profile.pk]),
        reverse("admin:enrollment_membershipaccount_history", args=[frank.pk]),
    ]
    for url in pages:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        for secret in secrets:
            assert secret not in body, (url, secret)
    assert 'name="_save"' not in staff_client.get(pages[1]).content.decode()
    assert ALICE_PASSWORD not in audit_text() and frank.password not in audit_text()

    def found(changelist: str, query: str) -> list[str]:
        response = staff_client.get(reverse(changelist), {"q": query})
        return sorted(str(obj) for obj in response.context["cl"].result_list)

    accounts = "admin:enrollment_membershipaccount_changelist"
    profiles = "admin:enrollment_partnerprofile_changelist"
    assert found(accounts, "WENDY") == ["wendy"]
    assert found(accounts, "7000001") == ["wendy"]
    assert found(accounts, "Frank KK") == ["frank"]
    assert found(profiles, "2000001") == ["Frank KK (2000001)"]
    assert found(profiles, "wendy") == ["Wendy LLC (7000001)"]
    assert found(profiles, "llc") == ["Wendy LLC (7000001)"]


def test_registry_pages_are_read_only(staff_client):
    profile = PartnerProfileFactory(legal_name="Xena KK")
    account = profile.account
    assert staff_client.get(reverse("admin:enrollment_membershipaccount_add")).status_code == 403
    assert staff_client.get(reverse("admin:enrollment_partnerprofile_add")).status_code == 403
    response = staff_client.post(
        reverse("admin:enrollment_partnerprofile_change", args=[profile.pk]), {"legal_name": "Changed"}
    )
    assert response.status_code == 403
    response = staff_client.post(
        reverse("admin:enrollment_membershipaccount_delete", args=[account.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    profile.refresh_from_db()
    assert profile.legal_name == "Xena KK"
    assert MembershipAccount.objects.filter(pk=account.pk).exists()


def test_the_account_list_counts_profiles_in_the_same_number_of_queries_at_any_size(staff_client):
    url = reverse("admin:enrollment_membershipaccount_changelist")
    PartnerProfileFactory()
    staff_client.get(url)  # the session's first use writes to it; later requests only read
    with CaptureQueriesContext(connection) as few:
        staff_client.get(url)
    for _ in range(5):
        PartnerProfileFactory(account=PartnerProfileFactory().account)

    with CaptureQueriesContext(connection) as more:
        response = staff_client.get(url)

    assert len(more.captured_queries) == len(few.captured_queries)
    assert sorted(account.profile_total for account in response.context["cl"].result_list) == [
        1,
        2,
        2,
        2,
        2,
        2,
    ]


# --- Demo data -------------------------------------------------------------------------------------------


def test_demo_membership_accounts_in_japan_and_the_united_states_one_already_authorised():
    logins = demo.load_membership_accounts()
    assert demo.load_membership_accounts() == logins  # idempotent
    assert MembershipAccount.objects.count() == 2
    assert list(PartnerProfile.objects.order_by("country").values_list("country", "already_authorised")) == [
        ("JP", False),
        ("US", True),
    ]
    for username, password, _what in logins:
        account = membership_sign_in(username=username, password=password, client_key="demo")
        assert membership_profiles_for(account).count() == 1
