"""The CSV import of the partner-membership registry (review site: Membership accounts > Import CSV).

The file
    UTF-8, with or without a byte-order mark (Excel's "CSV UTF-8"), comma-separated, at most
    ``IMPORT_MAX_BYTES`` and ``IMPORT_MAX_ROWS`` rows after the header. The first row names the columns,
    in any order (case and surrounding spaces ignored)::

        username,password,partner_id,legal_name,country,location,already_authorised

    - ``username``: the membership account's sign-in, letters, digits and @ . + - _ (case ignored);
    - ``password``: required when the row creates the account, checked against the portal's password
      rules and stored only as a hash. For an existing account leave it empty, or give its current
      password: an import never changes a password (a row with another password is refused);
    - ``partner_id``: seven digits (full-width digits are read as digits);
    - ``legal_name``, ``location``: one line of text each;
    - ``country``: the ISO 3166 two-letter code (JP, US; case ignored);
    - ``already_authorised``: true/false, yes/no, 1/0 or はい/いいえ; empty means false.

    One row is one organization profile: an account with several profiles has several rows.

What a row does, reported row by row (rows are numbered as a spreadsheet shows them: the header is 1)
    - created: a new profile (and the account, the first time its username appears);
    - updated: the partner ID is already this account's; its name, country, location or flag changed;
    - skipped: the same as an earlier row of the file, or as what the registry already holds;
    - refused: with the column at fault and why; nothing of that row is saved.
    Every valid row is saved. A file that cannot be read as such a CSV (too large, too many rows, not
    UTF-8, not text, a wrong header, broken quoting) is refused as a whole, and nothing is saved.

One audit row per import holds the counts and the refused row numbers, never a password.
"""

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction
from django.template.defaultfilters import filesizeformat
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from enrollment.models import MembershipAccount, PartnerProfile
from enrollment.services.membership_accounts import (
    PROFILE_FIELDS,
    account_insert,
    membership_account_find,
    new_password_check,
    profile_insert,
    profile_values_clean,
    username_clean,
)
from portal.audit.services import audit_record
from portal.errors import DomainError

IMPORT_COLUMNS = ("username", "password", *PROFILE_FIELDS)
IMPORT_MAX_BYTES = 256 * 1024
# Each new account costs one password hash (tens of milliseconds with Argon2): this many keep an import
# well inside one request.
IMPORT_MAX_ROWS = 200

_TRUE = {"true", "yes", "y", "1", "はい"}
_FALSE = {"false", "no", "n", "0", "いいえ", ""}


class RowOutcome(models.TextChoices):
    CREATED = "created", _("Created")
    UPDATED = "updated", _("Updated")
    SKIPPED = "skipped", _("Skipped")
    REFUSED = "refused", _("Refused")


@dataclass(frozen=True)
class ImportRow:
    number: int
    outcome: str
    username: str
    partner_id: str
    message: str
    #: the column at fault, for a refused row
    column: str = ""

    @property
    def outcome_label(self) -> str:
        return RowOutcome(self.outcome).label


@dataclass
class ImportReport:
    file_name: str
    rows: list[ImportRow] = field(default_factory=list)
    accounts_created: int = 0

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)

    @property
    def counts(self) -> dict[str, int]:
        return {outcome: self.count(outcome) for outcome in RowOutcome.values}

    @property
    def refused_rows(self) -> list[ImportRow]:
        return [row for row in self.rows if row.outcome == RowOutcome.REFUSED]


# --- Reading the file: all or nothing ---------------------------------------------------------------------


def _file_refused(message, code: str) -> DomainError:
    return DomainError(message, code=code, field="file")


