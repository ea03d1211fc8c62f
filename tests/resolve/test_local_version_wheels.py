"""Wheels of local versions (`2.4.1+cpu`, as PyTorch's indexes publish them) are linked with the
`+` percent-encoded; the lock keeps the file's real name, and an image bakes from it."""

from __future__ import annotations

from bakery.image.stage import stage_env
from bakery.resolve.indexes import IndexConfig
from bakery.resolve.pypi import resolve_pypi
from bakery.spec import EnvSpec, TargetPlatform, pypi_requirements
from tests.fixtures import wheelhouse


def test_a_local_version_wheel_is_locked_under_its_real_name_and_stages(tmp_path):
    module = {"gen_local/__init__.py": "X = 1\n"}
    wheel = wheelhouse.make_wheel(tmp_path / "wheels", "gen-local", "1.0+cpu", module)
    index = wheelhouse.simple_index(tmp_path, [wheel])
    assert "%2B" in (tmp_path / "simple" / "gen-local" / "index.html").read_text()
    spec = EnvSpec(
        python="3.11",
        pypi=pypi_requirements({"gen-local": "1.0"}),
        platform=TargetPlatform("linux-64", "2.36"),
    )
    env = resolve_pypi(spec, "3.11", indexes=IndexConfig(index_url=index))
    (package,) = env.packages
    assert package.version == "1.0+cpu"
    assert package.filename == "gen_local-1.0+cpu-py3-none-any.whl"
    (staged,) = stage_env(env, tmp_path / "cache").packages
    assert staged.wheel.name == package.filename and staged.size > 0
