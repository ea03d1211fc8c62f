"""Figure 2: creating a `requests` + `pandas` environment, Bakery vs pip and vs raw uv.

- pip anchor: `python -m venv` + `pip install --no-cache-dir requests==… pandas==…` (pip resolves
  and installs; pip's own config supplies the indexes). Goal: Bakery at least 5x faster.
- raw uv anchor: `uv venv` + `uv pip install --no-deps --require-hashes -r <the lock's exact
  name==version --hash=sha256:… lines>` with the index arguments Bakery passes, on the same
  interpreter and with the same uv cache state as Bakery's run: a fresh empty `UV_CACHE_DIR` per
  repetition (cold), or one shared, already filled cache (warm). Goal: Bakery at most 1.3x.
- Bakery: `realize()` of the already resolved lock into a fresh `BAKERY_CACHE_DIR`.
- Resolve (lock from scratch, cold uv cache): `bakery.resolve.resolve(spec)` vs the raw
  `uv pip compile --format pylock.toml` it wraps.
- Cached lookup: `realize()` again when the environment is already in the cache.
- Import: `import pandas, requests` in the env once Bakery's background bytecode compilation is done (pip compiles at install).

    .venv/bin/python benchmarks/cold_env.py [--repeat 4] [--pip-repeat 2]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    Goal,
    Row,
    clean_env,
    compare,
    log,
    note,
    parser,
    print_rows,
    remove,
    require_bakery,
    scratch_dir,
    timed,
)

PINS = {"requests": "2.32.3", "pandas": "2.2.3"}


class Setup:
    """What every measurement shares: the spec, its lock, the interpreter, uv and its flags."""

    def __init__(self, root: Path, pins: dict[str, str] | None = None) -> None:
        from bakery.resolve import resolve
        from bakery.resolve.indexes import IndexConfig
        from bakery.resolve.python import find_interpreter
        from bakery.spec import EnvSpec, host_python_version, pypi_requirements
        from bakery.uvbin import uv_binary

        self.root = root
        self.uv = uv_binary()
        self.spec = EnvSpec(python=host_python_version(), pypi=pypi_requirements(pins or PINS))
        self.indexes = IndexConfig.from_environment()
        self.interpreter = find_interpreter(self.spec.python).path
        self.warm_uv_cache = root / "uv-cache-warm"
        with self.uv_cache(self.warm_uv_cache):
            self.lock = resolve(self.spec, indexes=self.indexes)
        self.requirements = root / "locked-requirements.txt"
        self.requirements.write_text(
            "".join(
                f"{p.name}=={p.version} --hash=sha256:{p.sha256}\n"
                for p in self.lock.by_kind("pypi")
            )
        )
        self.counter = 0
        self.pip_env: Path | None = None
        self.outside_uv: list[float] = []  # Bakery's realize() time not spent in uv commands

    def fresh(self, name: str) -> Path:
        """A new, not yet existing path under the scratch root."""
        self.counter += 1
        return self.root / f"{name}-{self.counter}"

    def uv_env(self, uv_cache: Path) -> dict[str, str]:
        # the environment Bakery gives uv (envs/pypi_install.py), plus the cache under test
        return clean_env(
            {"UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1", "UV_CACHE_DIR": str(uv_cache)}
        )

    def uv_cache(self, path: Path):
        """Point this process's uv calls (Bakery's) at `path` for the duration of a block."""
        return _EnvVar("UV_CACHE_DIR", str(path))


class _EnvVar:
    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    def __enter__(self) -> None:
        self.saved = os.environ.get(self.name)
        os.environ[self.name] = self.value

    def __exit__(self, *exc: object) -> None:
        if self.saved is None:
            os.environ.pop(self.name, None)
        else:
            os.environ[self.name] = self.saved


# ---- the contenders: each returns the seconds of its measured work, cleanup untimed -----------


def pip_venv(s: Setup) -> float:
    """The last one built is kept (`s.pip_env`) for the first-import figure."""
    if s.pip_env:
        remove(s.pip_env)
    venv = s.pip_env = s.fresh("pip-venv")
    env = clean_env({"PIP_NO_CACHE_DIR": "1"})
    pins = [f"{name}=={version}" for name, version in PINS.items()]
    return timed([s.interpreter, "-m", "venv", venv], env=env) + timed(
        [venv / "bin/python", "-m", "pip", "install", "--quiet", "--no-cache-dir", *pins], env=env
    )


def raw_uv(s: Setup, uv_cache: Path | None) -> float:
    """`uv venv` + `uv pip install` of the locked requirements; None: a fresh empty cache."""
    cache = uv_cache or s.fresh("uv-cache-cold")
    venv = s.fresh("uv-venv")
    env = s.uv_env(cache)
    venv_cmd = [
        s.uv,
        "venv",
        "--quiet",
        "--relocatable",
        "--no-project",
        "--python",
        s.interpreter,
        venv,
    ]
    install_cmd = [
        s.uv, "pip", "install", "--quiet", "--python", venv / "bin/python", "--no-deps",
        "--require-hashes", "-r", s.requirements, *s.indexes.uv_args(),
    ]  # fmt: skip
    try:
        return timed(venv_cmd, env=env) + timed(install_cmd, env=env)
    finally:
        remove(venv)
        if uv_cache is None:
            remove(cache)


def bakery_realize(s: Setup, uv_cache: Path | None) -> float:
    """`realize()` of the lock into a fresh BAKERY_CACHE_DIR; None: a fresh empty uv cache."""
    from bakery.envs.cache import EnvCache
    from bakery.envs.realize import realize

    cache = uv_cache or s.fresh("uv-cache-cold")
    bakery_root = s.fresh("bakery-cache")
    try:
        with s.uv_cache(cache), _time_in_subprocesses() as in_uv:
            start = time.perf_counter()
            built = realize(s.lock, EnvCache(bakery_root), indexes=s.indexes)
            elapsed = time.perf_counter() - start
        assert built.created, "a fresh cache must build the environment"
        s.outside_uv.append(elapsed - in_uv[0])
        return elapsed
    finally:
        remove(bakery_root)
        if uv_cache is None:
            remove(cache)


@contextmanager
def _time_in_subprocesses() -> Iterator[list[float]]:
    """Seconds spent inside `subprocess.run` (Bakery's uv commands) during the block.

    What is left of Bakery's time is its own overhead, which network and load noise
    (they slow uv, the same for both sides) cannot hide.
    """
    total = [0.0]
    original = subprocess.run

    def run(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            total[0] += time.perf_counter() - start

    subprocess.run = run
    try:
        yield total
    finally:
        subprocess.run = original


def raw_compile(s: Setup) -> float:
    cache = s.fresh("uv-cache-cold")
    out = s.fresh("pylock") / "pylock.toml"
    out.parent.mkdir()
    cmd = [
        s.uv, "pip", "compile", "-", "--format", "pylock.toml", "-o", out, "--python-version",
        _python_version(s), "--python-platform",
        s.spec.platform.uv_platform, "--no-header", "--quiet", *s.indexes.uv_args(),
    ]  # fmt: skip
    requirements = "".join(r.pep508() + "\n" for r in s.spec.pypi)
    try:
        return timed(cmd, env=s.uv_env(cache), input=requirements)
    finally:
        remove(cache)
        remove(out.parent)


def bakery_resolve(s: Setup) -> float:
    from bakery.resolve import resolve

    cache = s.fresh("uv-cache-cold")
    try:
        with s.uv_cache(cache):
            start = time.perf_counter()
            resolve(s.spec, indexes=s.indexes)
            return time.perf_counter() - start
    finally:
        remove(cache)


def _python_version(s: Setup) -> str:
    from bakery.resolve import python_for_resolution

    return python_for_resolution(s.spec)


def cached_lookup(s: Setup, repeat: int = 20) -> tuple[list[float], Path]:
    """realize() when the environment is already cached: what every later run pays."""
    from bakery.envs.cache import EnvCache
    from bakery.envs.realize import realize

    bakery_root = s.fresh("bakery-cache")
    with s.uv_cache(s.warm_uv_cache):
        realize(s.lock, EnvCache(bakery_root), indexes=s.indexes)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        found = realize(s.lock, EnvCache(bakery_root), indexes=s.indexes)
        times.append(time.perf_counter() - start)
        assert not found.created
    return times, found.path


def first_import(python: Path) -> float:
    """`import pandas, requests` in an environment, as a step's task pays it."""
    return timed([python, "-c", "import pandas, requests"], env=clean_env())


def bytecode_counts(env: Path) -> str:
    site = next(env.glob("lib/python*/site-packages"))
    return f"{len(list(site.rglob('*.pyc')))} .pyc / {len(list(site.rglob('*.py')))} .py"


def _origin(url: str) -> str:
    """`files.pythonhosted.org`, or `file:///opt/pypi` for a local index."""
    parts = urlsplit(url)
    return parts.netloc or "file://" + "/".join(parts.path.split("/")[:3])


def measure(repeat: int, pip_repeat: int) -> list[Row]:
    # creation is timed alone: the background bytecode pass is measured on its own below
    os.environ["BAKERY_COMPILE_BYTECODE"] = "never"
    rows: list[Row] = []
    with scratch_dir("bench-cold-") as root:
        started = time.perf_counter()
        s = Setup(root)
        log(f"set-up (resolve once into the warm uv cache): {time.perf_counter() - started:.1f} s")
        packages = ", ".join(f"{p.name}=={p.version}" for p in s.lock.packages)
        sources = ", ".join(sorted({_origin(p.url) for p in s.lock.packages}))
        note(f"environment creation: the lock has {packages} (wheels from: {sources})")
        note(f"uv index arguments (Bakery's, from pip config): {' '.join(s.indexes.uv_args())}")

        # a raw uv install fills the warm uv cache with the wheels (both sides then reuse it)
        raw_uv(s, s.warm_uv_cache)

        def both(*figure) -> None:
            rows.append(compare(*figure))

        both(
            "new env requests+pandas, nothing cached",
            "venv + pip --no-cache-dir",
            lambda: pip_venv(s),
            lambda: bakery_realize(s, None),
            pip_repeat,
            Goal("≥ 5× faster", max_ratio=1 / 5),
        )
        both(
            "new env, cold uv cache (downloads)",
            "raw uv venv + pip install (same lock, flags)",
            lambda: raw_uv(s, None),
            lambda: bakery_realize(s, None),
            repeat,
            Goal("≤ 1.3×", max_ratio=1.3),
        )
        both(
            "new env, warm uv cache (wheels cached)",
            "raw uv venv + pip install (same lock, flags)",
            lambda: raw_uv(s, s.warm_uv_cache),
            lambda: bakery_realize(s, s.warm_uv_cache),
            repeat,
            Goal("≤ 1.3×", max_ratio=1.3),
        )
        both(
            "resolve: lock from scratch, cold uv cache",
            "raw uv pip compile (pylock)",
            lambda: raw_compile(s),
            lambda: bakery_resolve(s),
            repeat,
            Goal("≤ 1.3×", max_ratio=1.3),
        )
        outside = statistics.median(s.outside_uv) * 1000
        note(
            f"environment creation: Bakery's time outside its uv commands, median {outside:.0f} ms"
        )
        lookups, bakery_env = cached_lookup(s)
        rows.append(
            Row(
                "cached env: realize() finds it",
                "— (ms expected)",
                None,
                statistics.median(lookups),
                Goal("≤ 10 ms", max_seconds=0.010),
                (),
                tuple(lookups),
            )
        )
        assert s.pip_env is not None
        pip_counts, bakery_counts = bytecode_counts(s.pip_env), bytecode_counts(bakery_env)
        note(f"bytecode as created: pip env {pip_counts}; Bakery env {bakery_counts}")
        # Bakery compiles a new environment in a detached background process right after it is
        # made (creation stays as fast as uv); tasks started after that import from bytecode.
        # Here the same compilation runs in the foreground so its duration can be reported.
        from bakery.envs.bytecode import compile_environment

        started = time.perf_counter()
        compile_environment(bakery_env, mode="sync")
        note(
            f"bytecode: Bakery's background compilation of the new env took "
            f"{time.perf_counter() - started:.1f} s (packages' tests/ skipped); "
            f"then {bytecode_counts(bakery_env)}"
        )
        both(
            "`import pandas, requests` in a task, env compiled",
            "the pip-made env (pip compiles .pyc)",
            lambda: first_import(s.pip_env / "bin/python"),
            lambda: first_import(bakery_env / "bin/python"),
            repeat,
            Goal("≤ 1.3×", max_ratio=1.3),
        )
    return rows


def main(argv: list[str] | None = None) -> list[Row]:
    require_bakery()
    options = parser(__doc__.splitlines()[0], default_repeat=4)
    options.add_argument(
        "--pip-repeat", type=int, default=2, help="repetitions of the slow pip anchor (default 2)"
    )
    args = options.parse_args(argv)
    rows = measure(args.repeat, args.pip_repeat)
    print_rows(rows)
    return rows


if __name__ == "__main__":
    main()
