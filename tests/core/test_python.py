"""Finding interpreters for `python=` and the errors when none fits."""

from __future__ import annotations

import sys

import pytest

from bakery.errors import PythonNotFoundError, SpecError
from bakery.resolve import python as python_finder
from bakery.resolve.python import find_interpreter, refuse_python2, version_matches


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


@pytest.mark.parametrize("request_", ["2.7", "2.7.18", "==2.7.*", "<3"])
def test_python_2_is_refused_with_the_pythons_found_in_numeric_order(request_):
    with pytest.raises(SpecError) as info:
        refuse_python2(request_, decorator="pypi_base")
    message = str(info.value)
    assert message.startswith(
        f"@pypi_base(python='{request_}'): Python 2 is not supported (Metaflow and Bakery run "
        "on Python 3); ask for a Python 3 version, e.g. one of those on this machine: "
    )
    found = message.rsplit(": ", 1)[1].split(", ")
    assert found == sorted(found, key=lambda v: tuple(int(p) for p in v.split(".")))
    assert "%d.%d.%d" % sys.version_info[:3] in found


@pytest.mark.parametrize("request_", ["3.11", ">=2.7", "3.10.1", ">=3.8,<4"])
def test_python_3_requests_pass(request_):
    refuse_python2(request_)


def test_found_versions_sort_numerically(tmp_path, monkeypatch):
    # two interpreters whose names sort the other way as text: 3.10 after 3.9
    folder = tmp_path / "pythons"
    for version in ("3.10.13", "3.9.18"):
        script = folder / f"python{version}"
        script.parent.mkdir(exist_ok=True)
        script.write_text(f"#!/bin/sh\necho {version} CPython\n")
        script.chmod(0o755)
    monkeypatch.setenv("BAKERY_PYTHONS", ":".join(str(p) for p in sorted(folder.iterdir())))
    found = python_finder.found_versions().split(", ")
    assert found.index("3.9.18") < found.index("3.10.13")


def test_known_interpreter_is_one_at_hand_and_never_a_probe(monkeypatch):
    def no_probe(*args, **kwargs):
        raise AssertionError("known_interpreter must not look for interpreters")

    monkeypatch.setattr(python_finder, "_probe", no_probe)
    monkeypatch.setattr(python_finder, "_uv_paths", no_probe)
    running = python_finder._running_interpreter()
    assert python_finder.known_interpreter(running.version) == running.path
    assert python_finder.known_interpreter(running.minor) == running.path
    assert python_finder.known_interpreter("3.99.0") is None
    # one found before for another minor is at hand too
    other = python_finder.Interpreter(running.path, "3.99.1")
    monkeypatch.setitem(python_finder._found, "3.99", other)
    assert python_finder.known_interpreter("3.99") == running.path


def test_uv_resolves_with_the_interpreter_at_hand(monkeypatch):
    """uv is told which interpreter to build source distributions with: it does not look one up
    through PATH (pyenv's shims cost ~0.1 s of shell scripts per lock)."""
    from bakery.resolve import pypi
    from bakery.spec import EnvSpec, Requirement, TargetPlatform

    commands = []
    real_run = pypi.subprocess.run

    def recording_run(cmd, *args, **kwargs):
        commands.append(cmd)
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(pypi.subprocess, "run", recording_run)
    running = python_finder._running_interpreter()
    spec = EnvSpec(
        python=running.minor,
        pypi=(Requirement("six", "==1.16.0"),),
        platform=TargetPlatform.host(),
    )
    env = pypi.resolve_pypi(spec, running.version)
    assert [p.name for p in env.packages] == ["six"]
    (command,) = commands
    assert command[command.index("--python") + 1] == str(running.path)
