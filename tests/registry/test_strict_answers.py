"""A server that does not answer like a registry fails the push (or the read) with one clear error.

Each pretend registry (tests/fixtures/pretend_registry.py) breaks one rule of the distribution spec:
a web server answering 200 and HTML to everything, and proxies in front of the real CNCF registry that
answer a PUT with 200 instead of 201, a POST with 201 instead of 202, send a wrong
`Docker-Content-Digest`, or serve manifests as `text/html` or cut in half.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bakery.cli.main import main
from bakery.errors import RegistryError, RegistryProtocolError
from bakery.registry import RegistryClient
from tests.fixtures.pretend_registry import (
    WRONG_DIGEST,
    Exchange,
    manifests_as_html,
    manifests_truncated,
    post_answered_201,
    put_answered_200,
    wrong_digest,
)
from tests.fixtures.registry import RunningRegistry
from tests.registry.conftest import digest_of, image_manifest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = json.dumps({"architecture": "amd64", "os": "linux", "config": {}}).encode()


def push_image(host: str, repository: str, tag: str, config: bytes = CONFIG) -> str:
    """Push a one-layer image to the registry at `host`; return its manifest digest."""
    layer = os.urandom(64)
    with RegistryClient(host) as client:
        client.push_blob(repository, digest_of(config), config)
        client.push_blob(repository, digest_of(layer), layer)
        return client.put_manifest(repository, tag, image_manifest(config, [layer]), OCI_MANIFEST)


def assert_names_the_server(message: str, host: str, *fragments: str) -> None:
    """The error names the registry, what came back, and asks whether it is a registry at all."""
    assert f"registry {host}" in message
    assert f"Is http://{host} an OCI registry?" in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from: {message}"


def show(reference: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["image", "show", reference])
    captured = capsys.readouterr()
    # Rich wraps the message to the console width: compare it as one line.
    return code, " ".join((captured.err + captured.out).split())


# -- a web server answering 200 + HTML to everything ---------------------------------------------


def test_pushing_to_a_web_server_fails_at_the_first_answer(web_server, repository: str) -> None:
    data = b"a layer"
    with RegistryClient(web_server.host) as client:
        with pytest.raises(RegistryProtocolError) as caught:
            client.push_blob(repository, digest_of(data), data)
        assert client.bytes_uploaded == 0
    assert_names_the_server(
        str(caught.value), web_server.host, "HEAD for blob", "HTTP 200", "text/html", "web page"
    )


def test_a_manifest_put_answered_by_a_web_server_is_not_a_success(
    web_server, repository: str
) -> None:
    with RegistryClient(web_server.host) as client:
        with pytest.raises(RegistryProtocolError) as caught:
            client.put_manifest(repository, "v1", image_manifest(CONFIG, []), OCI_MANIFEST)
    assert_names_the_server(
        str(caught.value),
        web_server.host,
        "PUT for manifest",
        "expected HTTP 201",
        "<!DOCTYPE html>",
    )


def test_image_show_against_a_web_server_is_one_clear_error(web_server, capsys) -> None:
    code, output = show(f"{web_server.host}/team/envs:abc", capsys)
    assert code == 1 and "Traceback" not in output
    assert_names_the_server(output, web_server.host, "GET for manifest team/envs:abc", "text/html")


def test_the_bakery_command_exits_non_zero_without_a_traceback(web_server) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from bakery.cli.main import main; sys.exit(main())"]
        + ["image", "show", f"{web_server.host}/team/envs:abc"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "JSONDecodeError" not in done.stderr
    assert f"Is http://{web_server.host} an OCI registry?" in done.stderr


# -- proxies in front of the real registry, each breaking one rule --------------------------------


def test_a_blob_put_answered_200_instead_of_201_fails(tampering_proxy, repository: str) -> None:
    proxy = tampering_proxy(put_answered_200)
    data = b"layer bytes"
    with RegistryClient(proxy.host) as client:
        with pytest.raises(RegistryProtocolError) as caught:
            client.push_blob(repository, digest_of(data), data)
    assert_names_the_server(
        str(caught.value),
        proxy.host,
        f"PUT for blob {digest_of(data)}",
        "HTTP 200",
        "expected HTTP 201",
    )


def test_a_chunked_upload_closed_with_200_fails(tampering_proxy, repository: str) -> None:
    proxy = tampering_proxy(put_answered_200)
    data = os.urandom(3000)
    with RegistryClient(proxy.host) as client:
        with pytest.raises(RegistryProtocolError, match="expected HTTP 201"):
            client.push_blob(repository, digest_of(data), data, chunk_size=1000)


def test_a_manifest_put_answered_200_instead_of_201_fails(
    tampering_proxy, registry: RunningRegistry, repository: str
) -> None:
    proxy = tampering_proxy(put_answered_200)
    with RegistryClient(registry.host) as direct:
        direct.push_blob(repository, digest_of(CONFIG), CONFIG)
    with RegistryClient(proxy.host) as client:
        with pytest.raises(RegistryProtocolError) as caught:
            client.put_manifest(repository, "v1", image_manifest(CONFIG, []), OCI_MANIFEST)
    assert_names_the_server(
        str(caught.value), proxy.host, f"PUT for manifest {repository}:v1", "expected HTTP 201"
    )


def test_an_upload_session_answered_201_instead_of_202_fails(
    tampering_proxy, repository: str
) -> None:
    proxy = tampering_proxy(post_answered_201)
    data = b"never uploaded"
    with RegistryClient(proxy.host) as client:
        with pytest.raises(RegistryProtocolError) as caught:
            client.push_blob(repository, digest_of(data), data)
    assert_names_the_server(
        str(caught.value),
        proxy.host,
        f"POST for a blob upload to {repository}",
        "expected HTTP 202",
    )


def test_a_wrong_digest_for_a_pushed_blob_fails(tampering_proxy, repository: str) -> None:
    proxy = tampering_proxy(wrong_digest)
    data = b"the registry claims it stored something else"
    with RegistryClient(proxy.host) as client:
        with pytest.raises(RegistryProtocolError) as caught:
            client.push_blob(repository, digest_of(data), data)
    assert_names_the_server(
        str(caught.value), proxy.host, "Docker-Content-Digest", WRONG_DIGEST, digest_of(data)
    )


def test_a_wrong_digest_for_a_pushed_manifest_fails(
    tampering_proxy, registry: RunningRegistry, repository: str
) -> None:
    proxy = tampering_proxy(wrong_digest)
    with RegistryClient(registry.host) as direct:
        direct.push_blob(repository, digest_of(CONFIG), CONFIG)
    body = image_manifest(CONFIG, [])
    with RegistryClient(proxy.host) as client:
        with pytest.raises(RegistryProtocolError) as caught:
            client.put_manifest(repository, "v1", body, OCI_MANIFEST)
    assert_names_the_server(str(caught.value), proxy.host, WRONG_DIGEST, digest_of(body))


def test_a_wrong_digest_for_an_existing_blob_or_manifest_fails(
    tampering_proxy, registry: RunningRegistry, repository: str
) -> None:
    digest = push_image(registry.host, repository, "v1")
    proxy = tampering_proxy(wrong_digest)
    with RegistryClient(proxy.host) as client:
        with pytest.raises(RegistryProtocolError, match="HEAD for blob"):
            client.blob_exists(repository, digest_of(CONFIG))
        with pytest.raises(RegistryProtocolError, match="GET for blob"):
            client.get_blob_bytes(repository, digest_of(CONFIG))
        with pytest.raises(RegistryProtocolError, match="HEAD for manifest"):
            client.head_manifest(repository, digest)
        with pytest.raises(RegistryProtocolError, match="GET for manifest"):
            client.get_manifest(repository, "v1")


def test_image_show_refuses_a_manifest_whose_digest_header_lies(
    tampering_proxy, registry: RunningRegistry, repository: str, capsys
) -> None:
    push_image(registry.host, repository, "v1")
    proxy = tampering_proxy(wrong_digest)
    code, output = show(f"{proxy.host}/{repository}:v1", capsys)
    assert code == 1 and "Traceback" not in output
    assert_names_the_server(output, proxy.host, "Docker-Content-Digest", WRONG_DIGEST)


def test_a_manifest_served_as_html_is_refused(
    tampering_proxy, registry: RunningRegistry, repository: str, capsys
) -> None:
    push_image(registry.host, repository, "v1")
    proxy = tampering_proxy(manifests_as_html)
    with RegistryClient(proxy.host) as client:
        with pytest.raises(RegistryProtocolError, match="text/html"):
            client.get_manifest(repository, "v1")
        with pytest.raises(RegistryProtocolError, match="text/html"):
            client.head_manifest(repository, "v1")
    code, output = show(f"{proxy.host}/{repository}:v1", capsys)
    assert code == 1 and "Traceback" not in output
    assert_names_the_server(output, proxy.host, f"GET for manifest {repository}:v1", "text/html")


def test_a_manifest_that_is_not_json_is_refused(
    tampering_proxy, registry: RunningRegistry, repository: str, capsys
) -> None:
    push_image(registry.host, repository, "v1")
    proxy = tampering_proxy(manifests_truncated)
    code, output = show(f"{proxy.host}/{repository}:v1", capsys)
    assert code == 1 and "Traceback" not in output
    assert_names_the_server(output, proxy.host, "not a JSON manifest", OCI_MANIFEST)


def test_a_manifest_without_a_config_is_refused(
    tampering_proxy, registry: RunningRegistry, repository: str
) -> None:
    push_image(registry.host, repository, "v1")

    def drop_config(exchange: Exchange) -> None:
        if "/manifests/" in exchange.path and exchange.method == "GET":
            document = json.loads(exchange.body)
            del document["config"]
            exchange.body = json.dumps(document).encode()
            exchange.headers.pop("docker-content-digest", None)

    proxy = tampering_proxy(drop_config)
    with RegistryClient(proxy.host) as client:
        with pytest.raises(RegistryProtocolError, match="no 'config' descriptor"):
            client.get_manifest(repository, "v1")


def test_a_config_that_is_not_json_is_one_clear_error(
    registry: RunningRegistry, repository: str, capsys
) -> None:
    config = b"<html>not a config</html>"
    push_image(registry.host, repository, "v1", config=config)
    code, output = show(f"{registry.host}/{repository}:v1", capsys)
    assert code == 1 and "Traceback" not in output
    assert f"served config {digest_of(config)}" in output
    assert "not a JSON object: got '<html>not a config</html>'" in output


def test_protocol_errors_are_registry_errors() -> None:
    assert issubclass(RegistryProtocolError, RegistryError)
