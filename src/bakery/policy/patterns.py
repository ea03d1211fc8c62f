"""Image patterns and repository prefixes, normalized with Docker's rules and matched against references.

A glob pattern has three parts matched separately, so a wildcard never reaches from one into another:
the registry (`*.example.com`), the repository (`ml/*`; here `*` also matches `/`) and the tag
(`3.11-*`). A pattern written without a registry means Docker Hub, exactly as a reference does:
`python:*` is `docker.io/library/python:*`. A pattern without a tag allows every tag *and* every
digest of the repositories it names; a pattern with a tag other than `*` allows only tags, because the
tag written next to a digest (`name:tag@sha256:...`) is ignored when pulling and proves nothing.
A digest pattern (`name@sha256:...`) allows that one digest in that one repository, nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ImageReferenceError, PolicyFileError
from ..registry.reference import (
    DOCKER_HUB_ALIASES,
    ImageReference,
    normalize_registry,
    validate_repository,
    validate_tag,
)

_WILDCARDS = ("*", "?")
_DOCKER_HUB = "docker.io"
"""How patterns and messages spell Docker Hub (what `docker pull` prints)."""


@dataclass(frozen=True)
class ImagePattern:
    """One entry of `[images] allowed`: a glob over registry/repository/tag, or one exact digest."""

    text: str
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImagePattern:
        """Parse and normalize a pattern; raise `PolicyFileError` saying what is wrong with it
        (the loader adds the file and the key)."""
        text = text.strip()
        if not text:
            raise PolicyFileError("an empty pattern matches nothing")
        if "://" in text:
            raise PolicyFileError("drop the URL scheme: write 'registry.example.com/ml/*'")
        if "@" in text:
            return _parse_digest_pattern(text)
        name, tag = _split_tag(text)
        registry, repository = _split_registry(name)
        _check_glob(text, registry, repository, tag)
        return cls(text=text, registry=registry, repository=repository, tag=tag)

    @property
    def allows_digests(self) -> bool:
        """Whether a glob allows references pinned by digest (its tag is `*` or omitted)."""
        return self.digest is None and self.tag in (None, "*")

    def matches(self, reference: ImageReference) -> bool:
        """Whether `reference` (already parsed) is allowed by this pattern."""
        registry = display_registry(reference.registry)
        if self.digest is not None:
            return (
                reference.digest == self.digest
                and registry == self.registry
                and reference.repository == self.repository
            )
        if not (_glob(self.registry, registry) and _glob(self.repository, reference.repository)):
            return False
        if self.allows_digests:
            return True
        if reference.digest is not None:
            return False
        return _glob(self.tag or "*", reference.tag or "latest")

    def matches_repository(self, reference: ImageReference) -> bool:
        """Whether the registry and repository match, whatever the tag or digest (for hints)."""
        registry = display_registry(reference.registry)
        return _glob(self.registry, registry) and _glob(self.repository, reference.repository)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


@dataclass(frozen=True)
class RepositoryPrefix:
    """Where baked images must go: a registry, optionally narrowed to a repository path under it."""

    registry: str
    repository: str = ""

    @classmethod
    def parse(cls, text: str) -> RepositoryPrefix:
        """Parse `registry.example.com`, `127.0.0.1:5000/team` or `team/envs` (Docker Hub); raise
        `PolicyFileError` saying what is wrong (the loader adds the file and the key)."""
        text = text.strip().rstrip("/")
        if not text:
            raise PolicyFileError("an empty value names no registry")
        if any(wildcard in text for wildcard in _WILDCARDS):
            raise PolicyFileError(
                "wildcards are not allowed here; name one registry or repository path"
            )
        if "/" not in text and "@" not in text and _looks_like_host(text):
            return cls(registry=_parse_host(text))
        if "@" in text or _split_tag(text)[1] is not None:
            raise PolicyFileError("name a registry or repository path, without a tag or digest")
        try:
            parsed = ImageReference.parse(text)
        except ImageReferenceError as error:
            raise PolicyFileError(str(error)) from None
        return cls(registry=display_registry(parsed.registry), repository=parsed.repository)

    def contains(self, reference: ImageReference) -> bool:
        """Whether `reference`'s repository is this prefix itself or a path under it."""
        if display_registry(reference.registry) != self.registry:
            return False
        if not self.repository:
            return True
        return reference.repository == self.repository or reference.repository.startswith(
            self.repository + "/"
        )

    def __str__(self) -> str:
        return f"{self.registry}/{self.repository}" if self.repository else self.registry


def display_registry(registry: str) -> str:
    """The registry as patterns and messages spell it: lowercase, Docker Hub as `docker.io`."""
    registry = registry.lower()
    return _DOCKER_HUB if registry in DOCKER_HUB_ALIASES else registry


def _parse_digest_pattern(text: str) -> ImagePattern:
    if any(wildcard in text for wildcard in _WILDCARDS):
        raise PolicyFileError(
            "a pattern pinned by digest cannot contain wildcards; "
            "write either 'name@sha256:<64 hex>' or a glob such as 'name:*'"
        )
    try:
        parsed = ImageReference.parse(text)
    except ImageReferenceError as error:
        raise PolicyFileError(str(error)) from None
    return ImagePattern(
        text=text,
        registry=display_registry(parsed.registry),
        repository=parsed.repository,
        digest=parsed.digest,
    )


def _split_tag(name: str) -> tuple[str, str | None]:
    # As in references: a ':' after the last '/' starts the tag, one before it is a registry port.
    colon, last_slash = name.rfind(":"), name.rfind("/")
    if colon > last_slash:
        return name[:colon], name[colon + 1 :]
    return name, None


def _split_registry(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and (_looks_like_host(first) or any(w in first for w in _WILDCARDS)):
        registry, repository = _normalize_registry_glob(first), rest
    else:
        registry, repository = _DOCKER_HUB, name
    if registry == _DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"  # as Docker does: `python` is `library/python`
    return registry, repository


def _looks_like_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost" or "[" in component


def _normalize_registry_glob(registry: str) -> str:
    if any(wildcard in registry for wildcard in _WILDCARDS):
        return registry.lower()
    return display_registry(normalize_registry(registry))


def _parse_host(text: str) -> str:
    try:
        ImageReference.parse(f"{text}/probe")
    except ImageReferenceError as error:
        raise PolicyFileError(str(error).replace(repr(f"{text}/probe"), repr(text))) from None
    return display_registry(normalize_registry(text))


def _check_glob(text: str, registry: str, repository: str, tag: str | None) -> None:
    # Validate each part by replacing wildcards with a character the part allows; messages show
    # the part as written, not the probe.
    written = {f"{_probe(registry, '0')}/probe": registry, _probe(repository, "x"): repository}
    try:
        ImageReference.parse(f"{_probe(registry, '0')}/probe")
        validate_repository(_probe(repository, "x"))
        if tag is not None:
            written[_probe(tag, "x")] = tag
            validate_tag(_probe(tag, "x"))
    except ImageReferenceError as error:
        message = str(error)
        for probe, part in written.items():
            message = message.replace(repr(probe), repr(part))
        raise PolicyFileError(f"{message} (in pattern {text!r})") from None


def _probe(glob: str, filler: str) -> str:
    for wildcard in _WILDCARDS:
        glob = glob.replace(wildcard, filler)
    return glob


def _glob(pattern: str, value: str) -> bool:
    # Only '*' (any characters, '/' included) and '?' (one character); '[' stays literal (IPv6 hosts).
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None
