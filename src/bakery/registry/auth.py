"""Registry credentials: where they are read from, and how a registry's 401 challenge is understood.

Credentials are never logged and never put in an exception message; `Credentials.__repr__` hides the
password. Lookup order (first match wins):

1. `BAKERY_REGISTRY_USERNAME` / `BAKERY_REGISTRY_PASSWORD` (apply to every registry);
2. containers auth files: `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
   `~/.config/containers/auth.json`;
3. Docker's `$DOCKER_CONFIG/config.json`, or `~/.docker/config.json`.

In an auth file, `auths` maps a registry (optionally with a scheme or path) to `{"auth": base64("user:pass")}`
or to `{"username": ..., "password": ...}`. Credential helpers (`credsStore`, `credHelpers`) are not run.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from bakery.registry.reference import DOCKER_HUB_ALIASES, normalize_registry

logger = logging.getLogger(__name__)

USERNAME_ENV = "BAKERY_REGISTRY_USERNAME"
PASSWORD_ENV = "BAKERY_REGISTRY_PASSWORD"

CREDENTIAL_SOURCES = (
    f"${USERNAME_ENV}/${PASSWORD_ENV}, $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, "
    "~/.config/containers/auth.json, $DOCKER_CONFIG/config.json or ~/.docker/config.json "
    "(`podman login` and `docker login` write these files)"
)
"""Where Bakery looks for credentials, in order, worded for error messages."""


@dataclass(frozen=True)
class Credentials:
    """A username and password (or token) for one registry; the password never appears in repr."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Challenge:
    """A parsed `Www-Authenticate` header: the scheme (`basic` or `bearer`) and its parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        """The token endpoint (Bearer) or the protection realm name (Basic)."""
        return self.params.get("realm")


_CHALLENGE_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


def parse_challenge(header: str) -> Challenge:
    """Parse `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    for match in _CHALLENGE_PARAM.finditer(rest):
        key, quoted, bare = match.groups()
        value = quoted.replace('\\"', '"') if quoted is not None else bare
        params[key.lower()] = value
    return Challenge(scheme=scheme.lower(), params=params)


def basic_auth_header(credentials: Credentials) -> str:
    """The `Authorization` header value for HTTP Basic authentication with `credentials`."""
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def find_credentials(registry: str) -> Credentials | None:
    """Return the credentials configured for `registry`, or None (see the module docstring for order)."""
    username, password = os.environ.get(USERNAME_ENV), os.environ.get(PASSWORD_ENV)
    if username and password is not None:
        return Credentials(username, password)
    for path in auth_file_candidates():
        credentials = _read_auth_file(path, registry)
        if credentials is not None:
            logger.debug("using credentials for %s from %s", registry, path)
            return credentials
    return None


def auth_file_candidates() -> list[Path]:
    """The auth files to read, in lookup order (existing or not)."""
    paths: list[Path] = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        paths.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    if os.environ.get("XDG_RUNTIME_DIR"):
        paths.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    paths.append(Path.home() / ".config" / "containers" / "auth.json")
    if os.environ.get("DOCKER_CONFIG"):
        paths.append(Path(os.environ["DOCKER_CONFIG"]) / "config.json")
    else:
        paths.append(Path.home() / ".docker" / "config.json")
    return paths


def _registry_keys(registry: str) -> set[str]:
    """Every spelling of `registry` an `auths` key may use once normalized by `_key_host`."""
    host = normalize_registry(registry)
    if host in DOCKER_HUB_ALIASES:
        return set(DOCKER_HUB_ALIASES)
    return {host}


def _key_host(key: str) -> str:
    # Keys may be "host", "https://host", "https://index.docker.io/v1/" or "host/namespace".
    key = key.strip()
    for scheme in ("https://", "http://"):
        if key.startswith(scheme):
            key = key[len(scheme) :]
    return key.split("/", 1)[0]


def _read_auth_file(path: Path, registry: str) -> Credentials | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        logger.warning("cannot read registry auth file %s (%s); skipping it", path, error.strerror)
        return None
    try:
        auths = json.loads(text).get("auths") or {}
    except (ValueError, AttributeError):
        logger.warning("registry auth file %s is not valid JSON; skipping it", path)
        return None
    wanted = _registry_keys(registry)
    # Prefer a key naming the bare host over one scoped to a namespace ("host/team").
    matches = sorted(
        (key for key in auths if _key_host(key) in wanted), key=lambda key: "/" in key.strip("/")
    )
    for key in matches:
        credentials = _entry_credentials(auths[key])
        if credentials is not None:
            return credentials
        logger.warning("entry %r in %s has no usable credentials; skipping it", key, path)
    return None


def _entry_credentials(entry: object) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(entry["auth"], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        username, sep, password = decoded.partition(":")
        return Credentials(username, password) if sep and username else None
    if entry.get("username") and entry.get("password") is not None:
        return Credentials(str(entry["username"]), str(entry["password"]))
    return None


def configured_registries() -> list[tuple[str, str]]:
    """`(registry, where its credentials are configured)` for every registry with credentials
    (`bakery doctor`); never the credentials themselves."""
    found: list[tuple[str, str]] = []
    if os.environ.get(USERNAME_ENV) and os.environ.get(PASSWORD_ENV) is not None:
        found.append(("(any registry)", f"{USERNAME_ENV} / {PASSWORD_ENV}"))
    for path in auth_file_candidates():
        try:
            auths = json.loads(path.read_text(encoding="utf-8")).get("auths") or {}
        except (OSError, ValueError, AttributeError):
            continue
        for key, entry in sorted(auths.items()):
            if _entry_credentials(entry) is not None:
                found.append((_key_host(key), str(path)))
    return found
