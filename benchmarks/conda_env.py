"""Conda environments: solve and install time from a locally built channel, cold and warm.

    .venv/bin/python -m benchmarks.conda_env [--repeat 3] [--packages 50]

The channel (N synthetic noarch packages plus the test `python` wrapper around this
interpreter, from `tests.fixtures.condabuild`) is built into a temporary folder and read as
file://, so the figures measure Bakery and rattler, not a network. Each figure is the median of
`repeat` runs, after one untimed warm-up round (imports, first use of rattler's runtime):

- cold solve: `resolve_conda` with an empty repodata cache;
- cold install: `realize` into an empty Bakery cache with an empty rattler package cache;
- install, warm package cache: a new Bakery cache, rattler's package cache already filled
  (a second environment sharing the packages);
- cached environment: `realize` finds the finished environment (what every later run does).

No anchor: micromamba/conda cannot be downloaded here, and a uv install of "as many" PyPI
wheels is a different workload (other archives, an index, no solve over repodata), so a ratio
would mislead. `run()` returns the rows for `benchmarks/run_all.py`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fixtures.condabuild import (  # noqa: E402
    build_channel,
    host_python,
    host_subdir,
    python_package,
    synthetic_packages,
)

from bakery.envs.cache import EnvCache  # noqa: E402
from bakery.envs.realize import realize  # noqa: E402
from bakery.lock.model import LockedEnv  # noqa: E402
from bakery.resolve.conda import resolve_conda  # noqa: E402
from bakery.spec import EnvSpec, Requirement, TargetPlatform  # noqa: E402

CACHED_GOAL_S = 0.010  # a cached environment is found in milliseconds, as for PyPI ones
NO_ANCHOR = "—"


def run(repeat: int = 3, packages: int = 50) -> list[dict]:
    """Measure every figure `repeat` times; returns one row per figure (medians)."""
    with tempfile.TemporaryDirectory(prefix="bakery-bench-conda-") as tmp:
        root = Path(tmp)
        spec = _spec(_build_channel(root / "channel", packages), packages)
        times: dict[str, list[float]] = {name: [] for name in _FIGURES}
        # one untimed round first: imports and first-use setup are not what is measured
        _measure_once(spec, root / "warm-up", {name: [] for name in _FIGURES})
        for index in range(repeat):
            one = root / f"run{index}"
            _measure_once(spec, one, times)
            _log(index + 1, repeat, times)
    return [_row(name, packages, runs) for name, runs in times.items()]


_FIGURES = {
    "cold solve": "resolve_conda, empty repodata cache",
    "cold install": "realize, empty Bakery and rattler caches",
    "cold solve + install": "the two above, back to back",
    "install, warm package cache": "realize, new Bakery cache, rattler cache filled",
    "cached environment": "realize finds the finished environment",
}


def _measure_once(spec: EnvSpec, work: Path, times: dict[str, list[float]]) -> None:
    with _rattler_cache(work / "rattler"):
        solve_s, env = _timed(lambda: resolve_conda(spec, cache_dir=work / "repodata"))
        install_s, _ = _timed(lambda: _realize(env, work / "bakery-cold"))
        warm_install_s, _ = _timed(lambda: _realize(env, work / "bakery-warm"))
        cached = [_timed(lambda: _realize(env, work / "bakery-cold"))[0] for _ in range(5)]
    times["cold solve"].append(solve_s)
    times["cold install"].append(install_s)
    times["cold solve + install"].append(solve_s + install_s)
    times["install, warm package cache"].append(warm_install_s)
    times["cached environment"].append(statistics.median(cached))


def _realize(env: LockedEnv, cache_root: Path) -> Path:
    return realize(env, EnvCache(cache_root)).path


def _build_channel(channel_dir: Path, count: int) -> str:
    executable, version = host_python()
    packages = [*synthetic_packages(count), python_package(host_subdir(), executable, version)]
    return build_channel(channel_dir, packages).as_uri()


def _spec(channel: str, count: int) -> EnvSpec:
    return EnvSpec(
        python=host_python()[1],
        conda=tuple(Requirement(f"synth{i}", "") for i in range(count)),
        channels=(channel,),
        platform=TargetPlatform.host(),
    )


@contextmanager
def _rattler_cache(path: Path) -> Iterator[None]:
    """Point rattler's package cache (used by `install`) at `path` for the block."""
    before = os.environ.get("RATTLER_CACHE_DIR")
    os.environ["RATTLER_CACHE_DIR"] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("RATTLER_CACHE_DIR", None)
        else:
            os.environ["RATTLER_CACHE_DIR"] = before


def _timed(work: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def _row(name: str, packages: int, runs: list[float]) -> dict:
    median = statistics.median(runs)
    goal, result = "(info)", NO_ANCHOR
    if name == "cached environment":
        goal = f"≤ {CACHED_GOAL_S * 1000:.0f} ms"
        result = "PASS" if median <= CACHED_GOAL_S else "MISS"
    return {
        "figure": f"conda env, {packages} packages: {name} ({_FIGURES[name]})",
        "anchor": NO_ANCHOR,
        "anchor_s": None,
        "bakery_s": median,
        "ratio": None,
        "goal": goal,
        "result": result,
        "bakery_runs": runs,
    }


def markdown_table(rows: list[dict]) -> str:
    header = ["figure", "anchor", "anchor s", "bakery s", "ratio", "goal", "result"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["figure"], row["anchor"], NO_ANCHOR, _seconds(row["bakery_s"])]
        lines.append("| " + " | ".join([*cells, NO_ANCHOR, row["goal"], row["result"]]) + " |")
    runs = [f"- {r['figure']}: [{' '.join(f'{t:.3f}' for t in r['bakery_runs'])}] s" for r in rows]
    return "\n".join([*lines, "", "Every run (seconds):", "", *runs, ""])


def _seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 0.1 else f"{value:.2f}"


def _log(done: int, repeat: int, times: dict[str, list[float]]) -> None:
    last = ", ".join(f"{name} {runs[-1]:.3f} s" for name, runs in times.items())
    print(f"run {done}/{repeat}: {last}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--packages", type=int, default=50, help="synthetic packages in the env")
    args = parser.parse_args(argv)
    print(markdown_table(run(args.repeat, args.packages)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
