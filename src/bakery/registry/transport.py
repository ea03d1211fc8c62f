"""The request loop under `RegistryClient`: URLs, authentication, retries and error messages.

Every request goes out anonymously (or with what an earlier challenge taught us); a 401 is answered by
reading `Www-Authenticate` — `Basic` sends the credentials, `Bearer` fetches a token from the realm for the
request's scope — and retried once. 429, 5xx and timeouts are retried with exponential backoff; a refused
connection is not, so a registry that is down fails at once.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import httpx

from bakery.errors import (
    RegistryAuthError,
    RegistryError,
    RegistryNotFoundError,
    RegistryProtocolError,
    RegistryUnreachableError,
)
from bakery.registry.answers import (
    check_digest_header,
    expected_statuses,
    is_web_page,
    json_or_none,
    protocol_error,
    snippet,
)
from bakery.registry.auth import (
    CREDENTIAL_SOURCES,
    Challenge,
    Credentials,
    basic_auth_header,
    parse_challenge,
)

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_RETRY_EXCEPTIONS = (
    httpx.TimeoutException,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)
_MAX_DELAY = 30.0

Body = bytes | Callable[[], bytes | Iterable[bytes]] | None
"""A request body: bytes, or a factory called once per attempt (so a streamed file can be re-sent)."""


@functools.cache
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """httpx's default TLS context (the CA bundle, or SSL_CERT_FILE / SSL_CERT_DIR: the cache
    key), made once per process: loading a CA bundle costs ~40 ms, and a bake makes a client
    per registry."""
    return httpx.create_ssl_context()


class RegistryTransport:
    """One registry's HTTP connection pool, auth state (Basic flag, Bearer tokens per scope) and retries."""

    def __init__(
        self,
        registry: str,
        *,
        insecure: bool,
        credentials: Credentials | None,
        timeout: float,
        retries: int,
        backoff: float,
    ) -> None:
        self.registry = registry
        self.base_url = f"{'http' if insecure else 'https'}://{registry}"
        self.credentials = credentials
        self.retries = retries
        self.backoff = backoff
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            verify=_tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")),
        )
        self._use_basic = False
        self._bearer: Challenge | None = None
        self._tokens: dict[str, str] = {}

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def url(self, path: str) -> httpx.URL:
        """The absolute URL of an API path such as `/v2/team/envs/manifests/latest`."""
        return httpx.URL(self.base_url + path)

    def request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        what: str,
        scope: str | None = None,
        ok: Sequence[int] = (200,),
        headers: Mapping[str, str] | None = None,
        content: Body = None,
        stream: bool = False,
    ) -> httpx.Response:
        """Send a request with auth and retries; raise a `RegistryError` unless its status is in `ok`.

        An answer in `ok` that is a web page, or a 1xx-3xx status outside `ok`, is a `RegistryProtocolError`:
        the server is not speaking the distribution API.

        `what` names the object for error messages ("manifest team/envs:abc"). With `stream=True` the caller
        must close the response.
        """
        url = self.url(url) if isinstance(url, str) and url.startswith("/") else httpx.URL(url)
        answered_challenge = False
        while True:
            if self._bearer is not None and (scope or "") not in self._tokens:
                # We already know the token endpoint: get this scope's token before sending a body into a 401.
                self._tokens[scope or ""] = self._fetch_token(
                    self._bearer, scope, from_challenge=False
                )
            auth = self._auth_headers(scope)
            sent_headers = {**(headers or {}), **auth}
            response = self._send_with_retries(
                lambda sent_headers=sent_headers: self._client.build_request(
                    method, url, headers=sent_headers, content=_body(content)
                ),
                what=what,
            )
            if response.status_code == 401 and not answered_challenge:
                challenge = response.headers.get("www-authenticate", "")
                response.close()
                self._answer_challenge(challenge, scope, sent_auth=bool(auth))
                answered_challenge = True
                continue
            if response.status_code in ok and not is_web_page(response):
                if not stream:
                    response.read()
                    response.close()
                return response
            response.read()
            response.close()
            if response.status_code in ok:
                raise self.protocol_error(response, what, "a web page, not a registry API answer")
            if response.status_code < 400:
                raise self.protocol_error(response, what, expected_statuses(ok))
            raise self.error_for(response, what)

    def protocol_error(
        self, response: httpx.Response, what: str, problem: str
    ) -> RegistryProtocolError:
        """The error for an answer to `what` that breaks the distribution API (see `answers.py`)."""
        return protocol_error(self.registry, self.base_url, what, response, problem)

    def check_digest(self, response: httpx.Response, what: str, expected: str) -> None:
        """Refuse an answer whose `Docker-Content-Digest` (when it has one) is not `expected`."""
        check_digest_header(self.registry, self.base_url, what, response, expected)

    def _send_with_retries(
        self, build: Callable[[], httpx.Request], *, what: str, peer: str | None = None
    ) -> httpx.Response:
        """Send until an answer that is not retried; `peer` names the server in errors (the registry)."""
        peer = peer or f"registry {self.registry}"
        attempt = 0
        while True:
            request = build()
            try:
                response = self._client.send(request, stream=True)
            except httpx.ConnectError as error:
                raise RegistryUnreachableError(_unreachable(error, peer)) from None
            except _RETRY_EXCEPTIONS as error:
                if attempt >= self.retries:
                    raise RegistryUnreachableError(
                        f"{peer} did not answer {request.method} for {what} "
                        f"after {attempt + 1} attempts ({type(error).__name__}); check the network, "
                        "or raise the client's timeout for slow registries"
                    ) from None
                attempt += 1
                logger.debug("retrying %s %s after %s", request.method, what, type(error).__name__)
                self._sleep(attempt, None)
                continue
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                retry_after = response.headers.get("retry-after")
                response.close()
                attempt += 1
                logger.debug(
                    "retrying %s %s after HTTP %s", request.method, what, response.status_code
                )
                self._sleep(attempt, retry_after)
                continue
            return response

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 4)
        if retry_after is not None and retry_after.strip().isdigit():
            delay = max(delay, float(retry_after))
        time.sleep(min(delay, _MAX_DELAY))

    def _auth_headers(self, scope: str | None) -> dict[str, str]:
        token = self._tokens.get(scope or "")
        if token is not None:
            return {"Authorization": f"Bearer {token}"}
        if self._use_basic and self.credentials is not None:
            return {"Authorization": basic_auth_header(self.credentials)}
        return {}

    def _answer_challenge(self, header: str, scope: str | None, *, sent_auth: bool) -> None:
        challenge = parse_challenge(header) if header else None
        if challenge is None or challenge.scheme not in ("basic", "bearer"):
            raise RegistryAuthError(
                f"registry {self.registry} answered 401 with an unsupported challenge "
                f"({challenge.scheme if challenge else 'no Www-Authenticate header'}); "
                "Bakery supports Basic and Bearer token authentication"
            )
        if challenge.scheme == "basic":
            if self.credentials is None:
                raise RegistryAuthError(self._no_credentials_message())
            if sent_auth:
                raise RegistryAuthError(self._refused_message())
            self._use_basic = True
            return
        self._bearer = challenge
        self._tokens[scope or ""] = self._fetch_token(challenge, scope, from_challenge=True)

    def _fetch_token(self, challenge: Challenge, scope: str | None, *, from_challenge: bool) -> str:
        realm = challenge.realm
        if not realm:
            raise RegistryAuthError(
                f"registry {self.registry} asked for a Bearer token but named no realm to get it from"
            )
        params: list[tuple[str, str]] = []
        if challenge.params.get("service"):
            params.append(("service", challenge.params["service"]))
        wanted = challenge.params.get("scope") if from_challenge else None
        params.extend(("scope", item) for item in (wanted or scope or "").split())
        # Name the realm, not the registry: the registry answered, its token server did not.
        peer = (
            f"token server {realm} (the realm registry {self.registry} sends clients to for tokens)"
        )
        headers = {}
        if self.credentials is not None:
            headers["Authorization"] = basic_auth_header(self.credentials)
        response = self._send_with_retries(
            lambda: self._client.build_request("GET", realm, params=params, headers=headers),
            what="a token",
            peer=peer,
        )
        response.read()
        response.close()
        if response.status_code in (401, 403):
            raise RegistryAuthError(
                self._refused_message() if self.credentials else self._no_credentials_message()
            )
        if response.status_code != 200:
            raise RegistryAuthError(
                f"token server {realm} for registry {self.registry} answered HTTP "
                f"{response.status_code}; check the registry's auth service"
            )
        payload = json_or_none(response.content)
        token = None
        if isinstance(payload, dict):
            token = payload.get("token") or payload.get("access_token")
        if not isinstance(token, str) or not token:
            raise RegistryAuthError(
                f"token server {realm} for registry {self.registry} returned no token (got "
                f"{snippet(response.content)!r}); check the registry's auth service"
            )
        return token

    def _no_credentials_message(self) -> str:
        return (
            f"registry {self.registry} requires authentication and no credentials were found for it; "
            f"log in (e.g. `podman login {self.registry}`) or set them in one of: {CREDENTIAL_SOURCES}"
        )

    def _refused_message(self) -> str:
        user = self.credentials.username if self.credentials else "?"
        return (
            f"registry {self.registry} refused the credentials of user {user!r}; check the username and "
            f"password (read from, in order: {CREDENTIAL_SOURCES})"
        )

    def error_for(self, response: httpx.Response, what: str) -> RegistryError:
        """The `RegistryError` subclass and human message for a failed response."""
        status = response.status_code
        detail = _registry_errors(response)
        suffix = f" ({detail})" if detail else ""
        if status == 401:
            return RegistryAuthError(
                self._refused_message() if self.credentials else self._no_credentials_message()
            )
        if status == 403:
            who = f"user {self.credentials.username!r}" if self.credentials else "anonymous access"
            return RegistryAuthError(
                f"registry {self.registry} denied {who} access to {what}{suffix}; check that the account "
                f"may read and push there (credentials are read from: {CREDENTIAL_SOURCES})"
            )
        if status == 404:
            return RegistryNotFoundError(
                f"{what} not found on registry {self.registry}{suffix}; check the repository name "
                "and tag, or push it first"
            )
        return RegistryError(
            f"registry {self.registry} answered HTTP {status} to {response.request.method} for {what}"
            f"{suffix or ' with no error details'}"
        )


def _body(content: Body) -> bytes | Iterable[bytes] | None:
    return content() if callable(content) else content


def _unreachable(error: httpx.ConnectError, peer: str) -> str:
    text = str(error)
    if "refused" in text.lower():
        return f"cannot reach {peer}: connection refused — is it running? check the address"
    if "ssl" in text.lower() or "certificate" in text.lower():
        return (
            f"cannot reach {peer}: TLS handshake failed ({text}); if it serves plain HTTP, "
            "add it to BAKERY_INSECURE_REGISTRIES"
        )
    if "name" in text.lower() and ("resolution" in text.lower() or "known" in text.lower()):
        return f"cannot reach {peer}: unknown host name — check the spelling"
    return f"cannot reach {peer}: {text or type(error).__name__} — check the address and network"


def _registry_errors(response: httpx.Response) -> str:
    """`CODE: message` for each error in the registry's JSON error body, or a short text excerpt."""
    payload = json_or_none(response.content)
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if isinstance(errors, list) and all(isinstance(error, dict) for error in errors):
        parts = [
            f"{error.get('code', '?')}: {error.get('message', '')}".strip() for error in errors
        ]
        return "; ".join(parts)
    return response.text.strip()[:200] if response.content else ""
