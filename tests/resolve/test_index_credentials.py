"""Index credentials reach uv through its environment, never its command line.

The unit tests check the arguments and the environment `IndexConfig` makes; the slow ones run
real uv (resolve, then install) against a loopback index that demands basic auth, through a
`BAKERY_UV` wrapper that records every argv uv is given.
"""

from __future__ import annotations

import sys

import pytest

from bakery.envs.pypi_install import create_venv, install_pypi
from bakery.resolve.indexes import IndexConfig
from bakery.resolve.pypi import resolve_pypi
from bakery.settings import use
from bakery.spec import EnvSpec, Requirement
from bakery.uvbin import uv_binary
from tests.fixtures.argv_watch import holds, recorded_calls, recording_wrapper
from tests.fixtures.private_index import PACKAGE, VERSION, serve_private_index


def test_uv_args_name_the_indexes_with_credentials_and_hold_none():
    indexes = IndexConfig(
        index_url="https://alice:s3cret@main.example/simple",
        extra_index_urls=("https://mirror.example/simple", "https://tok-123@extra.example/simple"),
    )
    assert indexes.uv_args() == [
        "--default-index", "bakery0=https://main.example/simple",
        "--index", "https://mirror.example/simple",
        "--index", "bakery2=https://extra.example/simple",
        "--index-strategy", "unsafe-best-match",
    ]  # fmt: skip
    assert indexes.uv_credentials() == {
        "UV_INDEX_BAKERY0_USERNAME": "alice",
        "UV_INDEX_BAKERY0_PASSWORD": "s3cret",
        "UV_INDEX_BAKERY2_USERNAME": "tok-123",  # a token as the user name: no password
    }


def test_percent_encoded_credentials_reach_uv_decoded():
    # uv takes the variables' values as they are, while a URL's userinfo is percent-encoded
    indexes = IndexConfig(index_url="https://a%40corp:p%40ss%3Aw%25rd@host.example/simple")
    assert indexes.uv_credentials() == {
        "UV_INDEX_BAKERY0_USERNAME": "a@corp",
        "UV_INDEX_BAKERY0_PASSWORD": "p@ss:w%rd",
    }
    assert indexes.uv_args() == ["--default-index", "bakery0=https://host.example/simple"]


def test_indexes_without_credentials_need_no_environment():
    indexes = IndexConfig(index_url="https://pypi.example/simple")
    assert indexes.uv_args() == ["--default-index", "https://pypi.example/simple"]
    assert indexes.uv_credentials() == {}
    assert IndexConfig().uv_args() == [] and IndexConfig().uv_credentials() == {}


@pytest.mark.slow
def test_real_uv_gets_the_credentials_but_no_argv_holds_them(tmp_path, monkeypatch):
    password = 'p@ss:w%rd "quoted" =x'
    wrapper, log = recording_wrapper(tmp_path / "bin", "uv", uv_binary())
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))  # nothing served from a cache
    monkeypatch.setenv("BAKERY_UV", str(wrapper))
    use(None)
    with serve_private_index(tmp_path / "index", "alice@corp", password) as index:
        indexes = IndexConfig(extra_index_urls=(index.url,))
        spec = EnvSpec(python="3.11", pypi=(Requirement(PACKAGE, f"=={VERSION}"),))
        env = resolve_pypi(spec, "3.11", indexes=indexes)
        assert [(p.name, p.version) for p in env.packages] == [(PACKAGE, VERSION)]
        python = create_venv(tmp_path / "venv", sys.executable)
        install_pypi(env, python, indexes=indexes)
    assert list((tmp_path / "venv").glob(f"lib/python*/site-packages/{PACKAGE.replace('-', '_')}"))
    calls = [call["argv"] for call in recorded_calls(log)]
    assert {tuple(call[:2]) for call in calls} >= {("pip", "compile"), ("pip", "install")}
    assert not [call for call in calls if holds(call, (password, "alice"))]
