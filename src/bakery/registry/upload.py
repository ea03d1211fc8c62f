"""The steps of a blob upload (distribution API): POST to open (or mount), PUT or PATCH the bytes, PUT to close.

Bodies are produced by a `read(offset, length)` callable so each attempt (after a retry) re-reads the
source from disk instead of holding the blob in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from bakery.errors import RegistryError
from bakery.registry.reference import validate_digest, validate_repository
from bakery.registry.transport import RegistryTransport

logger = logging.getLogger(__name__)

READ_SIZE = 1024 * 1024
"""Bytes read from disk (and handed to httpx) at a time."""

Reader = Callable[[int, int], Iterator[bytes]]
"""`read(offset, length)` yields `length` bytes of the blob starting at `offset`."""


def repository_scope(repository: str, actions: str) -> str:
    """The token scope for `actions` ("pull" or "pull,push") on `repository`."""
    return f"repository:{repository}:{actions}"


def start_upload(
    transport: RegistryTransport, repository: str, *, mount: tuple[str, str] | None = None
) -> httpx.URL | None:
    """Open an upload and return its URL; with `mount=(digest, from_repository)`, None if it mounted."""
    url = transport.url(f"/v2/{validate_repository(repository)}/blobs/uploads/")
    scope = repository_scope(repository, "pull,push")
    if mount is not None:
        digest, source = mount
        url = url.copy_merge_params({"mount": validate_digest(digest), "from": source})
        scope += " " + repository_scope(validate_repository(source), "pull")
    what = f"a blob upload to {repository}"
    response = transport.request(
        "POST",
        url,
        what=what,
        scope=scope,
        # 201: mounted. 202: an upload session is open (a declined mount opens one too).
        ok=(201, 202) if mount is not None else (202,),
        headers={"Content-Length": "0"},
    )
    return None if response.status_code == 201 else location_of(transport, response, what)


def upload_monolithic(
    transport: RegistryTransport,
    repository: str,
    digest: str,
    location: httpx.URL,
    read: Reader,
    size: int,
) -> None:
    """Send the whole blob in one PUT that also closes the upload."""
    what = f"blob {digest} in {repository}"
    response = transport.request(
        "PUT",
        location.copy_merge_params({"digest": digest}),
        what=what,
        scope=repository_scope(repository, "pull,push"),
        ok=(201,),
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        content=lambda: read(0, size),
    )
    transport.check_digest(response, what, digest)


def upload_chunked(
    transport: RegistryTransport,
    repository: str,
    digest: str,
    location: httpx.URL,
    read: Reader,
    size: int,
    chunk_size: int,
) -> None:
    """Send the blob in PATCH requests of `chunk_size` bytes (each retried alone), then close it."""
    scope = repository_scope(repository, "pull,push")
    for offset in range(0, size, chunk_size):
        length = min(chunk_size, size - offset)
        last = offset + length - 1
        what = f"bytes {offset}-{last} of blob {digest} in {repository}"
        response = transport.request(
            "PATCH",
            location,
            what=what,
            scope=scope,
            ok=(202,),
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Length": str(length),
                "Content-Range": f"{offset}-{last}",
            },
            content=lambda offset=offset, length=length: read(offset, length),
        )
        location = location_of(transport, response, what)
    what = f"blob {digest} in {repository}"
    response = transport.request(
        "PUT",
        location.copy_merge_params({"digest": digest}),
        what=what,
        scope=scope,
        ok=(201,),
        headers={"Content-Length": "0"},
    )
    transport.check_digest(response, what, digest)


def cancel_upload(transport: RegistryTransport, repository: str, location: httpx.URL) -> None:
    """Abandon an upload session, best effort (registries also expire them)."""
    try:
        transport.request(
            "DELETE",
            location,
            what=f"an abandoned upload to {repository}",
            scope=repository_scope(repository, "pull,push"),
            ok=(200, 202, 204, 404),
        )
    except RegistryError as error:
        logger.debug("could not cancel upload %s: %s", location, error)


def read_source(
    source: Path | bytes, offset: int, length: int, on_piece: Callable[[int], None]
) -> Iterator[bytes]:
    """Yield `length` bytes of `source` from `offset` in `READ_SIZE` pieces, reporting each to `on_piece`."""
    if isinstance(source, bytes):
        view = memoryview(source)
        pieces: Iterator[bytes] = (
            bytes(view[start : min(start + READ_SIZE, offset + length)])
            for start in range(offset, offset + length, READ_SIZE)
        )
    else:
        pieces = _file_pieces(Path(source), offset, length)
    for piece in pieces:
        on_piece(len(piece))
        yield piece


def location_of(transport: RegistryTransport, response: httpx.Response, what: str) -> httpx.URL:
    """The upload URL in `Location`, resolved against the request URL when relative."""
    location = response.headers.get("location")
    if not location:
        raise transport.protocol_error(response, what, "no Location header for the upload session")
    return response.url.join(location)


def _file_pieces(path: Path, offset: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as file:
        file.seek(offset)
        remaining = length
        while remaining:
            piece = file.read(min(READ_SIZE, remaining))
            if not piece:
                raise RegistryError(
                    f"{path} got shorter while it was being uploaded; retry the push"
                )
            remaining -= len(piece)
            yield piece
