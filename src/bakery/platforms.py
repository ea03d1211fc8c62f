"""Target platforms: every fact Bakery knows about one, in one table.

A platform is named by its conda subdir (`linux-64`, `osx-arm64`, ...). Its row says how each
tool spells it (uv's `--python-platform`, wheel tags, OCI os/architecture, conda's `__archspec`),
what environment markers a Python there reports, and which OS versions a lock for it assumes
(glibc on Linux, the oldest macOS on macOS). Everything else derives from this table, so adding
a platform is adding a row.

Standard library only: task environments read lockfiles (and so `TargetPlatform`) without
`packaging`.
"""

from __future__ import annotations

import platform as host_platform
import sys
from dataclasses import dataclass

from .errors import SpecError


@dataclass(frozen=True)
class PlatformFacts:
    """One row of the table: how each tool names this platform."""

    subdir: str  # conda's name, the one users write: `linux-64`
    sys_platform: str  # `sys.platform` there: linux, darwin
    platform_system: str  # `platform.system()` there: Linux, Darwin
    platform_machine: str  # `platform.machine()` there: x86_64, aarch64, arm64
    uv_arch: str  # the architecture in uv's target triples: x86_64, aarch64
    wheel_arch: str  # the architecture in wheel platform tags: x86_64, aarch64, arm64
    oci_architecture: str  # amd64, arm64
    oci_variant: str | None = None  # the variant an OCI index may add (arm64: v8)
    macos: str | None = None  # macOS only: the oldest macOS a lock for it runs on

    @property
    def is_linux(self) -> bool:
        return self.sys_platform == "linux"

    @property
    def os_name(self) -> str:
        """`os.name` there (every supported platform is POSIX)."""
        return "posix"

    @property
    def oci_os(self) -> str:
        return self.sys_platform


# The oldest macOS a lock targets: uv's own default (the least-recent macOS Apple still
# supports). Both the wheels uv may choose and conda's `__osx` use it, so one lock runs on
# every Mac of that architecture from this release on.
OLDEST_MACOS = "13.0"

PLATFORMS: dict[str, PlatformFacts] = {
    facts.subdir: facts
    for facts in (
        PlatformFacts("linux-64", "linux", "Linux", "x86_64", "x86_64", "x86_64", "amd64"),
        PlatformFacts(
            "linux-aarch64", "linux", "Linux", "aarch64", "aarch64", "aarch64", "arm64", "v8"
        ),
        PlatformFacts(
            "osx-64", "darwin", "Darwin", "x86_64", "x86_64", "x86_64", "amd64", None, OLDEST_MACOS
        ),
        PlatformFacts(
            "osx-arm64",
            "darwin",
            "Darwin",
            "arm64",
            "aarch64",
            "arm64",
            "arm64",
            "v8",
            OLDEST_MACOS,
        ),
    )
}

# Conda subdirs refused with a reason: a user may well write them (and a conda package
# missing for the target may exist only for them).
REFUSED = {"win-64": "Metaflow does not run tasks on Windows"}

# What tasks under a remote compute decorator (@kubernetes, @batch, ...) run on.
REMOTE_PLATFORM = "linux-64"

# glibc assumed for a Linux platform other than this machine's (manylinux_2_28's baseline).
DEFAULT_GLIBC = "2.28"
# The manylinux glibc versions uv's --python-platform accepts (2.17 is manylinux2014's).
_UV_GLIBCS = (17, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40)
# Legacy manylinux names and the glibc minor each stands for (PEP 600).
_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}


def supported_platforms() -> list[str]:
    """The platform names Bakery accepts, sorted."""
    return sorted(PLATFORMS)


def platforms_help() -> str:
    """The `--platform` help text, the same in every command."""
    return (
        f"target platform, one of {', '.join(supported_platforms())} (default: this machine); "
        f"a Linux one may name the oldest glibc, e.g. linux-64@{DEFAULT_GLIBC}"
    )


def platform_facts(subdir: str) -> PlatformFacts:
    """The table's row for `subdir`, or one SpecError saying which platforms there are."""
    facts = PLATFORMS.get(subdir)
    if facts is not None:
        return facts
    supported = ", ".join(supported_platforms())
    if subdir in REFUSED:
        raise SpecError(
            f"platform '{subdir}' is not supported ({REFUSED[subdir]}): lock for one of {supported}"
        )
    raise SpecError(f"unknown platform '{subdir}': use one of {supported}")


def _host_subdir() -> str:
    machine = host_platform.machine()
    for facts in PLATFORMS.values():
        if facts.sys_platform == sys.platform and machine.lower() in (
            facts.platform_machine.lower(),
            facts.wheel_arch,
            facts.oci_architecture,
        ):
            return facts.subdir
    raise SpecError(
        f"this machine ({sys.platform}, {machine}) is not a platform Bakery supports: "
        f"it runs on {', '.join(supported_platforms())}"
    )


