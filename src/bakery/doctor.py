"""What `bakery doctor` checks: one row per thing flows depend on, each with a verdict.

Pure data out (a list of `Check`), so the CLI renders it as a table or JSON and tests read it.
Whether Metaflow loads Bakery is asked of a fresh interpreter (`python -c`), as a flow would
import Metaflow: the core itself never imports Metaflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Literal

from .envs.gc import directory_size
from .settings import Settings, current
from .units import human_size

Status = Literal["ok", "warn", "fail"]

DISTRIBUTION = "metaflow-bakery"
_OURS = "metaflow_extensions.bakery.plugins.environments."

# run in a fresh interpreter: what Metaflow itself loads, and from which extension distributions
_PROBE = """
import json, metaflow
from metaflow.plugins import ENVIRONMENTS
from metaflow.extension_support import get_modules
print(json.dumps({
    "version": metaflow.__version__,
    "environments": {e.TYPE: e.__module__ for e in ENVIRONMENTS},
    "extensions": sorted({m.package_name for m in get_modules("plugins")}),
}))
"""


@dataclass(frozen=True)
class Check:
    """One row of the report."""

    name: str
    status: Status
    detail: str


def run_checks(settings: Settings | None = None, python: str = sys.executable) -> list[Check]:
    """Every check, in the order the report shows them."""
    settings = settings or current()
    probe = _probe_metaflow(python)
    return [
        _bakery_loaded(probe),
        _metaflow_version(probe),
        _uv(),
        _rattler(),
        _container_runtime(),
        _policy(),
        _cache(settings),
        _environments(settings),
        _registry_credentials(),
    ]


def failed(checks: list[Check]) -> bool:
    """Whether something flows need is wrong."""
    return any(check.status == "fail" for check in checks)


def to_json(checks: list[Check]) -> str:
    return json.dumps([asdict(check) for check in checks], indent=2)


def _probe_metaflow(python: str) -> dict:
    env = {**os.environ, "METAFLOW_DEBUG_EXT": "0"}
    try:
        proc = subprocess.run(
            [python, "-c", _PROBE], capture_output=True, text=True, timeout=120, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"error": f"could not run {python}: {e}"}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"`import metaflow` fails in {python}: {last}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _bakery_loaded(probe: dict) -> Check:
    name = "Bakery loaded by Metaflow"
    if "error" in probe:
        return Check(name, "fail", probe["error"])
    environments = probe["environments"]
    ours = sorted(t for t, module in environments.items() if module.startswith(_OURS))
    others = ", ".join(e for e in probe["extensions"] if e != DISTRIBUTION) or "none"
    if {"pypi", "conda", "fast-bakery"} <= set(ours):
        return Check(name, "ok", f"yes: --environment={'|'.join(ours)}; other extensions: {others}")
    return Check(name, "fail", f"no: {_why_not_loaded(environments, probe['extensions'])}")


def _why_not_loaded(environments: dict, extensions: list[str]) -> str:
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return f"{DISTRIBUTION} is not installed in this interpreter: `pip install {DISTRIBUTION}`"
    top_level = (dist.read_text("top_level.txt") or "").split()
    if "metaflow_extensions" not in top_level:
        return (
            f"the installed {DISTRIBUTION} {dist.version} has no `metaflow_extensions` in its "
            f"top_level.txt, so Metaflow does not see it beside {', '.join(extensions) or 'others'}"
            f": reinstall it (`pip install --force-reinstall {DISTRIBUTION}`)"
        )
    pypi = environments.get("pypi", "none")
    return (
        f"Metaflow loads --environment=pypi from {pypi}; run with METAFLOW_DEBUG_EXT=1 to see "
        f"which extension distributions it found ({', '.join(extensions) or 'none'})"
    )


def _metaflow_version(probe: dict) -> Check:
    name = "Metaflow version"
    if "error" in probe:
        return Check(name, "fail", "Metaflow is not importable (see above)")
    from packaging.specifiers import SpecifierSet

    version, supported = probe["version"], supported_metaflow()
    if supported is None:
        return Check(name, "warn", f"{version} ({DISTRIBUTION} is not installed as a package)")
    if SpecifierSet(supported).contains(version, prereleases=True):
        return Check(name, "ok", f"{version} (supported: {supported})")
    return Check(
        name,
        "fail",
        f"{version} is outside the tested range {supported}: `pip install 'metaflow{supported}'`",
    )


def supported_metaflow() -> str | None:
    """The Metaflow releases this Bakery supports (and CI tests at both ends), as its package
    metadata declares them; None when Bakery runs from a source tree that is not installed."""
    from packaging.requirements import Requirement

    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return None
    for line in requires:
        requirement = Requirement(line)
        if requirement.name == "metaflow" and not requirement.marker:
            return str(requirement.specifier)
    return None


def _uv() -> Check:
    from .uvbin import uv_binary

    try:
        binary = uv_binary()
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, FileNotFoundError, subprocess.TimeoutExpired) as e:
        return Check("uv", "fail", f"not usable ({e}): `pip install uv`")
    if out.returncode != 0:
        return Check("uv", "fail", f"{binary} --version failed: {out.stderr.strip()[-200:]}")
    return Check("uv", "ok", f"{out.stdout.strip()} ({binary})")


def _rattler() -> Check:
    try:
        version = metadata.version("py-rattler")
    except metadata.PackageNotFoundError:
        return Check(
            "py-rattler", "fail", "not installed (needed by @conda): `pip install py-rattler`"
        )
    return Check("py-rattler", "ok", version)


def _container_runtime() -> Check:
    from .container.runtime import find_runtime
    from .errors import BakeryError

    name = "container runtime"
    try:
        runtime = find_runtime()
        out = subprocess.run(
            [runtime.executable, "--version"], capture_output=True, text=True, timeout=30
        )
    except BakeryError as e:
        return Check(name, "warn", f"{e} (needed only by --with container)")
    except (OSError, subprocess.TimeoutExpired) as e:
        return Check(name, "warn", f"cannot run it: {e} (needed only by --with container)")
    return Check(name, "ok", f"{out.stdout.strip() or runtime.kind} ({runtime.executable})")


def _policy() -> Check:
    from .errors import PolicyFileError
    from .policy.load import load_policies

    name = "policy file"
    try:
        policies = load_policies()
    except PolicyFileError as e:
        return Check(name, "fail", str(e))
    if not policies:
        return Check(
            name, "ok", "none in force (no /etc/bakery/policy.toml, no BAKERY_POLICY_FILE)"
        )
    return Check(name, "ok", policies.describe())


def _cache(settings: Settings) -> Check:
    root = settings.cache_root()
    where = f"{root} ({settings.source('cache_dir')})"
    if not root.exists():
        return Check("cache", "ok", f"{where}: empty")
    return Check("cache", "ok", f"{where}: {human_size(directory_size(root))}")


def _environments(settings: Settings) -> Check:
    """The cached environments of the lockfiles this cache knows, each file checked: those are
    the ones runs use (`bakery env verify` checks them all, or one flow's)."""
    from .envs.cache import EnvCache
    from .envs.verify import known_env_ids, verify_cache

    name = "environments"
    cache = EnvCache(settings.cache_root())
    ids, locks = known_env_ids(cache)
    run = verify_cache(cache, ids)
    files = sum(v.report.checked for v in run.checked)
    checked = f"{len(run.checked)} environment(s) of {locks} known lockfile(s), {files} files"
    differ = [v for v in run.checked if v.report.findings]
    if differ:
        first = differ[0].report.findings[0]
        return Check(
            name,
            "fail",
            f"{len(differ)} of {checked} differ from what was locked (env "
            f"{differ[0].env_id[:12]}: {first.path} {first.state}): `bakery env verify` lists them",
        )
    unsealed = sum(v.report.unsealed for v in run.checked)
    if unsealed:
        return Check(
            name, "warn", f"{checked}: {unsealed} built by an older Bakery, rebuilt on next use"
        )
    return Check(name, "ok", f"{checked}: all as locked")


def _registry_credentials() -> Check:
    from .registry.auth import configured_registries

    found = configured_registries()
    if not found:
        return Check("registry credentials", "ok", "none found (anonymous pulls and pushes)")
    listed = "; ".join(f"{registry} from {source}" for registry, source in found)
    return Check("registry credentials", "ok", listed)
