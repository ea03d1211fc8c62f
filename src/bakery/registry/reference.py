"""Image references (`registry/repository:tag@digest`), parsed with Docker's normalization rules.

`python` means `registry-1.docker.io/library/python:latest`; a first path component is a registry host only
when it contains a `.` or a `:`, or is `localhost` (so `team/envs` is a Docker Hub repository and
`127.0.0.1:5000/team/envs` is not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bakery.errors import ImageReferenceError

DOCKER_HUB_REGISTRY = "registry-1.docker.io"
"""The host that serves Docker Hub's registry API."""

DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
"""Names users and config files give Docker Hub; all mean `DOCKER_HUB_REGISTRY`."""

_EXAMPLE = "a valid reference looks like 'python:3.11', 'ghcr.io/org/app@sha256:<64 hex>' or '127.0.0.1:5000/team/envs:abc'"

_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_REGISTRY = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
)
# ASCII, as Docker's grammar (Go's \w); Python's \w would also take letters such as "é"
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}")
_HEX_LENGTHS = {"sha256": 64, "sha512": 128}
_MAX_NAME_LENGTH = 255


def normalize_registry(registry: str) -> str:
    """Return the API host for a registry name: Docker Hub's aliases become `registry-1.docker.io`."""
    registry = registry.strip().rstrip("/")
    for scheme in ("https://", "http://"):
        if registry.startswith(scheme):
            registry = registry[len(scheme) :].split("/", 1)[0]
    return DOCKER_HUB_REGISTRY if registry in DOCKER_HUB_ALIASES else registry


def validate_digest(digest: str) -> str:
    """Return `digest` if it is well formed (`sha256:<64 hex>`), else raise `ImageReferenceError`."""
    if not _DIGEST.fullmatch(digest):
        raise ImageReferenceError(
            f"invalid digest {digest!r}: expected 'algorithm:hex', e.g. 'sha256:' followed by 64 hex digits"
        )
    algorithm, _, hex_part = digest.partition(":")
    expected = _HEX_LENGTHS.get(algorithm)
    if expected is not None and (
        len(hex_part) != expected or not re.fullmatch(r"[a-f0-9]+", hex_part)
    ):
        raise ImageReferenceError(
            f"invalid digest {digest!r}: a {algorithm} digest has {expected} lowercase hex digits"
        )
    return digest


def validate_tag(tag: str) -> str:
    """Return `tag` if it is a valid tag, else raise `ImageReferenceError`."""
    if not _TAG.fullmatch(tag):
        raise ImageReferenceError(
            f"invalid tag {tag!r}: a tag is up to 128 letters, digits, '_', '.' or '-' "
            "and cannot start with '.' or '-'"
        )
    return tag


def validate_repository(repository: str) -> str:
    """Return `repository` if it is a valid repository path (`team/envs`), else raise `ImageReferenceError`."""
    _check_repository(repository, repository)
    return repository


@dataclass(frozen=True)
class ImageReference:
    """A parsed, normalized image reference: registry host, repository, and optional tag and digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        """Parse `text` with Docker's rules; raise `ImageReferenceError` saying what is wrong."""
        original = text
        text = text.strip()
        if not text:
            raise ImageReferenceError(f"empty image reference; {_EXAMPLE}")
        if "://" in text:
            raise ImageReferenceError(
                f"invalid image reference {original!r}: drop the URL scheme; {_EXAMPLE}"
            )
        name, digest = text, None
        if "@" in text:
            name, _, digest = text.partition("@")
            _check_digest(original, digest)
        name, tag = _split_tag(name)
        if tag is not None and not _TAG.fullmatch(tag):
            raise ImageReferenceError(
                f"invalid tag {tag!r} in image reference {original!r}: a tag is up to 128 letters, "
                f"digits, '_', '.' or '-' and cannot start with '.' or '-'; {_EXAMPLE}"
            )
        registry, repository = _split_registry(name)
        if not _REGISTRY.fullmatch(registry):
            raise ImageReferenceError(
                f"invalid registry {registry!r} in image reference {original!r}; {_EXAMPLE}"
            )
        _check_repository(original, repository)
        registry = normalize_registry(registry)
        if registry == DOCKER_HUB_REGISTRY and "/" not in repository:
            repository = f"library/{repository}"
        return cls(registry=registry, repository=repository, tag=tag, digest=digest)

    def with_tag(self, tag: str) -> ImageReference:
        """Return this reference with `tag` (and no digest)."""
        return replace(self, tag=validate_tag(tag), digest=None)

    def with_digest(self, digest: str) -> ImageReference:
        """Return this reference pinned to `digest` (the tag is kept for readability)."""
        return replace(self, digest=validate_digest(digest))

    @property
    def reference(self) -> str:
        """What to put after `/manifests/`: the digest if set, else the tag, else `latest`."""
        return self.digest or self.tag or "latest"

    @property
    def name(self) -> str:
        """`registry/repository`, with Docker Hub spelled `docker.io` as tools print it."""
        registry = "docker.io" if self.registry == DOCKER_HUB_REGISTRY else self.registry
        return f"{registry}/{self.repository}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _check_digest(original: str, digest: str) -> None:
    try:
        validate_digest(digest)
    except ImageReferenceError as error:
        raise ImageReferenceError(f"{error} in image reference {original!r}; {_EXAMPLE}") from None


def _split_tag(name: str) -> tuple[str, str | None]:
    # A ':' after the last '/' starts the tag; one before it belongs to a registry port.
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        return name[:colon], name[colon + 1 :]
    return name, None


def _split_registry(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        return first, rest
    return "docker.io", name


def _check_repository(original: str, repository: str) -> None:
    if not repository:
        raise ImageReferenceError(f"image reference {original!r} has no repository; {_EXAMPLE}")
    if len(repository) > _MAX_NAME_LENGTH:
        raise ImageReferenceError(
            f"repository name in {original!r} is longer than {_MAX_NAME_LENGTH} characters"
        )
    for component in repository.split("/"):
        if _PATH_COMPONENT.fullmatch(component):
            continue
        if _PATH_COMPONENT.fullmatch(component.lower()):
            raise ImageReferenceError(
                f"repository name must be lowercase: {repository!r} in image reference {original!r}"
                f" (try {repository.lower()!r})"
            )
        raise ImageReferenceError(
            f"invalid repository component {component!r} in image reference {original!r}: use "
            f"lowercase letters and digits separated by '.', '_', '__' or '-'; {_EXAMPLE}"
        )


def push_target(text: str, *, setting: str = "--registry") -> ImageReference:
    """Parse where baked images go (`registry/repository`), refusing a tag or digest.

    Bakery tags each environment's image by its content; one tag given here would be written by every
    environment in turn, each overwriting the last. `setting` names where `text` came from, for the error.
    """
    target = ImageReference.parse(text)
    if target.tag is None and target.digest is None:
        return target
    pinned = f"tag {target.tag!r}" if target.tag else f"digest {target.digest}"
    raise ImageReferenceError(
        f"{setting} {text!r} names a {pinned}: give a repository only, e.g. {target.name!r}. "
        "Bakery tags each environment's image by its content; one tag for every environment "
        "would be overwritten by each of them"
    )
