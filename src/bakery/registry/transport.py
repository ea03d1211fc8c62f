"""The request loop under `RegistryClient`: URLs, authentication, retries and error messages.

Every request goes out anonymously (or with what an earlier challenge taught us); a 401 is answered by
reading `Www-Authenticate` — `Basic` sends the credentials, `Bearer` fetches a token from the realm for the
request's scope — and retried once. 429, 5xx and timeouts are retried with exponential backoff; a refused
connection is not, so a registry that is down fails at once.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import httpx

from bakery.errors import (
    RegistryAuthError,
    RegistryError,
    RegistryNotFoundError,
    RegistryUnreachableError,
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
        self._client = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True)
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
            if response.status_code in ok:
                if not stream:
                    response.read()
                    response.close()
                return response
            response.read()
            response.close()
            raise self.error_for(response, what)

    def _send_with_retries(
        self, build: Callable[[], httpx.Request], *, what: str, host: str | None = None
    ) -> httpx.Response:
        attempt = 0
        while True:
            request = build()
            try:
                response = self._client.send(request, stream=True)
            except httpx.ConnectError as error:
                raise RegistryUnreachableError(self._unreachable(error, host)) from None
            except _RETRY_EXCEPTIONS as error:
                if attempt >= self.retries:
                    raise RegistryUnreachableError(
                        f"registry {host or self.registry} did not answer {request.method} for {what} "
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
        auth_host = httpx.URL(realm).netloc.decode()
        headers = {}
        if self.credentials is not None:
            headers["Authorization"] = basic_auth_header(self.credentials)
        response = self._send_with_retries(
            lambda: self._client.build_request("GET", realm, params=params, headers=headers),
            what="a token",
            host=auth_host,
        )
        response.read()
        response.close()
        if response.status_code in (401, 403):
            raise RegistryAuthError(
                self._refused_message() if self.credentials else self._no_credentials_message()
            )
        if response.status_code != 200:
            raise RegistryAuthError(
                f"token server {auth_host} for registry {self.registry} answered HTTP "
                f"{response.status_code}; check the registry's auth service"
            )
        try:
            payload = response.json()
            return str(payload.get("token") or payload["access_token"])
        except (ValueError, KeyError, AttributeError):
            raise RegistryAuthError(
                f"token server {auth_host} for registry {self.registry} returned no token"
            ) from None

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

    def _unreachable(self, error: httpx.ConnectError, host: str | None) -> str:
        host = host or self.registry
        text = str(error)
        if "refused" in text.lower():
            return f"cannot reach registry {host}: connection refused — is it running? check the address"
        if "ssl" in text.lower() or "certificate" in text.lower():
            return (
                f"cannot reach registry {host}: TLS handshake failed ({text}); if it serves plain HTTP, "
                "add it to BAKERY_INSECURE_REGISTRIES"
            )
        if "name" in text.lower() and ("resolution" in text.lower() or "known" in text.lower()):
            return f"cannot reach registry {host}: unknown host name — check the spelling"
        return f"cannot reach registry {host}: {text or type(error).__name__} — check the address and network"

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


def _registry_errors(response: httpx.Response) -> str:
    """`CODE: message` for each error in the registry's JSON error body, or a short text excerpt."""
    try:
        errors = json.loads(response.content).get("errors") or []
        parts = [
            f"{error.get('code', '?')}: {error.get('message', '')}".strip() for error in errors
        ]
        return "; ".join(parts)
    except (ValueError, AttributeError):
        text = response.text.strip() if response.content else ""
        return text[:200]
