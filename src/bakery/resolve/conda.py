"""Resolve a spec's conda packages with rattler into a `LockedEnv`.

The solve covers the target platform's subdir plus `noarch`, always includes `python` (pinned
to `spec.python`), and uses virtual packages for the target (see `conda_virtual`). Each solved
record is kept whole in the lock, so `bakery.envs.conda_install` can link it again later, on
another machine, without repodata.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Coroutine, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..errors import IndexUnreachableError, PackageNotFoundError, ResolutionError, SpecError
from ..lock.model import LockedEnv, LockedPackage
from ..platforms import PLATFORMS, REFUSED
from ..spec import EnvSpec
from .conda_virtual import target_virtual_packages, to_rattler

DEFAULT_CHANNELS = ("conda-forge",)
# Subdirs looked at only to explain a failure ("no build for linux-aarch64, only for ...").
_KNOWN_SUBDIRS = (*PLATFORMS, *REFUSED)
_MAX_EXPLANATION_LINES = 14
T = TypeVar("T")


def resolve_conda(
    spec: EnvSpec,
    *,
    channels: Sequence[str] | None = None,
    virtual_packages: Sequence[str] | None = None,
    cache_dir: Path | None = None,
) -> LockedEnv:
    """Solve `spec.conda` (plus python) for `spec.platform` and return the locked environment.

    `channels` are the configured defaults, searched after `spec.channels` (conda-forge when
    neither names any). `virtual_packages` such as `["__cuda=12.4"]` override what the target
    is assumed to provide. `cache_dir` holds downloaded repodata (rattler's default if None).
    """
    from rattler import Gateway

    channel_names = conda_channels(spec, channels)
    match_specs = conda_match_specs(spec)
    virtual = target_virtual_packages(spec.platform, virtual_packages)
    platforms = [spec.platform.subdir, "noarch"]
    gateway = Gateway(cache_dir=cache_dir, client=_client())
    try:
        records = run_sync(
            _solve(gateway, channel_names, match_specs, platforms, to_rattler(virtual))
        )
    except Exception as error:
        raise _translate_error(error, spec, gateway, channel_names, virtual) from None
    packages = tuple(sorted((locked_package(r) for r in records), key=lambda p: p.name))
    python = next((p.version for p in packages if p.name == "python"), spec.python)
    return LockedEnv(spec=spec, python=".".join(python.split(".")[:2]), packages=packages)


def conda_channels(spec: EnvSpec, defaults: Sequence[str] | None = None) -> list[str]:
    """Channels in priority order: the spec's, the configured defaults, then `channel::` ones."""
    named = [r.channel for r in spec.conda if r.channel]
    base = [*spec.channels, *(defaults or ())] or list(DEFAULT_CHANNELS)
    return list(dict.fromkeys(c.rstrip("/") for c in [*base, *named]))


def python_match_spec(python: str) -> str:
    """`3.11` -> `python 3.11.*`, `3.11.7` -> `python ==3.11.7`, a specifier kept as is."""
    text = python.strip().replace(" ", "")
    if re.fullmatch(r"\d+\.\d+", text):
        return f"python {text}.*"
    if re.fullmatch(r"\d+\.\d+\.\d+", text):
        return f"python =={text}"
    return f"python {text}"


def conda_match_specs(spec: EnvSpec) -> list[str]:
    """The match specs to solve, validated: python first, then the requested packages."""
    from rattler import MatchSpec

    texts = [python_match_spec(spec.python), *(r.matchspec() for r in spec.conda)]
    for text in texts:
        try:
            MatchSpec(text)
        except Exception as error:
            raise SpecError(
                f"conda requirement '{text}' is not a valid match spec ({_first_line(error)}); "
                "write versions like '1.2.3', '>=1.2,<2' or '1.2.*'"
            ) from None
    return texts


def locked_package(record: Any) -> LockedPackage:
    """A rattler `RepoDataRecord` as a lock entry, keeping the whole record for relinking."""
    data = json.loads(record.to_json())
    return LockedPackage(
        kind="conda",
        name=str(record.name.normalized),
        version=str(record.version),
        url=record.url,
        sha256=record.sha256.hex() if record.sha256 else "",
        filename=record.file_name,
        size=record.size,
        channel=record.channel,
        record=data,
    )


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a rattler coroutine from synchronous code (in a thread if a loop is running)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _client() -> Any:
    from rattler import Client

    # Few retries: an unreachable channel should fail in seconds, not minutes.
    return Client.default_client(max_retries=1)


async def _solve(
    gateway: Any, channels: list[str], specs: list[str], platforms: list[str], virtual: list
) -> list:
    from rattler import solve

    return await solve(
        channels, specs, gateway=gateway, platforms=platforms, virtual_packages=virtual
    )


# --- turning rattler's errors into ours -------------------------------------------------------


def _translate_error(
    error: Exception,
    spec: EnvSpec,
    gateway: Any,
    channels: list[str],
    virtual: dict[str, tuple[str, str]],
) -> Exception:
    kind = type(error).__name__
    if kind in ("GatewayError", "FetchRepoDataError", "InvalidChannelError"):
        return _unreachable(error, channels)
    if kind != "SolverError":
        return ResolutionError(
            f"resolving conda packages for {spec.platform} failed: {_first_line(error)}"
        )
    requested = ["python", *(r.name for r in spec.conda)]
    try:
        missing = _missing_for_platform(gateway, channels, requested, spec.platform.subdir)
    except Exception:
        missing = None
    if missing:
        return missing
    return ResolutionError(_unsatisfiable_message(error, spec, virtual))


def _unreachable(error: Exception, channels: list[str]) -> IndexUnreachableError:
    text = str(error)
    urls = re.findall(r"(?:https?|file|s3|oci)://[^\s'`)]+", text)
    channel = next(
        (c for c in channels for u in urls if _channel_url(c).rstrip("/") in u),
        urls[0] if urls else ", ".join(channels),
    )
    reason = text.strip().splitlines()[-1].removeprefix("Caused by: ")
    return IndexUnreachableError(
        f"conda channel {_channel_url(channel)} cannot be reached or is not a channel "
        f"({reason}); check the channel name or URL, your network and proxy settings, "
        "or remove the channel"
    )


def _missing_for_platform(
    gateway: Any, channels: list[str], names: list[str], subdir: str
) -> ResolutionError | None:
    """Explain a failure caused by a requested package absent from the target subdir."""
    found = _subdirs_by_name(gateway, channels, names, [subdir, "noarch"])
    absent = [n for n in names if not found.get(n)]
    if not absent:
        return None
    name = absent[0]
    others = [s for s in _KNOWN_SUBDIRS if s != subdir]
    elsewhere = sorted(_subdirs_by_name(gateway, channels, [name], others).get(name, ()))
    searched = ", ".join(_channel_url(c) for c in channels)
    if elsewhere:
        return ResolutionError(
            f"conda package '{name}' has no build for {subdir} (only for "
            f"{', '.join(elsewhere)}) in channels {searched}; drop it for this platform, "
            "target another platform, or add a channel that builds it"
        )
    return PackageNotFoundError(
        f"conda package '{name}' was not found in channels {searched} (searched {subdir} and "
        "noarch); check its spelling, or add the channel that has it (channels=... or "
        f"'channel::{name}')"
    )


def _subdirs_by_name(
    gateway: Any, channels: list[str], names: Iterable[str], subdirs: list[str]
) -> dict[str, set[str]]:
    result = run_sync(gateway.query(channels, subdirs, list(names), recursive=False))
    found: dict[str, set[str]] = {}
    for records in result:
        for record in records:
            found.setdefault(str(record.name.normalized), set()).add(str(record.subdir))
    return found


def _unsatisfiable_message(
    error: Exception, spec: EnvSpec, virtual: dict[str, tuple[str, str]]
) -> str:
    explanation = condense_solver_error(str(error))
    requested = ", ".join(r.matchspec() for r in spec.conda) or "(none)"
    hint = "relax or remove the conflicting version pins"
    if "No candidates were found" in explanation:
        hint = "no package in the channels matches that version: loosen it, or add a channel that has it"
    for name in sorted(set(re.findall(r"(__\w+)", explanation))):
        variable = f"CONDA_OVERRIDE_{name.strip('_').upper()}"
        have = virtual.get(name)
        state = f"it is {have[0]} here" if have else "it is absent here"
        hint = (
            f"a package needs the virtual package {name} and {state}: target a machine that "
            f"has it, or lock anyway with {variable}=<version> (e.g. {variable}=12.4)"
        )
    return (
        f"conda packages {requested} with python {spec.python} cannot be resolved for "
        f"{spec.platform}:\n{explanation}\nTo fix: {hint}."
    )


def condense_solver_error(text: str) -> str:
    """rattler's explanation without its preamble, cut to a readable number of lines."""
    text = text.replace("Cannot solve the request because of:", "").strip()
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if len(lines) > _MAX_EXPLANATION_LINES:
        hidden = len(lines) - _MAX_EXPLANATION_LINES
        lines = [*lines[:_MAX_EXPLANATION_LINES], f"... ({hidden} more lines)"]
    return "\n".join(f"  {line}" for line in lines)


def _channel_url(channel: str) -> str:
    if "://" in channel:
        return channel
    try:
        from rattler import Channel

        return str(Channel(channel).base_url)
    except Exception:
        return channel


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
