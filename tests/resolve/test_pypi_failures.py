"""uv's failure reports turned into one error naming the pins and the nearest versions there are.

The reports are uv's own words (captured from `uv pip compile`); the index is a file:// simple
index written here, so nothing reaches the network.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bakery.resolve.indexes import IndexConfig
from bakery.resolve.pypi_failures import classify_failure

NO_VERSION = """error: No solution found when resolving dependencies
  cause: Because there is no version of requests==0.0.999 and you require requests==0.0.999, we can conclude that your requirements are unsatisfiable.
"""
CONFLICT = """error: No solution found when resolving dependencies
  cause: Because requests==2.32.3 depends on urllib3>=1.21.1,<3 and you require requests==2.32.3, we can conclude that you require urllib3>=1.21.1,<3.
         And because you require urllib3<1.0, we can conclude that your requirements are unsatisfiable.
"""
ONLY = """error: No solution found when resolving dependencies
  cause: Because only requests<=2.32.3 is available and you require requests>=99, we can conclude that your requirements are unsatisfiable.
"""
TRANSITIVE = """error: No solution found when resolving dependencies
  cause: Because pandas==2.2.3 depends on numpy{python_full_version < '3.12'}>=1.23.2 and you require pandas==2.2.3, we can conclude that you require numpy>=1.23.2.
         And because you require numpy<1.20, we can conclude that your requirements are unsatisfiable.
"""


@pytest.fixture
def index(tmp_path: Path) -> IndexConfig:
    releases = {
        "requests": ["0.2.0", "0.2.1", "0.2.2", "0.2.3", "2.31.0", "2.32.3", "2.33.0rc1"],
        "urllib3": ["0.3", "1.0", "1.21.1", "1.22", "1.23", "2.2.3"],
        "numpy": ["1.19.5", "1.23.2", "1.23.3", "1.23.4", "2.1.3"],
    }
    for name, versions in releases.items():
        folder = tmp_path / "simple" / name
        folder.mkdir(parents=True)
        links = [f'<a href="../../f/{name}-{v}.tar.gz">{name}-{v}.tar.gz</a>' for v in versions]
        # a yanked release is never suggested
        links.append(f'<a href="x" data-yanked="">{name}-9.9.9-py3-none-any.whl</a>')
        (folder / "index.html").write_text("<html><body>" + "\n".join(links) + "</body></html>")
    return IndexConfig(index_url=(tmp_path / "simple").as_uri())


def test_a_missing_version_lists_the_nearest_and_the_newest(index):
    error = classify_failure(NO_VERSION, "requests==0.0.999\n", index)
    assert str(error) == (
        f"requests==0.0.999 is not available on {index.index_url} (nearest: 0.2.0, 0.2.1, "
        "0.2.2; newest 2.32.3). Pin an available version ('' accepts any version)"
    )


def test_a_range_above_every_release_lists_the_newest(index):
    error = classify_failure(ONLY, "requests>=99\n", index)
    assert "requests>=99 is not available" in str(error)
    assert "(nearest: 0.2.3, 2.31.0, 2.32.3)" in str(error)


def test_conflicting_pins_name_both_and_the_versions_that_fit(index):
    error = classify_failure(CONFLICT, "requests==2.32.3\nurllib3<1.0\n", index)
    assert str(error) == (
        "requests==2.32.3 and urllib3<1.0 cannot be installed together: requests==2.32.3 "
        "needs urllib3>=1.21.1,<3. Versions of urllib3 that requests==2.32.3 accepts, nearest "
        "urllib3<1.0: 1.21.1, 1.22, 1.23; newest 2.2.3. Change one of these pins"
    )


def test_a_conflict_through_a_marker_names_the_dependency_without_it(index):
    error = classify_failure(TRANSITIVE, "numpy<1.20\npandas==2.2.3\n", index)
    message = str(error)
    assert message.startswith("numpy<1.20 and pandas==2.2.3 cannot be installed together")
    assert "pandas==2.2.3 needs numpy>=1.23.2." in message
    assert "nearest numpy<1.20: 1.23.2, 1.23.3, 1.23.4; newest 2.1.3" in message


def test_no_sentence_ends_twice_and_nothing_points_above(index):
    for report, requirements in [
        (NO_VERSION, "requests==0.0.999"),
        (CONFLICT, "requests==2.32.3\nurllib3<1.0"),
    ]:
        message = str(classify_failure(report, requirements, index))
        assert ".." not in message and "above" not in message


def test_an_index_that_cannot_tell_still_names_the_pin(tmp_path):
    empty = IndexConfig(index_url=(tmp_path / "nothing").as_uri())
    error = classify_failure(NO_VERSION, "requests==0.0.999\n", empty)
    assert str(error).startswith("requests==0.0.999 is not available on ")
    assert "nearest" not in str(error)
