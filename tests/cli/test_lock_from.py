"""`bakery lock --from FILE` for scripts and CI: a file's environment locked on its own into a
Bakery lockfile that `bakery bake --lock` bakes and `bakery env publish --lock` publishes."""

from __future__ import annotations

import json

import pytest

from bakery.lock import read_lock

pytestmark = [pytest.mark.slow, pytest.mark.network]


def test_lock_a_requirements_file_for_two_platforms(flows):
    (flows.folder / "requirements.txt").write_text("markupsafe==3.0.2\n")
    done = flows.bakery(
        "lock", "--from", "requirements.txt", "--platform", "linux-64", "--platform", "osx-arm64"
    ).check()
    assert "requirements.bakery.lock" in done.output
    lock = read_lock(flows.folder / "requirements.bakery.lock")
    assert set(lock.steps["env"]) == {"linux-64", "osx-arm64"}
    files = {
        platform: lock.environments[env_id].packages[0].filename
        for platform, env_id in lock.steps["env"].items()
    }
    assert "manylinux" in files["linux-64"] and "macosx" in files["osx-arm64"]
    # nothing is added for Metaflow: the environment is what the file says
    assert [p.name for p in lock.environments[lock.steps["env"]["linux-64"]].packages] == [
        "markupsafe"
    ]


def test_publish_a_file_locked_on_its_own_and_use_it(flows):
    (flows.folder / "requirements.txt").write_text("six==1.17.0\nrequests\n")
    flows.bakery("lock", "--from", "requirements.txt").check()
    published = flows.bakery(
        "env", "publish", "--lock", "requirements.bakery.lock", "--step", "env", "ci/base:1"
    ).check()
    assert "ci/base:1 (linux-64) published" in published.output
    shown = json.loads(flows.bakery("env", "show", "ci/base", "--json").check().stdout)
    assert shown["platforms"]["linux-64"]["source"]["lockfile"] == "requirements.bakery.lock"
    again = flows.bakery("env", "publish", "--from", "requirements.txt", "ci/base:1").check()
    assert "already published" in again.output  # the same file locks to the same environment


def test_an_unknown_file_kind_is_one_error(flows):
    (flows.folder / "Pipfile").write_text("[packages]\n")
    result = flows.bakery("lock", "--from", "Pipfile")
    assert result.returncode == 1 and "requirements files (*.txt, *.in)" in result.output
    both = flows.bakery("lock", "flow.py", "--from", "Pipfile")
    assert both.returncode == 1 and "name a flow file" in both.output