def _text_read(file) -> str:
    size = getattr(file, "size", None)
    too_large = size is not None and size > IMPORT_MAX_BYTES
    data = b"" if too_large else file.read(IMPORT_MAX_BYTES + 1)
    if too_large or len(data) > IMPORT_MAX_BYTES:
        raise _file_refused(
            _("The file is larger than %(size)s. Split it into smaller files.")
            % {"size": filesizeformat(IMPORT_MAX_BYTES)},
            "file_too_large",
        )
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _file_refused(
            _("The file is not UTF-8 text. In Excel, save it as “CSV UTF-8 (comma delimited)”."),
            "file_not_utf8",
        ) from error
    if "\x00" in text:
        raise _file_refused(_("The file is not a CSV file."), "file_not_csv")
    return text


def _records_read(file) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header's column names and the numbered data rows (blank lines left out)."""
    reader = csv.reader(io.StringIO(_text_read(file), newline=""), strict=True)
    try:
        # The header first: a file with another delimiter says so, rather than that its quotes are broken.
        first = next(reader, [])
        if not any(cell.strip() for cell in first):
            raise _file_refused(_("The file is empty."), "file_empty")
        header = [cell.strip().lower() for cell in first]
        if sorted(header) != sorted(IMPORT_COLUMNS):
            raise _file_refused(
                _("The first row must name exactly these columns, in any order: %(columns)s.")
                % {"columns": ", ".join(IMPORT_COLUMNS)},
                "file_header",
            )
        records = list(reader)
    except csv.Error as error:
        raise _file_refused(
            _("The file is not a valid CSV file (check its quotation marks)."), "file_not_csv"
        ) from error
    rows = [
        (number, record)
        for number, record in enumerate(records, start=2)
        if any(cell.strip() for cell in record)
    ]
    if not rows:
        raise _file_refused(_("The file has no rows below its header."), "file_no_rows")
    if len(rows) > IMPORT_MAX_ROWS:
        raise _file_refused(
            _("The file has %(count)d rows; at most %(limit)d are imported at once. Split it.")
            % {"count": len(rows), "limit": IMPORT_MAX_ROWS},
            "file_too_many_rows",
        )
    return header, rows


def _boolean_read(value: str) -> bool:
    normalised = value.strip().lower()
    if normalised in _TRUE:
        return True
    if normalised in _FALSE:
        return False
    raise DomainError(
        _("Use true or false (or yes/no, 1/0); empty means false."),
        code="invalid",
        field="already_authorised",
    )


# --- One row at a time -------------------------------------------------------------------------------------


@dataclass
class _AcceptedRow:
    number: int
    username_key: str
    values: dict[str, Any]


