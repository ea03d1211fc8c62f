"""Finding interpreters for `python=` and the errors when none fits."""

from __future__ import annotations

import sys

import pytest

from bakery.errors import PythonNotFoundError
from bakery.resolve import python as python_finder
from bakery.resolve.python import find_interpreter, version_matches


@pytest.mark.parametrize(
    "request_,version,expected",
    [
        ("3.11", "3.11.7", True),
        ("3.11", "3.12.1", False),
        ("3.11.7", "3.11.7", True),
        ("3.11.7", "3.11.8", False),
        (">=3.10,<3.12", "3.11.2", True),
        (">=3.12", "3.11.2", False),
    ],
)
def test_version_matching(request_, version, expected):
    assert version_matches(request_, version) is expected


def test_the_running_interpreter_is_preferred():
    found = find_interpreter("%d.%d" % sys.version_info[:2])
    assert found.version.startswith("%d.%d" % sys.version_info[:2])


def test_a_missing_version_names_itself_and_the_ways_out(monkeypatch):
    monkeypatch.delenv("BAKERY_PYTHON_DOWNLOADS", raising=False)
    python_finder._found.clear()
    with pytest.raises(PythonNotFoundError) as info:
        find_interpreter("2.7.18")
    message = str(info.value)
    assert "no Python 2.7.18" in message and "BAKERY_PYTHONS" in message
    assert "python='2.7'" in message


def test_a_failed_download_names_the_mirror(monkeypatch):
    monkeypatch.setenv("BAKERY_PYTHON_DOWNLOADS", "1")
    monkeypatch.setenv("UV_PYTHON_INSTALL_MIRROR", "http://127.0.0.1:9/python-builds")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    python_finder._found.clear()
    with pytest.raises(PythonNotFoundError, match="127.0.0.1:9/python-builds"):
        find_interpreter("2.7.18")
