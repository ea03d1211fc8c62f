"""`bakery bake` against servers that do not answer like a registry: one clear error, never a success.

The pretend registries are in tests/fixtures/pretend_registry.py: a web server answering 200 and HTML
to everything, and proxies in front of the real registry that each break one rule of the spec.
"""

from __future__ import annotations

import pytest

from bakery.cli.main import main
from bakery.lock import Lockfile, write_lock
from tests.fixtures.pretend_registry import (
    WRONG_DIGEST,
    manifests_as_html,
    put_answered_200,
    wrong_digest,
)

from .locks import lock

pytestmark = pytest.mark.slow


@pytest.fixture
def lockfile(tmp_path):
    lockfile = Lockfile(flow="flow.py")
    lockfile.set_step("start", lock(("idna==3.10",)))
    path = tmp_path / "flow.bakery.lock"
    write_lock(lockfile, path)
    return path


def bake(capsys, lockfile, registry: str, base: str, cache) -> tuple[int, str]:
    """Run `bakery bake`; its exit code and everything it printed, on one line."""
    args = ["bake", "--lock", str(lockfile), "--registry", registry, "--base", base]
    code = main([*args, "--cache-dir", str(cache)])
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())


def assert_failed_clearly(code: int, output: str, host: str, *fragments: str) -> None:
    assert code == 1, output
    assert "Traceback" not in output and "pushed" not in output
    assert f"step 'start': registry {host}" in output
    assert f"Is http://{host} an OCI registry?" in output
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} missing from: {output}"


def test_baking_into_a_web_server_fails_instead_of_pushing_nothing(
    capsys, lockfile, base_images, shared_cache, web_server
):
    code, output = bake(
        capsys, lockfile, f"{web_server.host}/team/envs", base_images.oci, shared_cache
    )
    assert_failed_clearly(code, output, web_server.host, "HTTP 200", "text/html", "web page")


def test_baking_into_a_registry_that_answers_put_with_200_fails(
    capsys, lockfile, base_images, shared_cache, tampering_proxy
):
    proxy = tampering_proxy(put_answered_200)
    code, output = bake(
        capsys, lockfile, f"{proxy.host}/pretend/put200", base_images.oci, shared_cache
    )
    assert_failed_clearly(code, output, proxy.host, "PUT for blob", "expected HTTP 201")


def test_baking_into_a_registry_that_reports_another_digest_fails(
    capsys, lockfile, base_images, shared_cache, tampering_proxy
):
    proxy = tampering_proxy(wrong_digest)
    code, output = bake(
        capsys, lockfile, f"{proxy.host}/pretend/digest", base_images.oci, shared_cache
    )
    assert_failed_clearly(code, output, proxy.host, "Docker-Content-Digest", WRONG_DIGEST)


def test_baking_on_a_base_served_as_html_fails(
    capsys, lockfile, base_images, shared_cache, tampering_proxy
):
    proxy = tampering_proxy(manifests_as_html)
    base = base_images.oci.replace(base_images.host, proxy.host)
    code, output = bake(capsys, lockfile, f"{proxy.host}/pretend/html", base, shared_cache)
    assert_failed_clearly(code, output, proxy.host, "GET for manifest base/debian:oci", "text/html")
