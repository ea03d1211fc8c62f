"""The request loop's edge cases: relative Location headers, retries on 5xx/429, timeouts.

Retries are exercised against a small scripted HTTP server on loopback (a real socket, real HTTP), since
the CNCF registry cannot be asked to fail on cue.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from bakery.errors import RegistryError, RegistryUnreachableError
from bakery.registry import RegistryClient
from tests.fixtures.registry import RunningRegistry
from tests.registry.conftest import digest_of


@pytest.fixture(scope="module")
def relative_registry(registry_factory) -> RunningRegistry:
    """A registry that answers uploads with relative `Location` headers."""
    return registry_factory(relative_urls=True)


def test_relative_locations_are_followed(
    relative_registry: RunningRegistry, repository: str, tmp_path: Path
) -> None:
    opened = httpx.post(f"{relative_registry.url}/v2/{repository}/blobs/uploads/")
    assert opened.headers["location"].startswith("/v2/"), "the fixture serves relative Locations"
    data = os.urandom(40_000)
    with RegistryClient(relative_registry.host) as client:
        assert client.push_blob(repository, digest_of(data), data) is True
        assert client.push_blob(f"{repository}/c", digest_of(data), data, chunk_size=10_000)
        assert client.pull_blob(repository, digest_of(data), tmp_path / "b").read_bytes() == data


class _Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next status of the server's script (200 when it runs out)."""

    def _answer(self) -> None:
        server = self.server
        status = server.script.pop(0) if server.script else 200  # type: ignore[attr-defined]
        server.seen.append(self.command)  # type: ignore[attr-defined]
        body = (
            b"{}" if status == 200 else b'{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}'
        )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 429:
            self.send_header("Retry-After", "0")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def scripted_server() -> Iterator[ThreadingHTTPServer]:
    """An HTTP server on a free loopback port; set `.script` to the statuses to answer with."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    server.script = []  # type: ignore[attr-defined]
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _host(server: ThreadingHTTPServer) -> str:
    return f"127.0.0.1:{server.server_address[1]}"


def test_5xx_and_429_are_retried(scripted_server: ThreadingHTTPServer) -> None:
    scripted_server.script = [503, 429, 502]  # type: ignore[attr-defined]
    with RegistryClient(_host(scripted_server), retries=4, backoff=0.01) as client:
        client.ping()
    assert scripted_server.seen == ["GET"] * 4  # type: ignore[attr-defined]


def test_retries_are_bounded_and_the_error_carries_the_registry_message(
    scripted_server: ThreadingHTTPServer,
) -> None:
    scripted_server.script = [503] * 10  # type: ignore[attr-defined]
    with RegistryClient(_host(scripted_server), retries=2, backoff=0.01) as client:
        with pytest.raises(RegistryError, match="HTTP 503.*UNAVAILABLE: try later"):
            client.ping()
    assert len(scripted_server.seen) == 3  # type: ignore[attr-defined]


def test_a_registry_that_never_answers_times_out_after_bounded_retries() -> None:
    # A listening socket nobody accepts from: connections queue, reads time out.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        host = f"127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with RegistryClient(host, timeout=0.2, retries=2, backoff=0.01) as client:
            with pytest.raises(RegistryUnreachableError, match="after 3 attempts"):
                client.ping()
        assert time.monotonic() - started < 5
