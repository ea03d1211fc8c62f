"""`RegistryClient`: the OCI distribution API calls Bakery needs — blobs up and down, manifests, mounts.

Blobs are streamed from and to disk (never read whole into memory) and verified against their digest.
The request loop — authentication, retries, error messages — lives in `transport.py`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

import httpx

from bakery.errors import ImageReferenceError, RegistryError, RegistryUnreachableError
from bakery.registry.auth import Credentials, find_credentials
from bakery.registry.manifests import (
    MANIFEST_MEDIA_TYPES,
    OCI_INDEX,
    FetchedManifest,
    checked_manifest,
)
from bakery.registry.reference import (
    normalize_registry,
    validate_digest,
    validate_repository,
    validate_tag,
)
from bakery.registry.transport import RegistryTransport
from bakery.registry.upload import (
    READ_SIZE,
    cancel_upload,
    read_source,
    repository_scope,
    start_upload,
    upload_chunked,
    upload_monolithic,
)
from bakery.settings import current

logger = logging.getLogger(__name__)

INSECURE_REGISTRIES_ENV = "BAKERY_INSECURE_REGISTRIES"
CHUNKED_UPLOAD_THRESHOLD = 512 * 1024 * 1024
"""Blobs larger than this are uploaded in chunks, so a failure retries one chunk, not the whole blob."""
DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024


def is_insecure_registry(registry: str) -> bool:
    """True for loopback registries and those listed in `$BAKERY_INSECURE_REGISTRIES`: use plain HTTP."""
    host = registry
    if host.startswith("["):
        host = host[1 : host.find("]")]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host == "localhost":
        return True
    try:
        if ipaddress.ip_address(host).is_loopback:
            return True
    except ValueError:
        pass
    listed = {normalize_registry(item) for item in current().insecure_registries}
    return registry in listed or host in listed


class RegistryClient:
    """A client for one OCI registry (the distribution API v2), with auth, retries and clear errors."""

    def __init__(
        self,
        registry: str,
        *,
        insecure: bool | None = None,
        credentials: Credentials | None = None,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.5,
    ) -> None:
        """Connect lazily to `registry` ("127.0.0.1:5000", "ghcr.io", "docker.io").

        `insecure=None` uses plain HTTP for loopback registries and `$BAKERY_INSECURE_REGISTRIES`, HTTPS
        otherwise; `credentials=None` looks them up with `find_credentials`. `retries` bounds the retries of
        one request on 429, 5xx and timeouts, waiting `backoff` seconds, then twice as long each time.
        """
        self.registry = normalize_registry(registry)
        if insecure is None:
            insecure = is_insecure_registry(self.registry)
        if credentials is None:
            credentials = find_credentials(self.registry)
        self.bytes_uploaded = 0
        self._count_lock = threading.Lock()  # blobs are pushed from several threads at once
        self._transport = RegistryTransport(
            self.registry,
            insecure=insecure,
            credentials=credentials,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
        )

    def __repr__(self) -> str:
        return f"RegistryClient({self._transport.base_url!r})"

    # -- lifecycle ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the client's connections."""
        self._transport.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- blobs ---------------------------------------------------------------------------------------

    def ping(self) -> None:
        """Check that the registry answers the v2 API (authenticating if it asks); raise otherwise."""
        self._transport.request("GET", "/v2/", what="the registry API (/v2/)")

    def blob_exists(self, repository: str, digest: str) -> bool:
        """True if `repository` holds the blob `digest`."""
        what = f"blob {digest} in {repository}"
        response = self._transport.request(
            "HEAD",
            _blob_path(repository, digest),
            what=what,
            scope=repository_scope(repository, "pull"),
            ok=(200, 404),
        )
        if response.status_code == 404:
            return False
        self._transport.check_digest(response, what, digest)
        return True

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        """Mount blob `digest` from `from_repository` into `repository`; False if the registry declined."""
        location = start_upload(self._transport, repository, mount=(digest, from_repository))
        if location is not None:
            cancel_upload(self._transport, repository, location)
        return location is None

    def push_blob(
        self,
        repository: str,
        digest: str,
        source: Path | bytes,
        *,
        size: int | None = None,
        progress: Callable[[int], None] | None = None,
        chunk_size: int | None = None,
        mount_from: str | None = None,
    ) -> bool:
        """Upload a blob unless `repository` already holds it.

        Returns False if it was already there, True if it was added (mounted from `mount_from`, or
        uploaded). The upload streams `source` in one PUT, or in PATCH chunks of `chunk_size` bytes when
        given or when the blob is over `CHUNKED_UPLOAD_THRESHOLD`. `progress` receives each sent byte count.
        """
        validate_digest(digest)
        if self.blob_exists(repository, digest):
            return False
        if size is None:
            size = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
        location = None
        if mount_from is not None:
            location = start_upload(self._transport, repository, mount=(digest, mount_from))
            if location is None:
                return True
        if location is None:
            location = start_upload(self._transport, repository)
            assert location is not None
        if chunk_size is None and size > CHUNKED_UPLOAD_THRESHOLD:
            chunk_size = DEFAULT_CHUNK_SIZE

        def on_piece(length: int) -> None:
            with self._count_lock:
                self.bytes_uploaded += length
            if progress is not None:
                progress(length)

        def read(offset: int, length: int) -> Iterator[bytes]:
            return read_source(source, offset, length, on_piece)

        try:
            if chunk_size:
                upload_chunked(
                    self._transport, repository, digest, location, read, size, chunk_size
                )
            else:
                upload_monolithic(self._transport, repository, digest, location, read, size)
        except BaseException:
            cancel_upload(self._transport, repository, location)
            raise
        return True

    def pull_blob(self, repository: str, digest: str, dest: Path) -> Path:
        """Stream blob `digest` to `dest` (atomically: a temporary file, renamed once verified)."""
        algorithm = validate_digest(digest).split(":", 1)[0]
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        try:
            for attempt in range(self._transport.retries + 1):
                try:
                    actual = self._download(repository, digest, algorithm, partial)
                    break
                except httpx.TransportError as error:
                    # The connection dropped mid-body: start the download over, a bounded number of times.
                    if attempt == self._transport.retries:
                        raise RegistryUnreachableError(
                            f"lost the connection to registry {self.registry} while downloading blob "
                            f"{digest} from {repository} ({type(error).__name__}), "
                            f"{attempt + 1} times; check the network and retry"
                        ) from None
                    logger.debug("download of %s interrupted (%s); retrying", digest, error)
            _check_digest(digest, actual, self.registry, repository)
            os.replace(partial, dest)
        finally:
            partial.unlink(missing_ok=True)
        return dest

    def _download(self, repository: str, digest: str, algorithm: str, partial: Path) -> str:
        """Stream one blob into `partial`; return the digest of what arrived."""
        what = f"blob {digest} in {repository}"
        response = self._transport.request(
            "GET",
            _blob_path(repository, digest),
            what=what,
            scope=repository_scope(repository, "pull"),
            stream=True,
        )
        hasher = hashlib.new(algorithm)
        try:
            self._transport.check_digest(response, what, digest)
            with open(partial, "wb") as file:
                for piece in response.iter_bytes(READ_SIZE):
                    hasher.update(piece)
                    file.write(piece)
        finally:
            response.close()
        return f"{algorithm}:{hasher.hexdigest()}"

    def iter_blob(self, repository: str, digest: str) -> Iterator[bytes]:
        """Yield blob `digest` piece by piece, for a reader that needs it once and not on disk.

        The digest is checked once the last piece is read: a consumer must read to the end
        before trusting what it read (a mismatch raises `RegistryError` there).
        """
        algorithm = validate_digest(digest).split(":", 1)[0]
        response = self._transport.request(
            "GET",
            _blob_path(repository, digest),
            what=f"blob {digest} in {repository}",
            scope=repository_scope(repository, "pull"),
            stream=True,
        )
        hasher = hashlib.new(algorithm)
        try:
            for piece in response.iter_bytes(READ_SIZE):
                hasher.update(piece)
                yield piece
        except httpx.TransportError as error:
            raise RegistryUnreachableError(
                f"lost the connection to registry {self.registry} while reading blob {digest} "
                f"from {repository} ({type(error).__name__}); check the network and retry"
            ) from None
        finally:
            response.close()
        _check_digest(digest, f"{algorithm}:{hasher.hexdigest()}", self.registry, repository)

    def get_blob_bytes(self, repository: str, digest: str) -> bytes:
        """Return a small blob (an image config) in memory, verified against `digest`."""
        algorithm = validate_digest(digest).split(":", 1)[0]
        what = f"blob {digest} in {repository}"
        response = self._transport.request(
            "GET",
            _blob_path(repository, digest),
            what=what,
            scope=repository_scope(repository, "pull"),
        )
        self._transport.check_digest(response, what, digest)
        actual = f"{algorithm}:{hashlib.new(algorithm, response.content).hexdigest()}"
        _check_digest(digest, actual, self.registry, repository)
        return response.content

    # -- manifests -----------------------------------------------------------------------------------

    def head_manifest(self, repository: str, reference: str) -> str | None:
        """The digest of manifest `reference` (tag or digest) in `repository`, or None if absent."""
        what = _manifest_name(repository, reference)
        response = self._transport.request(
            "HEAD",
            _manifest_path(repository, reference),
            what=what,
            scope=repository_scope(repository, "pull"),
            ok=(200, 404),
            headers={"Accept": ", ".join(MANIFEST_MEDIA_TYPES)},
        )
        if response.status_code == 404:
            return None
        digest = response.headers.get("docker-content-digest", "").strip()
        if not digest:
            # Older registries omit the header on HEAD: fetch the manifest (checked) and hash it.
            return self.get_manifest(repository, reference).digest
        if ":" in reference:
            self._transport.check_digest(response, what, reference)
        try:
            return validate_digest(digest)
        except ImageReferenceError:
            raise self._transport.protocol_error(
                response, what, f"its Docker-Content-Digest {digest!r} is not a digest"
            ) from None

    def get_manifest(
        self, repository: str, reference: str, accept: Sequence[str] = MANIFEST_MEDIA_TYPES
    ) -> FetchedManifest:
        """Fetch manifest `reference` (tag or digest) of `repository` as one of the `accept` media types.

        A `RegistryProtocolError` if what came back is not such a manifest (see `manifests.py`).
        """
        what = _manifest_name(repository, reference)
        response = self._transport.request(
            "GET",
            _manifest_path(repository, reference),
            what=what,
            scope=repository_scope(repository, "pull"),
            headers={"Accept": ", ".join(accept)},
        )
        if reference.startswith("sha256:"):
            actual = "sha256:" + hashlib.sha256(response.content).hexdigest()
            _check_digest(reference, actual, self.registry, repository)
        return checked_manifest(self._transport, response, what, reference, accept)

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        """Store manifest `body` under `reference` (a tag, or its own digest); return its digest."""
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and reference != digest:
            raise RegistryError(
                f"cannot push manifest to {self.registry}/{repository}@{reference}: the body's digest "
                f"is {digest}; push it by tag or by its own digest"
            )
        what = _manifest_name(repository, reference)
        response = self._transport.request(
            "PUT",
            _manifest_path(repository, reference),
            what=what,
            scope=repository_scope(repository, "pull,push"),
            ok=(201,),
            headers={"Content-Type": media_type},
            content=body,
        )
        # The registry must store the bytes as sent: another digest means it stored something else.
        self._transport.check_digest(response, what, digest)
        return digest

    def get_referrers(self, repository: str, digest: str) -> list[dict] | None:
        """The descriptors the referrers API lists for manifest `digest`, every page; None when
        the registry has no referrers API (it answers 404: use the tag schema, see `referrers.py`)."""
        what = f"the referrers of {repository}@{validate_digest(digest)}"
        url: httpx.URL | str = f"/v2/{validate_repository(repository)}/referrers/{digest}"
        found: list[dict] = []
        for _ in range(_MAX_REFERRER_PAGES):
            response = self._transport.request(
                "GET",
                url,
                what=what,
                scope=repository_scope(repository, "pull"),
                ok=(200, 404),
                headers={"Accept": OCI_INDEX},
            )
            if response.status_code == 404:
                return None
            found += checked_manifest(
                self._transport, response, what, digest, (OCI_INDEX,)
            ).document["manifests"]
            following = response.links.get("next", {}).get("url")
            if not following:
                return found
            url = response.request.url.join(following)
        raise RegistryError(
            f"registry {self.registry} lists more than {_MAX_REFERRER_PAGES} pages of referrers "
            f"of {repository}@{digest}; is its Link header looping?"
        )


_MAX_REFERRER_PAGES = 100


def _blob_path(repository: str, digest: str) -> str:
    return f"/v2/{validate_repository(repository)}/blobs/{validate_digest(digest)}"


def _manifest_path(repository: str, reference: str) -> str:
    checked = validate_digest(reference) if ":" in reference else validate_tag(reference)
    return f"/v2/{validate_repository(repository)}/manifests/{checked}"


def _manifest_name(repository: str, reference: str) -> str:
    separator = "@" if ":" in reference else ":"
    return f"manifest {repository}{separator}{reference}"


def _check_digest(expected: str, actual: str, registry: str, repository: str) -> None:
    if expected != actual:
        raise RegistryError(
            f"content from {registry}/{repository} does not match its digest: expected {expected}, "
            f"got {actual}; the registry or a proxy corrupted it — retry, and report it if it persists"
        )
