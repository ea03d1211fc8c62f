"""The code home tasks import Metaflow from: reused across runs, with the installed bytecode."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from metaflow_extensions.bakery.plugins.decorators.code_home import link_bytecode
from tests.fixtures.flows import two_step_flow

FLOW = two_step_flow(
    "HomeFlow",
    start='@pypi(packages={"six": "1.17.0"})',
)


def make_source(root: Path, name: str) -> Path:
    folder = root / name
    (folder / "__pycache__").mkdir(parents=True)
    (folder / "a.py").write_text("x = 1\n")
    (folder / "b.py").write_text("y = 2\n")
    return folder


def test_folders_of_symlinks_get_their_sources_bytecode(tmp_path):
    source = make_source(tmp_path, "site/pkg")
    other = make_source(tmp_path, "elsewhere/pkg")
    home = tmp_path / "home"
    (home / "pkg").mkdir(parents=True)
    (home / "mixed").mkdir()
    (home / "real").mkdir()
    for name in ("a.py", "b.py"):
        (home / "pkg" / name).symlink_to(source / name)
    (home / "mixed" / "a.py").symlink_to(source / "a.py")
    (home / "mixed" / "b.py").symlink_to(other / "b.py")
    (home / "real" / "a.py").write_text("x = 1\n")
    assert link_bytecode(home) == 1
    assert os.readlink(home / "pkg" / "__pycache__") == str(source / "__pycache__")
    assert not (home / "mixed" / "__pycache__").exists()
    assert not (home / "real" / "__pycache__").exists()


@pytest.mark.slow
@pytest.mark.compat
def test_tasks_find_metaflows_installed_bytecode(flows):
    import metaflow

    installed = Path(metaflow.__file__).parent / "__pycache__"
    flows.run(flows.write("home.py", FLOW)).check()
    homes = list((flows.cache_dir / "code").glob("*/.mf_code/metaflow"))
    assert homes, "no code home was made"
    assert installed.is_dir(), "scripts/setup.sh compiles site-packages, as pip install does"
    linked = homes[0] / "__pycache__"
    assert linked.is_symlink() and Path(os.readlink(linked)) == installed