@dataclass(frozen=True, order=True)
class TargetPlatform:
    """Where an environment will run: a conda subdir plus, on Linux, the oldest glibc."""

    subdir: str
    glibc: str | None = None

    def __post_init__(self) -> None:
        platform_facts(self.subdir)

    @classmethod
    def host(cls) -> TargetPlatform:
        """The platform of this machine (with its glibc on Linux)."""
        subdir = _host_subdir()
        if not PLATFORMS[subdir].is_linux:
            return cls(subdir)
        libc, version = host_platform.libc_ver()
        return cls(subdir, version if libc == "glibc" and version else DEFAULT_GLIBC)

    @classmethod
    def parse(cls, name: str) -> TargetPlatform:
        """`linux-64`, `osx-arm64`, ..., optionally `linux-64@2.31` for a glibc."""
        subdir, _, glibc = name.strip().partition("@")
        facts = platform_facts(subdir)
        if glibc and not facts.is_linux:
            raise SpecError(f"platform '{name}': only a Linux platform takes an @glibc version")
        if glibc:
            _glibc_minor(glibc, name)
        host = cls.host()
        if subdir == host.subdir and not glibc:
            return host
        return cls(subdir, (glibc or DEFAULT_GLIBC) if facts.is_linux else None)

    @property
    def facts(self) -> PlatformFacts:
        return PLATFORMS[self.subdir]

    @property
    def is_linux(self) -> bool:
        return self.facts.is_linux

    @property
    def uv_platform(self) -> str:
        """The value for uv's `--python-platform`.

        On Linux, the newest manylinux uv knows that this glibc runs (uv knows a fixed set).
        """
        arch = self.facts.uv_arch
        if not self.is_linux:
            return f"{arch}-apple-darwin"
        minor = _glibc_minor(self.glibc or DEFAULT_GLIBC, str(self))
        usable = [n for n in _UV_GLIBCS if n <= minor]
        if not usable:
            raise SpecError(
                f"platform {self.subdir}@{self.glibc}: glibc older than 2.{_UV_GLIBCS[0]} "
                f"cannot be locked; use {self.subdir}@2.{_UV_GLIBCS[0]} or newer"
            )
        return f"{arch}-manylinux_2_{usable[-1]}"

    def uv_environment(self) -> dict[str, str]:
        """Variables uv must see to resolve for this platform and nothing else."""
        if self.facts.macos:
            # uv reads the oldest macOS from here; pin it so the user's setting cannot move it
            return {"MACOSX_DEPLOYMENT_TARGET": self.facts.macos}
        return {}

    def wheel_platform_tags(self) -> list[str]:
        """Wheel platform tags that run here, the most specific (preferred) first."""
        arch = self.facts.wheel_arch
        if self.is_linux:
            minor = _glibc_minor(self.glibc or DEFAULT_GLIBC, str(self))
            tags = [f"manylinux_2_{n}_{arch}" for n in range(minor, 4, -1)]
            tags += [f"{name}_{arch}" for n, name in _LEGACY_MANYLINUX.items() if n <= minor]
            return tags + [f"linux_{arch}"]
        from packaging.tags import mac_platforms

        major, minor = (int(x) for x in (self.facts.macos or OLDEST_MACOS).split(".")[:2])
        return list(mac_platforms((major, minor), arch))

    def marker_environment(self, python_version: str) -> dict[str, str]:
        """PEP 508 marker values a CPython `python_version` reports on this platform."""
        parts = (python_version.split(".") + ["0", "0"])[:3]
        facts = self.facts
        return {
            "implementation_name": "cpython",
            "implementation_version": ".".join(parts),
            "os_name": facts.os_name,
            "platform_machine": facts.platform_machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": facts.platform_system,
            "platform_version": "",
            "python_full_version": ".".join(parts),
            "python_version": ".".join(parts[:2]),
            "sys_platform": facts.sys_platform,
        }

    @property
    def oci_platform(self) -> tuple[str, str]:
        """(os, architecture) as OCI image indexes name them."""
        return (self.facts.oci_os, self.facts.oci_architecture)

    def __str__(self) -> str:
        return self.subdir


def _glibc_minor(glibc: str, name: str) -> int:
    major, _, minor = glibc.partition(".")
    if major != "2" or not minor.split(".")[0].isdigit():
        raise SpecError(f"platform '{name}': glibc '{glibc}' is not a version such as 2.28")
    return int(minor.split(".")[0])
