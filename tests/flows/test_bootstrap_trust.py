"""The remote bootstrap checks the tool wheels it takes from the datastore before using them:
whoever can replace a file in the datastore must not get to run code in every task."""

from __future__ import annotations

import zipfile

import pytest

from tests.fixtures.flows import two_step_flow
from tests.fixtures.remote import bootstrap, code_package

pytestmark = [pytest.mark.slow, pytest.mark.network]

FLOW = two_step_flow("ToolFlow", start='@pypi(packages={"six": "1.17.0"})')


def test_a_replaced_uv_wheel_in_the_datastore_is_refused_unrun(flows, tmp_path):
    flow = flows.write("tools.py", FLOW)
    flows.run(flow, METAFLOW_BAKERY_SNAPSHOT="always").check()
    datastore = flows.folder / "datastore"
    (wheel,) = datastore.rglob("tools/uv/*/*.whl")
    ran = tmp_path / "the-fake-uv-ran"
    with zipfile.ZipFile(wheel, "w") as archive:  # same key, other bytes
        archive.writestr("uv-9.9.data/scripts/uv", f"#!/bin/sh\ntouch {ran}\nexit 1\n")

    remote, lock = code_package(flows, flow, tmp_path)
    result = bootstrap(
        remote,
        "tools.bakery.lock",
        lock["steps"]["start"]["linux-64"],
        "local",
        METAFLOW_DATASTORE_SYSROOT_LOCAL=str(datastore),
        HOME=str(tmp_path / "home"),
        UV_CACHE_DIR=str(tmp_path / "empty-uv-cache"),
    )

    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "the uv wheel in the datastore" in result.stderr
    assert "does not have the sha256 its key names" in result.stderr
    assert not ran.exists(), "the replaced wheel's uv was run"
    assert not (remote / "bakery-env").exists() and not list(remote.rglob("uv-9.9.data"))