class _Importer:
    """Decides and saves row after row; remembers what earlier rows of the file did."""

    def __init__(self, report: ImportReport):
        self.report = report
        # Accounts created by this file: their password, in memory for the length of the import only, so
        # that the account's next rows can give it again without another hash.
        self.created_passwords: dict[str, str] = {}
        # Passwords rows gave for existing accounts: whether each was the account's (one hash each).
        self.password_matches: dict[tuple[str, str], bool] = {}
        self.accepted: dict[str, _AcceptedRow] = {}

    def row(self, number: int, cells: dict[str, str]) -> ImportRow:
        shown = {"username": cells["username"].strip()[:150], "partner_id": cells["partner_id"].strip()[:20]}
        try:
            outcome, message = self._decide_and_save(number, cells, shown)
        except DomainError as error:
            return ImportRow(
                number, RowOutcome.REFUSED, **shown, message=str(error.message), column=error.field or ""
            )
        return ImportRow(number, outcome, **shown, message=str(message))

    def _decide_and_save(self, number: int, cells: dict[str, str], shown: dict[str, str]):
        username = username_clean(cells["username"])
        shown["username"] = username
        values = profile_values_clean(
            partner_id=cells["partner_id"],
            legal_name=cells["legal_name"],
            country=cells["country"],
            location=cells["location"],
            already_authorised=False,
        )
        values["already_authorised"] = _boolean_read(cells["already_authorised"])
        shown["partner_id"] = values["partner_id"]
        key, password = username.lower(), cells["password"]

        account = self._account_for(key, username, password)
        earlier = self.accepted.get(values["partner_id"])
        if earlier is not None:
            if (earlier.username_key, earlier.values) == (key, values):
                return RowOutcome.SKIPPED, _("The same as row %(row)d.") % {"row": earlier.number}
            raise DomainError(
                _("This partner ID is already on row %(row)d of this file.") % {"row": earlier.number},
                code="partner_id_repeated",
                field="partner_id",
            )

        existing = PartnerProfile.objects.select_for_update().filter(partner_id=values["partner_id"]).first()
        if existing is not None and (account is None or existing.account_id != account.pk):
            raise DomainError(
                _("This partner ID belongs to another membership account."),
                code="partner_id_taken",
                field="partner_id",
            )
        accepted = _AcceptedRow(number, key, values)
        if existing is not None:
            changed = [name for name in PROFILE_FIELDS if getattr(existing, name) != values[name]]
            self.accepted[values["partner_id"]] = accepted
            if not changed:
                return RowOutcome.SKIPPED, _("Already in the registry.")
            for name in changed:
                setattr(existing, name, values[name])
            existing.save(update_fields=changed)
            labels = [str(PartnerProfile._meta.get_field(name).verbose_name) for name in changed]
            return RowOutcome.UPDATED, _("Profile updated: %(fields)s.") % {"fields": ", ".join(labels)}

        account_is_new = account is None
        with transaction.atomic():  # the row's account and profile: both saved, or neither
            if account_is_new:
                account = account_insert(username=username, password=password)
            profile_insert(account=account, values=values)
        self.accepted[values["partner_id"]] = accepted
        if not account_is_new:
            return RowOutcome.CREATED, _("Profile added to the existing membership account.")
        self.created_passwords[key] = password
        self.report.accounts_created += 1
        return RowOutcome.CREATED, _("Membership account and profile created.")

    def _account_for(self, key: str, username: str, password: str) -> MembershipAccount | None:
        """The row's existing account (None when the row would create it), once its password is checked:
        an import never changes one."""
        if key in self.created_passwords:
            if password and not constant_time_compare(password, self.created_passwords[key]):
                raise self._password_differs()
            return membership_account_find(username)
        account = membership_account_find(username)
        if account is None:
            new_password_check(password, username=username)
            return None
        if password:
            if (key, password) not in self.password_matches:
                self.password_matches[key, password] = account.check_password(password)
            if not self.password_matches[key, password]:
                raise self._password_differs()
        return account

    @staticmethod
    def _password_differs() -> DomainError:
        return DomainError(
            _(
                "This membership account already exists with another password, and an import never "
                "changes a password: leave the password empty."
            ),
            code="password_differs",
            field="password",
        )


@transaction.atomic
def membership_accounts_import_csv(*, file, by: User) -> ImportReport:
    """Import membership accounts and their profiles from a CSV file (format above); every valid row is
    saved and the report says what happened to each row. A file that is not such a CSV raises a
    DomainError, and nothing is saved."""
    header, rows = _records_read(file)
    report = ImportReport(file_name=str(getattr(file, "name", "") or "")[:100])
    importer = _Importer(report)
    for number, record in rows:
        if len(record) != len(header):
            report.rows.append(
                ImportRow(
                    number,
                    RowOutcome.REFUSED,
                    username="",
                    partner_id="",
                    message=str(
                        _("This row has %(count)d cells; the header has %(expected)d.")
                        % {"count": len(record), "expected": len(header)}
                    ),
                )
            )
            continue
        report.rows.append(importer.row(number, dict(zip(header, record, strict=True))))
    audit_record(
        action="membership_accounts.imported",
        actor=by,
        after={
            "file_name": report.file_name,
            "rows": len(report.rows),
            **report.counts,
            "accounts_created": report.accounts_created,
            "refused_rows": [row.number for row in report.refused_rows],
        },
    )
    return report
