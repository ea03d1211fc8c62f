"""Turn a failed `podman pull` / `docker pull` into a clear `ContainerImageError` from its stderr.

Runtimes only say what went wrong in prose, so we match the phrases podman (containers/image) and the
docker daemon use. Order matters: an unreachable registry is checked first (its messages may contain
"not found" for an unknown host), then refused credentials, then a missing image.
"""

from __future__ import annotations

import re

from ..errors import (
    ContainerError,
    ContainerImageError,
    ContainerImageNotFoundError,
    ContainerRegistryAuthError,
    ContainerRegistryUnreachableError,
)
from ..registry.auth import PASSWORD_ENV, USERNAME_ENV

_MAX_DETAIL = 300

_DAEMON_DOWN = re.compile(r"cannot connect to the docker daemon|is the docker daemon running", re.I)
_UNREACHABLE = re.compile(
    r"connection refused|no such host|i/o timeout|network is unreachable|no route to host"
    r"|server misbehaving|tls handshake timeout|context deadline exceeded"
    r"|server gave http response to https client|certificate",
    re.I,
)
_AUTH = re.compile(
    r"unauthorized|authentication required|\b401\b|\b403\b|denied|incorrect username or password"
    r"|invalid username/password|forbidden",
    re.I,
)
_NOT_FOUND = re.compile(
    r"manifest unknown|name unknown|not found|does not exist|no such image|unknown tag", re.I
)
_LOG_LINE = re.compile(r'^time="[^"]*" level=\w+ msg=')


def condense(stderr: str) -> str:
    """The runtime's own error, on one line: its last `Error:` line, else its last line, shortened."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    lines = [line for line in lines if not _LOG_LINE.match(line)] or lines
    errors = [line for line in lines if line.lower().startswith("error")]
    text = (errors or lines or ["(no error output)"])[-1]
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 3] + "..."
    return text


def classify_pull_failure(
    image: str, registry: str, stderr: str, *, runtime: str
) -> ContainerError:
    """The error to raise for a pull of `image` from `registry` that failed with `stderr`."""
    detail = condense(stderr)
    said = f"{runtime} said: {detail}"
    if _DAEMON_DOWN.search(stderr):
        return ContainerError(
            f"cannot pull {image}: the docker daemon is not running ({said}); start it "
            "(e.g. `systemctl start docker`), or install podman, which needs no daemon"
        )
    if _UNREACHABLE.search(stderr):
        hint = "check that the registry is up and the address is right"
        if re.search(r"http response to https|certificate|tls", stderr, re.I):
            hint += "; if it serves plain HTTP, add it to BAKERY_INSECURE_REGISTRIES"
        return ContainerRegistryUnreachableError(
            f"cannot pull {image}: registry {registry} cannot be reached ({said}); {hint}"
        )
    if _AUTH.search(stderr):
        return ContainerRegistryAuthError(
            f"cannot pull {image}: registry {registry} refused the credentials ({said}); log in with "
            f"`{runtime} login {registry}` or set {USERNAME_ENV}/{PASSWORD_ENV} (some registries "
            "answer this way for repositories that do not exist: check the name too)"
        )
    if _NOT_FOUND.search(stderr):
        return ContainerImageNotFoundError(
            f"image {image} not found on registry {registry} ({said}); check the repository name "
            "and tag (or digest), or push the image first"
        )
    return ContainerImageError(f"cannot pull {image} from registry {registry} ({said})")
