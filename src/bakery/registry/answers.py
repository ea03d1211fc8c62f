"""What a registry's answers must look like (the distribution spec), and the one error for other answers.

The spec fixes the status of each call — 202 to open an upload session or take a chunk, 201 once a blob
or manifest is stored, 200 to a read — the `Docker-Content-Digest` of what was stored or served, and the
content type of manifests. A server that answers otherwise (a web server or login page answering 200 and
HTML to everything, a proxy rewriting statuses or bodies) must fail the push here rather than be reported
as a success. Each deviation is a `RegistryProtocolError` that names the registry, the request, what came
back (status, content type, the start of the body) and what to check; every JSON document from a server
is read with `parse_json`.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from bakery.errors import RegistryProtocolError

SNIPPET_CHARS = 80
"""How much of an unexpected body an error message quotes."""

WEB_PAGE_TYPES = ("text/html", "application/xhtml+xml")
"""Content types no registry API call answers with: a web page means a web server, not a registry."""


def content_type(response: httpx.Response) -> str:
    """The response's media type without parameters (`text/html; charset=utf-8` -> `text/html`)."""
    return response.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def snippet(body: bytes) -> str:
    """The start of `body` on one line, for an error message."""
    text = " ".join(body[: SNIPPET_CHARS * 4].decode("utf-8", "replace").split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def describe_answer(response: httpx.Response) -> str:
    """`HTTP 200 (Content-Type text/html, body '<html>…')`: what came back, in one line."""
    parts = [f"Content-Type {content_type(response) or '(none)'}"]
    try:
        body = response.content
    except httpx.ResponseNotRead:  # a streamed body nobody read: describe the headers only
        body = b""
    parts.append(f"body {snippet(body)!r}" if body else "no body")
    return f"HTTP {response.status_code} ({', '.join(parts)})"


def protocol_error(
    registry: str, base_url: str, what: str, response: httpx.Response, problem: str
) -> RegistryProtocolError:
    """The error for an answer that breaks the distribution API: who, which request, what came back."""
    return RegistryProtocolError(
        f"registry {registry} answered {response.request.method} for {what} with "
        f"{describe_answer(response)}: {problem}. Is {base_url} an OCI registry? Check the address, "
        "and any proxy or login page in front of it"
    )


def is_web_page(response: httpx.Response) -> bool:
    """True when the answer is an HTML page, which no registry API call returns."""
    return content_type(response) in WEB_PAGE_TYPES


def expected_statuses(ok: tuple[int, ...] | list[int]) -> str:
    """`expected HTTP 201` / `expected HTTP 200 or 404`, for messages."""
    return "expected HTTP " + " or ".join(str(status) for status in ok)


def check_digest_header(
    registry: str, base_url: str, what: str, response: httpx.Response, expected: str
) -> None:
    """Refuse an answer whose `Docker-Content-Digest` names other content than `expected`."""
    served = response.headers.get("docker-content-digest")
    if served is not None and served.strip() != expected:
        raise protocol_error(
            registry,
            base_url,
            what,
            response,
            f"its Docker-Content-Digest is {served.strip()!r}, but the content's digest is {expected}",
        )


def parse_json(body: bytes, *, what: str, registry: str) -> dict[str, Any]:
    """`body` as a JSON object, or a `RegistryProtocolError` naming `what` (from `registry`) and its start."""
    document = json_or_none(body)
    if not isinstance(document, dict):
        found = "an empty body" if not body.strip() else f"{snippet(body)!r}"
        raise RegistryProtocolError(
            f"registry {registry} served {what} that is not a JSON object: got {found}. "
            f"Is {registry} an OCI registry? Check the address, and any proxy or login page in front of it"
        )
    return document


def json_or_none(body: bytes) -> Any:
    """`body` parsed as JSON, or None when it is not JSON (for bodies that may be anything)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
