"""requirements.txt: the subset of pip's syntax Bakery locks, and one clear error for the rest."""

from __future__ import annotations

import pytest

from bakery.errors import SourceFileError
from bakery.sources import step_files
from bakery.sources.compose import Named, SourcePlan
from bakery.spec import TargetPlatform

LINUX = TargetPlatform.parse("linux-64")


def read(tmp_path, python="3.11", platform=LINUX):
    plan = SourcePlan(files=[Named("pypi", "requirements", "requirements.txt", "pypi")])
    return step_files(plan, tmp_path, platform=platform, python=python)


def test_requirements_with_comments_continuations_markers_includes_and_constraints(tmp_path):
    (tmp_path / "requirements.txt").write_text(
        "# team pins\n"
        "six==1.17.0  # inline comment\n"
        "Tabulate[widechars] \\\n"
        "    >=0.9\n"
        "colorama; sys_platform == 'win32'\n"
        "-r extra/more.txt\n"
        "--constraint constraints.txt\n"
    )
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "more.txt").write_text("idna>=3\n-c ../constraints.txt\n")
    (tmp_path / "constraints.txt").write_text("idna==3.7\n")
    files = read(tmp_path)
    assert [(r.name, r.specifier) for r in files.pypi] == [
        ("idna", ">=3"),
        ("six", "==1.17.0"),
        ("tabulate[widechars]", ">=0.9"),
    ]
    assert [(r.name, r.specifier) for r in files.constraints] == [("idna", "==3.7")]
    assert [f.path for f in files.files] == [
        "requirements.txt",
        "extra/more.txt",
        "constraints.txt",
    ]


def test_markers_are_evaluated_for_the_step_platform(tmp_path):
    (tmp_path / "requirements.txt").write_text("appnope; sys_platform == 'darwin'\nsix\n")
    assert [r.name for r in read(tmp_path).pypi] == ["six"]
    mac = read(tmp_path, platform=TargetPlatform.parse("osx-arm64"))
    assert [r.name for r in mac.pypi] == ["appnope", "six"]


def test_editing_the_file_changes_its_hash(tmp_path):
    (tmp_path / "requirements.txt").write_text("six\n")
    before = read(tmp_path).files
    (tmp_path / "requirements.txt").write_text("six  # same package, other text\n")
    assert read(tmp_path).files != before


@pytest.mark.parametrize(
    "line, fragment",
    [
        ("--index-url https://example.org/simple", "PIP_INDEX_URL"),
        ("--extra-index-url https://example.org/simple", "PIP_EXTRA_INDEX_URL"),
        ("-e ./mypkg", "editable installs"),
        ("./mypkg", "path or URL"),
        ("pkg @ https://example.org/pkg.whl", "URL"),
        ("six==1.17.0 --hash=sha256:abc", "pylock.toml"),
        ("--pre", "'--pre' is not supported"),
        ("six===", "not a valid requirement"),
    ],
)
def test_unsupported_lines_are_refused_naming_the_line(tmp_path, line, fragment):
    (tmp_path / "requirements.txt").write_text(f"six\n{line}\n")
    with pytest.raises(SourceFileError) as error:
        read(tmp_path)
    assert "requirements.txt, line 2" in str(error.value)
    assert fragment in str(error.value)


def test_missing_file_and_include_cycles_are_one_error(tmp_path):
    with pytest.raises(SourceFileError, match="does not exist.*relative to the flow's folder"):
        read(tmp_path)
    (tmp_path / "requirements.txt").write_text("-r requirements.txt\n")
    with pytest.raises(SourceFileError, match="includes itself"):
        read(tmp_path)
