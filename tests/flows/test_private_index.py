"""A private index with credentials: used for resolving, installing and snapshotting, and the
credentials never reach the lockfile, the output or the snapshot."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.slow]

FLOW = """
from metaflow import FlowSpec, pypi, step

class PrivateFlow(FlowSpec):
    @pypi(packages={"bakery-private-pkg": "1.0"})
    @step
    def start(self):
        import bakery_private_pkg
        assert bakery_private_pkg.VERSION == "1.0"
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    PrivateFlow()
"""


def test_private_index_credentials_are_used_but_never_written(isolated_flows, private_index):
    flows = isolated_flows
    flow = flows.write("private.py", FLOW)
    result = flows.run(
        flow, PIP_EXTRA_INDEX_URL=private_index.url, METAFLOW_BAKERY_SNAPSHOT="always"
    ).check()
    lock = (flows.folder / "private.bakery.lock").read_text()
    assert private_index.bare_url.rsplit("/", 1)[0] in lock  # the artifact URL, without creds
    assert private_index.password not in lock
    assert private_index.password not in result.output
    datastore = flows.folder / "datastore"
    for path in datastore.rglob("*.json"):
        assert private_index.password not in path.read_text(), path


def test_wrong_credentials_fail_with_a_clear_message(isolated_flows, private_index, tmp_path):
    flows = isolated_flows
    flow = flows.write("private.py", FLOW)
    wrong = private_index.url.replace(private_index.password, "wrong-pass")
    # a fresh uv cache: uv would otherwise answer from what it cached with the right password
    result = flows.run(
        flow, PIP_EXTRA_INDEX_URL=wrong, UV_HTTP_RETRIES="0", UV_CACHE_DIR=str(tmp_path / "uv")
    )
    assert result.returncode != 0
    assert "refused the credentials" in result.output and "Traceback" not in result.output
    assert "wrong-pass" not in result.output
