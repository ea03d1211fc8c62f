"""A minimal OAuth2 token server for the CNCF registry's `auth: token:` mode (Docker's token protocol).

It signs RS256 JWTs with a throwaway self-signed certificate (made and used through the `openssl` CLI,
so the tests need no crypto package); the registry trusts that certificate via `rootcertbundle`. Basic
credentials matching `username`/`password` get every action they ask for; anonymous requests get a token
with no access (so the registry refuses them); wrong credentials get a 401.
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ISSUER = "bakery-test-issuer"
SERVICE = "bakery-test-registry"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """Serves `GET /token?service=...&scope=...` on a free loopback port; records every request."""

    def __init__(self, directory: Path, username: str, password: str) -> None:
        self.key = directory / "token-key.pem"
        self.cert = directory / "token-cert.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
            + ["-subj", "/CN=bakery-token", "-keyout", str(self.key), "-out", str(self.cert)],
            check=True,
            capture_output=True,
        )
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
            check=True,
            capture_output=True,
        ).stdout
        self._x5c = base64.b64encode(der).decode()
        self.username, self.password = username, password
        self.requests: list[dict[str, list[str]]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        """The URL the registry sends clients to for tokens."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def registry_auth_yaml(self) -> str:
        """The `auth:` section of a registry config that trusts this server."""
        return (
            f"auth:\n  token:\n    realm: {self.realm}\n    service: {SERVICE}\n"
            f"    issuer: {ISSUER}\n    rootcertbundle: {self.cert}\n"
        )

    def start(self) -> TokenServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def sign(self, claims: dict[str, object]) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(),
            check=True,
            capture_output=True,
        ).stdout
        return f"{signing_input}.{_b64url(signature)}"

    def _token_for(self, query: dict[str, list[str]], authorized: bool) -> str:
        access = []
        for scope in query.get("scope", []) if authorized else []:
            for item in scope.split(" "):
                kind, name, actions = item.split(":")
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": self.username if authorized else "",
            "aud": query.get("service", [""])[0],
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        return self.sign(claims)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                server.requests.append(query)
                header = self.headers.get("Authorization", "")
                authorized = False
                if header.startswith("Basic "):
                    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    if (user, password) != (server.username, server.password):
                        self.send_response(401)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    authorized = True
                body = json.dumps({"token": server._token_for(query, authorized)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
