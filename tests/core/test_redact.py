"""`redact()` hides the credentials of every URL in a message, whatever characters the password holds."""

from __future__ import annotations

import pytest

from bakery.resolve.indexes import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:secret@host/simple", "https://REDACTED@host/simple"),
        # A raw '@' in the password: the userinfo runs to the last '@' before the host.
        ("https://user:p@ss@host/simple", "https://REDACTED@host/simple"),
        ("https://user:p@ss@host", "https://REDACTED@host"),
        (
            "uv failed: https://u:a@b@c@idx.example/simple/x/ 401",
            "uv failed: https://REDACTED@idx.example/simple/x/ 401",
        ),
        (
            "index https://u:p@ss@one.example/s and https://two.example/s",
            "index https://REDACTED@one.example/s and https://two.example/s",
        ),
    ],
)
def test_credentials_are_hidden(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert "ss@" not in redact(text) and "secret" not in redact(text)


@pytest.mark.parametrize(
    "text",
    ["https://host/simple/pkg@1.0", "mail admin@example.com about https://host/simple"],
)
def test_text_without_credentials_is_unchanged(text: str) -> None:
    assert redact(text) == text
