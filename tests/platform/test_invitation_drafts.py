"""The shared invitation draft (portal/invitations/drafts.py): what a partner may send, and how."""

import pytest

from portal.errors import DomainError
from portal.invitations.drafts import draft_clean, mailto_href

LINK = "https://portal.example.com/invitations/partnership/abc123/"


def test_a_clean_draft_keeps_the_text_with_one_line_subject_and_unix_line_ends():
    subject, body = draft_clean(subject="  Join   us \n", body=f"Hello,\r\n\r\n{LINK}\r\n", link=LINK)
    assert subject == "Join us"
    assert body == f"Hello,\n\n{LINK}\n"


@pytest.mark.parametrize(
    ("subject", "body", "field", "code"),
    [
        ("", f"Hi {LINK}", "subject", "required"),
        ("x" * 201, f"Hi {LINK}", "subject", "too_long"),
        ("Join us", "   ", "body", "required"),
        ("Join us", "Hi, the link went missing", "body", "link_missing"),
        ("Join us", f"Hi {LINK[:-2]}", "body", "link_missing"),
        ("Join us", f"Hi {LINK}\u202e", "body", "control_characters"),
        ("Join us", f"{LINK} " + "x" * 10_000, "body", "too_long"),
    ],
)
def test_a_draft_without_its_link_or_with_bad_text_is_a_field_error(subject, body, field, code):
    with pytest.raises(DomainError) as error:
        draft_clean(subject=subject, body=body, link=LINK)
    assert (error.value.field, error.value.code) == (field, code)


def test_the_mail_app_link_is_an_rfc_6068_mailto():
    href = mailto_href(to="ann+sales@example.com", subject="Join us & more", body=f"Line 1\n{LINK}")
    assert href == (
        "mailto:ann%2Bsales@example.com?subject=Join%20us%20%26%20more"
        "&body=Line%201%0D%0Ahttps%3A%2F%2Fportal.example.com%2Finvitations%2Fpartnership%2Fabc123%2F"
    )
