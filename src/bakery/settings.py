"""Every Bakery setting, read once into one frozen `Settings`, with one order of precedence.

For a setting named `BAKERY_CACHE_DIR` (core Metaflow's own knobs, such as `CONDA_CHANNELS`, have
no `BAKERY_` part), the first of these that is set wins:

1. `METAFLOW_BAKERY_CACHE_DIR` in the environment;
2. `METAFLOW_BAKERY_CACHE_DIR` in Metaflow's configuration: the local `.metaflow/config.json`, then
   the profile (`$METAFLOW_HOME/config_$METAFLOW_PROFILE.json`, else `config.json`);
3. `BAKERY_CACHE_DIR` in the environment (the short name, for scripts and the `bakery` CLI);
4. the default.

Steps 1–2 are exactly Metaflow's `from_conf`, so a flow and the `bakery` command read the same
values; the core reads Metaflow's JSON files itself because it never imports Metaflow.

Each process reads its settings once, where it starts (the Metaflow adapter, the `bakery` CLI, a
remote bootstrap), and hands them in with `use()`; the core's leaves (which uv, which Pythons,
which registries are plain http) ask `current()`. Nothing in Bakery writes `os.environ`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import SettingsError

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class SettingInfo:
    """One row of the settings table: its names, default and meaning."""

    attribute: str
    name: str  # the short name, e.g. BAKERY_CACHE_DIR (Metaflow's is METAFLOW_ + name)
    default: str  # as documented
    help: str
    choices: tuple[str, ...] = ()

    @property
    def metaflow_name(self) -> str:
        return "METAFLOW_" + self.name


def _bool(info: SettingInfo, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise SettingsError(f"{info.metaflow_name}={raw!r} is not a yes/no value: use 1 or 0")


def _choice(info: SettingInfo, raw: str) -> str:
    value = raw.strip().lower()
    if value not in info.choices:
        raise SettingsError(
            f"{info.metaflow_name}={raw!r} is not one of {', '.join(info.choices)}: "
            f"set it to one of them or unset it (default {info.default})"
        )
    return value


def _text(info: SettingInfo, raw: str) -> str | None:
    return raw.strip() or None


def _path(info: SettingInfo, raw: str) -> Path | None:
    return Path(raw.strip()).expanduser() if raw.strip() else None


def _raw(info: SettingInfo, raw: str) -> str:
    return raw  # checked by its reader (an empty policy path is an error, not "no policy")


def _paths(info: SettingInfo, raw: str) -> tuple[Path, ...]:
    return tuple(Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip())


def _list(info: SettingInfo, raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


_PARSERS: dict[str, Callable[[SettingInfo, str], Any]] = {}


def _setting(attribute: str, name: str, default: str, help: str, parse, choices=()):
    info = SettingInfo(attribute, name, default, help, tuple(choices))
    _PARSERS[attribute] = parse
    return info


SETTINGS: tuple[SettingInfo, ...] = (
    _setting("cache_dir", "BAKERY_CACHE_DIR", "`$XDG_CACHE_HOME/bakery`, else `~/.cache/bakery`",
             "where environments, wheels and image layers are cached", _path),
    _setting("frozen", "BAKERY_FROZEN", "off",
             "a run must use the lockfile as it is and fail if a step's spec changed", _bool),
    _setting("snapshot", "BAKERY_SNAPSHOT", "auto",
             "store packages in the datastore: `auto` (non-local datastores; on the local one, "
             "steps in containers not baked for them), `always`, `never`",
             _choice, ("auto", "always", "never")),
    _setting("compile_bytecode", "BAKERY_COMPILE_BYTECODE", "background",
             "`.pyc` for new environments: `background`, `sync` or `never`",
             _choice, ("background", "sync", "never")),
    _setting("python_downloads", "BAKERY_PYTHON_DOWNLOADS", "off",
             "let uv download a missing Python (from `UV_PYTHON_INSTALL_MIRROR` if set)", _bool),
    _setting("pythons", "BAKERY_PYTHONS", "–",
             "extra interpreters to build environments on (paths, `:`-separated)", _paths),
    _setting("conda_channels", "CONDA_CHANNELS", "`conda-forge`",
             "default conda channels of `@conda`, comma-separated (core Metaflow's knob)", _list),
    _setting("registry", "BAKERY_REGISTRY", "–",
             "where `--environment=fast-bakery` pushes baked images", _text),
    _setting("base_image", "BAKERY_BASE_IMAGE", "`python:X.Y-slim`",
             "the base image of baked environments (`bakery bake`, fast-bakery)", _text),
    _setting("insecure_registries", "BAKERY_INSECURE_REGISTRIES", "loopback",
             "registries reached over plain http, comma-separated", _list),
    _setting("workstation_image", "BAKERY_WORKSTATION_IMAGE", "–",
             "the default image of remote steps that name none", _text),
    _setting("container_runtime", "BAKERY_CONTAINER_RUNTIME", "podman, else docker",
             "the runtime `--with container` uses (`podman`, `docker` or a path)", _text),
    _setting("container_args", "BAKERY_CONTAINER_ARGS", "–",
             "extra flags for every container run (shell-split)", _text),
    _setting("policy_file", "BAKERY_POLICY_FILE", "–",
             "a perimeter policy that adds to `/etc/bakery/policy.toml` (in force whenever it "
             "exists, whatever this says)", _raw),
    _setting("uv", "BAKERY_UV", "uv beside Bakery, else on `PATH`",
             "the uv binary Bakery runs", _path),
)  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """Bakery's settings, each resolved once (see the module docstring for the order)."""

    cache_dir: Path | None = None  # None: the default (see cache_root)
    frozen: bool = False
    snapshot: str = "auto"
    compile_bytecode: str = "background"
    python_downloads: bool = False
    pythons: tuple[Path, ...] = ()
    conda_channels: tuple[str, ...] = ()
    registry: str | None = None
    base_image: str | None = None
    insecure_registries: tuple[str, ...] = ()
    workstation_image: str | None = None
    container_runtime: str | None = None
    container_args: str | None = None
    policy_file: str | None = None
    uv: Path | None = None
    # attribute -> where its value came from (e.g. "METAFLOW_BAKERY_CACHE_DIR in the environment")
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        metaflow_config: Mapping[str, Any] | None = None,
    ) -> Settings:
        """Read every setting from `environ` (default `os.environ`) and Metaflow's configuration
        (default: read from its JSON files as Metaflow does)."""
        environ = os.environ if environ is None else environ
        if metaflow_config is None:
            metaflow_config = read_metaflow_config(environ)
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for info in SETTINGS:
            found = _lookup(info, environ, metaflow_config)
            if found is None:
                continue
            raw, source = found
            values[info.attribute] = _PARSERS[info.attribute](info, str(raw))
            sources[info.attribute] = source
        return cls(**values, sources=sources)

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some values replaced (e.g. a remote bootstrap's own cache)."""
        sources = {**self.sources, **{name: "set by Bakery" for name in changes}}
        return replace(self, **changes, sources=sources)

    def cache_root(self, environ: Mapping[str, str] | None = None) -> Path:
        """The cache root: the setting, else `$XDG_CACHE_HOME/bakery`, else `~/.cache/bakery`."""
        if self.cache_dir is not None:
            return self.cache_dir
        environ = os.environ if environ is None else environ
        base = environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "bakery"

    def source(self, attribute: str) -> str:
        """Where the value of `attribute` came from ("default" when nothing set it)."""
        return self.sources.get(attribute, "default")


_current: Settings | None = None


def current() -> Settings:
    """This process's settings: those its entry point handed to `use()`; where none did (the
    core used as a library), read from the environment as it is now."""
    return _current if _current is not None else Settings.load()


def use(settings: Settings | None) -> Settings | None:
    """Make `settings` this process's settings (None: read them again on next use)."""
    global _current
    _current = settings
    return settings


def _lookup(
    info: SettingInfo, environ: Mapping[str, str], metaflow_config: Mapping[str, Any]
) -> tuple[str, str] | None:
    if info.metaflow_name in environ:
        return environ[info.metaflow_name], f"{info.metaflow_name} in the environment"
    if metaflow_config.get(info.metaflow_name) is not None:
        value = metaflow_config[info.metaflow_name]
        origin = metaflow_config.get("__source__", "Metaflow's configuration")
        return str(value), f"{info.metaflow_name} in {origin}"
    if info.name in environ:
        return environ[info.name], f"{info.name} in the environment"
    return None


def read_metaflow_config(environ: Mapping[str, str]) -> dict[str, Any]:
    """Metaflow's configuration values as `from_conf` sees them below the environment: the local
    `.metaflow/config.json` over the profile's. `__source__` names the files read."""
    merged: dict[str, Any] = {}
    read: list[str] = []
    for path in (_profile_config_path(environ), _local_config_path()):
        if path is None or not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise SettingsError(
                f"cannot read Metaflow's configuration {path}: {e}; fix or remove the file"
            ) from None
        if isinstance(data, dict):
            merged.update(data)
            read.append(str(path))
    if read:
        merged["__source__"] = " and ".join(reversed(read))
    return merged


def _profile_config_path(environ: Mapping[str, str]) -> Path:
    home = Path(environ.get("METAFLOW_HOME", "~/.metaflowconfig")).expanduser()
    profile = environ.get("METAFLOW_PROFILE")
    return home / (f"config_{profile}.json" if profile else "config.json")


def _local_config_path() -> Path | None:
    """`.metaflow/config.json` in the current folder or the nearest parent that has
    `.metaflow` (Metaflow's local configuration)."""
    folder = Path.cwd()
    for candidate in (folder, *folder.parents):
        if (candidate / ".metaflow").is_dir():
            return candidate / ".metaflow" / "config.json"
    return None


def settings_table() -> str:
    """The README's settings table (markdown), made from `SETTINGS`."""
    lines = ["| setting | default | what it does |", "|---|---|---|"]
    for info in SETTINGS:
        lines.append(f"| `{info.metaflow_name}` / `{info.name}` | {info.default} | {info.help} |")
    return "\n".join(lines)


__all__ = [
    "SETTINGS",
    "SettingInfo",
    "Settings",
    "current",
    "read_metaflow_config",
    "settings_table",
    "use",
]
assert {f.name for f in fields(Settings)} - {"sources"} == {s.attribute for s in SETTINGS}
