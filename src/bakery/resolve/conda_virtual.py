"""Virtual packages (`__glibc`, `__cuda`, `__osx`, ...) the conda solver assumes are present.

Locking for this machine uses what rattler detects here; locking for another platform uses
conservative defaults for that platform. Either way, the layers apply in this order, later
winning: detected or default values, the target platform's glibc, the `CONDA_OVERRIDE_*`
environment variables (conda's convention: `CONDA_OVERRIDE_CUDA=12.4` locks a CUDA build on
a machine with no GPU; an empty value removes the package), then explicit overrides such as
`["__cuda=12.4", "__glibc=2.28"]`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from ..errors import SpecError
from ..platforms import DEFAULT_GLIBC, TargetPlatform

# The kernel assumed for a Linux platform other than this machine's (as pixi assumes).
DEFAULT_LINUX_KERNEL = "4.18"
_ENV_OVERRIDES = {
    "CONDA_OVERRIDE_CUDA": "__cuda",
    "CONDA_OVERRIDE_GLIBC": "__glibc",
    "CONDA_OVERRIDE_OSX": "__osx",
    "CONDA_OVERRIDE_ARCHSPEC": "__archspec",
}

# name -> (version, build string)
VirtualPackages = dict[str, tuple[str, str]]


def parse_virtual_package(text: str) -> tuple[str, tuple[str, str]]:
    """`__cuda=12.4` -> ("__cuda", ("12.4", "0")); `__unix` -> ("__unix", ("0", "0"))."""
    name, _, rest = text.strip().partition("=")
    version, _, build = rest.lstrip("=").partition("=")
    if not name.startswith("__") or len(name) < 3:
        raise SpecError(
            f"virtual package '{text}' is malformed: write e.g. '__cuda=12.4' or '__glibc=2.28'"
        )
    return name, (version or "0", build or "0")


def default_virtual_packages(platform: TargetPlatform) -> VirtualPackages:
    """What a typical machine of `platform` provides, for locking it from elsewhere."""
    facts = platform.facts
    # conda's archspec names the CPU as the OS does (arm64 on macOS, aarch64 on Linux)
    packages: VirtualPackages = {"__archspec": ("1", facts.platform_machine)}
    if facts.os_name == "posix":
        packages["__unix"] = ("0", "0")
    if platform.is_linux:
        packages["__linux"] = (DEFAULT_LINUX_KERNEL, "0")
        packages["__glibc"] = (platform.glibc or DEFAULT_GLIBC, "0")
    elif facts.macos:
        packages["__osx"] = (facts.macos, "0")
    return packages


def detected_virtual_packages() -> VirtualPackages:
    """What rattler detects on this machine, before any override."""
    from rattler import VirtualPackage, VirtualPackageOverrides

    packages: VirtualPackages = {}
    for package in VirtualPackage.detect(VirtualPackageOverrides()):
        generic = package.into_generic()
        packages[str(generic.name.normalized)] = (str(generic.version), str(generic.build_string))
    return packages


def target_virtual_packages(
    platform: TargetPlatform,
    overrides: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> VirtualPackages:
    """The virtual packages to solve `platform` with (see the module docstring for the order)."""
    environ = os.environ if environ is None else environ
    if platform.subdir == TargetPlatform.host().subdir:
        packages = detected_virtual_packages()
    else:
        packages = default_virtual_packages(platform)
    if platform.is_linux and platform.glibc:
        packages["__glibc"] = (platform.glibc, packages.get("__glibc", ("", "0"))[1])
    for variable, name in _ENV_OVERRIDES.items():
        value = environ.get(variable)
        if value is None:
            continue
        if not value.strip():
            packages.pop(name, None)
        elif name == "__archspec":
            packages[name] = ("1", value.strip())
        else:
            packages[name] = (value.strip(), packages.get(name, ("", "0"))[1])
    for text in overrides or ():
        name, value = parse_virtual_package(text)
        packages[name] = value
    return dict(sorted(packages.items()))


def to_rattler(packages: VirtualPackages) -> list:
    """The packages as rattler `GenericVirtualPackage`s."""
    from rattler import BuildString, GenericVirtualPackage, PackageName, Version

    return [
        GenericVirtualPackage(PackageName(name), Version(version), BuildString(build))
        for name, (version, build) in packages.items()
    ]
