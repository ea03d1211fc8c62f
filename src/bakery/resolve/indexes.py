"""Package index settings for PyPI resolution: the same knobs pip (and core Metaflow) use.

Read from `PIP_INDEX_URL` / `PIP_EXTRA_INDEX_URL` and pip's config files, as Metaflow's own
`@pypi` does. Credentials embedded in index URLs are passed to uv but never written to the
lockfile or shown in messages: use `redact()` on anything that may be printed. Nor do they go on
uv's command line, which every user of the machine can read (`ps`, /proc/PID/cmdline): an index
with credentials is named there (`--index bakery1=URL`, the URL without them) and uv reads its user
and password from its environment (`UV_INDEX_BAKERY1_USERNAME` / `_PASSWORD`).
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

DEFAULT_INDEX = "https://pypi.org/simple"


def redact(text: str) -> str:
    """Replace `user:password@` in every URL of `text` with `REDACTED@`.

    The userinfo runs to the *last* `@` before the path, as in URL parsers: a password may hold a raw
    `@` (`https://user:p@ss@host/`), and stopping at the first one would print the rest of it.
    """
    return re.sub(r"(\w+://)[^/\s]*@", r"\1REDACTED@", text)


def strip_credentials(url: str) -> str:
    """The URL without its userinfo, for recording in lockfiles."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _pip_config_files() -> list[Path]:
    home = Path.home()
    files = [Path("/etc/pip.conf"), Path("/etc/xdg/pip/pip.conf")]
    files += [home / ".pip/pip.conf", home / ".config/pip/pip.conf"]
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(Path(os.environ["PIP_CONFIG_FILE"]))
    return files


def _split(value: str) -> list[str]:
    return [v.strip("'\"") for v in re.split(r"\s+", value.strip()) if v]


@dataclass(frozen=True)
class IndexConfig:
    """Where uv looks for packages. Empty means uv's default (PyPI or UV_* settings)."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()

    @classmethod
    def from_environment(cls) -> IndexConfig:
        """pip's settings: config files (later ones win), then PIP_* environment variables."""
        index_url, extras = None, []
        parser = configparser.RawConfigParser()
        parser.read([str(f) for f in _pip_config_files() if f.is_file()])
        for section in ("global", "install"):
            if parser.has_option(section, "index-url"):
                index_url = _split(parser.get(section, "index-url"))[0]
            if parser.has_option(section, "extra-index-url"):
                extras += _split(parser.get(section, "extra-index-url"))
        index_url = os.environ.get("PIP_INDEX_URL") or index_url
        extras += _split(os.environ.get("PIP_EXTRA_INDEX_URL", ""))
        return cls(index_url, tuple(dict.fromkeys(extras)))

    def urls(self, *, with_default: bool = False) -> list[str]:
        """The configured index URLs (credentials included); PyPI's when none is and asked."""
        main = self.index_url or (DEFAULT_INDEX if with_default else None)
        return [url for url in (main, *self.extra_index_urls) if url]

    def credentials_by_host(self) -> dict[str, tuple[str, str]]:
        """(user, password) per index host, from the URLs' userinfo, for plain HTTP requests."""
        found = {}
        for url in self.urls():
            parts = urlsplit(url)
            if parts.username and parts.hostname:
                found[parts.hostname] = (unquote(parts.username), unquote(parts.password or ""))
        return found

    def uv_args(self) -> list[str]:
        """uv's index options, free of credentials: pass `uv_credentials()` in uv's environment."""
        args = ["--default-index", _uv_index(0, self.index_url)] if self.index_url else []
        for position, url in enumerate(self.extra_index_urls, start=1):
            args += ["--index", _uv_index(position, url)]
        if self.extra_index_urls:
            # pip treats all indexes alike and takes the best match; uv's default would stop
            # at the first index that knows a name, which is not what a pip config means
            args += ["--index-strategy", "unsafe-best-match"]
        return args

    def uv_credentials(self) -> dict[str, str]:
        """The environment that gives uv the credentials of the indexes `uv_args()` names."""
        found = {}
        urls = [(0, self.index_url)] if self.index_url else []
        for position, url in [*urls, *enumerate(self.extra_index_urls, start=1)]:
            parts = urlsplit(url)
            if "@" not in parts.netloc:
                continue
            # uv takes these values as they are; in a URL they are percent-encoded
            variable = f"UV_INDEX_{_uv_index_name(position).upper()}"
            found[f"{variable}_USERNAME"] = unquote(parts.username or "")
            if parts.password is not None:
                found[f"{variable}_PASSWORD"] = unquote(parts.password)
        return found

    def describe(self) -> str:
        urls = ([self.index_url] if self.index_url else ["PyPI (default)"]) + list(
            self.extra_index_urls
        )
        return ", ".join(redact(u) for u in urls)


def _uv_index_name(position: int) -> str:
    return f"bakery{position}"


def _uv_index(position: int, url: str) -> str:
    """`NAME=URL` without its credentials for an index that has some (uv finds them by the
    name), the URL as it is otherwise."""
    if "@" not in urlsplit(url).netloc:
        return url
    return f"{_uv_index_name(position)}={strip_credentials(url)}"
