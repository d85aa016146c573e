"""Reading rendered pages in tests: a page's HTML with each response's CSRF tokens masked, so that two
responses of the same page compare byte for byte (the memo tests: tests/*/test_*memo*.py)."""

import re

#: A form's CSRF input; group 1 is the token, which differs on every response.
CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')


def csrf_masked(html: str) -> str:
    return CSRF_TOKEN.sub('name="csrfmiddlewaretoken" value=""', html)


def body_of(response, status: int = 200) -> str:
    """The response's HTML, CSRF tokens masked, after checking its status."""
    assert response.status_code == status
    return csrf_masked(response.content.decode())
