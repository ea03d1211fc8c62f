"""Scale figure: a 21-package scientific environment, nothing cached, against raw uv.

The environment: `@pypi_base` of pandas, scikit-learn, matplotlib, seaborn, pyyaml and tabulate
(26 packages with their dependencies and the `requests` Bakery adds for Metaflow), locked once
with `bakery lock`; every figure installs exactly that lock. Measured alternately, medians:

- creation: `realize()` of the lock into a fresh `BAKERY_CACHE_DIR`, fresh empty uv cache, vs
  raw `uv venv` + `uv pip install --no-deps --require-hashes` of the same lock (same flags,
  interpreter, uv and cache state). Goal ≤ 1.2×.
- cold run to the end of its first task: `python flow.py --environment=pypi run` with the
  lockfile in place and nothing else cached (environment, uv cache), until the last line of
  `start`, which imports pandas, sklearn, matplotlib.pyplot, seaborn, yaml and tabulate; vs raw
  uv's creation of the same environment (cold) + a plain `python flow.py run` of the same flow
  without decorators, in a venv that already holds those packages, Metaflow and all their
  bytecode. Goal ≤ 1.2×.
- a run after a pin edit (the local edit loop): the same flow with the tabulate pin moved to
  another release (each edit new: 0.8.10, 0.8.9, ...), locked beforehand with `bakery lock`
  (untimed), in a Bakery cache that holds the environment from before the edit, bytecode
  compiled, and a warm uv cache: until the last line of `start`; vs raw uv's creation of the
  edited environment from the same warm uv cache + the plain run with all bytecode. Bakery's
  new environment links in the bytecode the earlier one compiled for the files both share
  (`envs/shared_bytecode.py`); only tabulate's is compiled. (info)

    .venv/bin/python benchmarks/cold_run.py [--repeat 4]
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import cold_env
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

PINS = {
    "pandas": "3.1.1",
    "scikit-learn": "1.9.1",
    "matplotlib": "3.11.2",
    "seaborn": "0.13.2",
    "pyyaml": "6.0.3",
    "tabulate": "0.9.0",
}
IMPORTS = "import pandas, sklearn.linear_model, matplotlib.pyplot, seaborn, yaml, tabulate"
FLOW = """\
import time
from metaflow import FlowSpec, step{imports}

{decorator}class ScienceFlow(FlowSpec):
    @step
    def start(self):
        print("START-OF-START %.3f" % time.time())
        {step_imports}
        print("END-OF-START %.3f" % time.time())
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ScienceFlow()
"""
GOAL = 1.2


EDITS = ("0.8.10", "0.8.9", "0.8.8")  # tabulate releases that import on 3.11, each new


def write_flow(folder: Path, bakery: bool, pins: dict[str, str] = PINS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pins = ", ".join(f'"{name}": "{version}"' for name, version in pins.items())
    flow = folder / "flow.py"
    flow.write_text(
        FLOW.format(
            imports=", pypi_base" if bakery else "",
            decorator=f"@pypi_base(packages={{{pins}}})\n" if bakery else "",
            step_imports=IMPORTS,
        )
    )
    return flow


def flow_env(root: Path, run: str) -> dict[str, str]:
    """A run with nothing cached: its own Bakery and uv caches, datastore and Metaflow home."""
    cache = str(root / f"bakery-cache-{run}")
    return clean_env(
        {
            "USER": "dev",
            "BAKERY_CACHE_DIR": cache,
            "METAFLOW_BAKERY_CACHE_DIR": cache,
            "UV_CACHE_DIR": str(root / f"uv-cache-{run}"),
            "METAFLOW_HOME": str(root / "metaflow-home"),
            "METAFLOW_DEFAULT_DATASTORE": "local",
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(root / "datastore"),
            "METAFLOW_DEFAULT_METADATA": "local",
            "MPLBACKEND": "Agg",
            # matplotlib's font cache, built once for both sides (it is not what is measured)
            "MPLCONFIGDIR": str(root / "mplconfig"),
        }
    )


IMPORT_SECONDS: dict[str, list[float]] = {"anchor": [], "bakery": []}


def end_of_start(python: Path | str, flow: Path, args: list[str], env: dict[str, str]) -> float:
    """Seconds from launching the flow to the last line of `start` (its first task); the
    seconds its imports took go to IMPORT_SECONDS."""
    started = time.time()
    done = subprocess.run(
        [str(python), flow.name, "--no-pylint", *args],
        cwd=flow.parent,
        capture_output=True,
        text=True,
        env=env,
    )
    found = re.search(r"END-OF-START (\d+\.\d+)", done.stdout + done.stderr)
    if done.returncode != 0 or not found:
        raise RuntimeError(f"{flow} failed:\n{(done.stdout + done.stderr)[-4000:]}")
    began = re.search(r"START-OF-START (\d+\.\d+)", done.stdout + done.stderr)
    side = "bakery" if "--environment=pypi" in args else "anchor"
    IMPORT_SECONDS[side].append(float(found.group(1)) - float(began.group(1)))
    return float(found.group(1)) - started


class ColdRun:
    """The flows, the lock, the anchor's prepared venv, and a counter for fresh caches."""

    def __init__(self, root: Path, setup: cold_env.Setup) -> None:
        self.root, self.setup, self.runs = root, setup, 0
        self.bakery = write_flow(root / "bakery", bakery=True)
        self.plain = write_flow(root / "plain", bakery=False)
        env = flow_env(root, "lock")
        subprocess.run(
            [sys.executable, "-m", "bakery.cli.main", "lock", self.bakery.name],
            cwd=self.bakery.parent,
            env=env,
            check=True,
            capture_output=True,
        )
        self._use_flow_lock()
        self.anchor_python = self._anchor_venv()
        # warm-ups: Metaflow's .metaflow folders, matplotlib's font cache, the flows' bytecode
        end_of_start(self.anchor_python, self.plain, ["run"], flow_env(root, "warm"))
        IMPORT_SECONDS["anchor"].clear()

    def _use_flow_lock(self) -> None:
        """Both sides install exactly the flow's environment (Bakery adds Metaflow's `requests`
        to a step's packages): the raw uv anchor gets its lock's lines."""
        from bakery.lock import read_lock

        lock = read_lock(self.bakery.with_name("flow.bakery.lock"))
        (env,) = {e.env_id: e for e in lock.environments.values()}.values()
        self.setup.lock = env
        self.setup.requirements.write_text(
            "".join(f"{p.name}=={p.version} --hash=sha256:{p.sha256}\n" for p in env.packages)
        )

    def _anchor_venv(self) -> Path:
        """The locked packages + this Metaflow, every module compiled: what the plain run uses."""
        import metaflow

        venv = self.root / "anchor-venv"
        s = self.setup
        env = s.uv_env(s.warm_uv_cache)
        subprocess.run([s.uv, "venv", "-q", "--python", s.interpreter, venv], env=env, check=True)
        python = venv / "bin" / "python"
        install = [s.uv, "pip", "install", "-q", "--python", python]
        subprocess.run(
            [*install, "--no-deps", "-r", s.requirements, *s.indexes.uv_args()], env=env, check=True
        )
        subprocess.run([*install, f"metaflow=={metaflow.__version__}"], env=env, check=True)
        subprocess.run([python, "-m", "compileall", "-q", "-j0", venv], check=False)
        return python

    def bakery_run(self) -> float:
        self.runs += 1
        env = flow_env(self.root, f"b{self.runs}")
        try:
            return end_of_start(sys.executable, self.bakery, ["--environment=pypi", "run"], env)
        finally:
            # the new environment's background bytecode pass must not run into the next runs
            stop_processes_using(env["BAKERY_CACHE_DIR"])
            remove(Path(env["BAKERY_CACHE_DIR"]))
            remove(Path(env["UV_CACHE_DIR"]))

    def anchor_run(self) -> float:
        self.runs += 1
        creation = cold_env.raw_uv(self.setup, None)
        run = end_of_start(self.anchor_python, self.plain, ["run"], flow_env(self.root, "plain"))
        return creation + run


class EditRun:
    """The local edit loop: a flow run once (environment built, bytecode compiled), then its
    tabulate pin moved, locked, and run again; raw uv's side installs the edited lock."""

    def __init__(self, root: Path, cold: ColdRun) -> None:
        self.root, self.cold, self.edits = root, cold, iter(EDITS)
        self.flow = write_flow(root / "edit", bakery=True)
        self.env = flow_env(root, "edit")  # one Bakery cache and one uv cache, kept
        end_of_start(sys.executable, self.flow, ["--environment=pypi", "run"], self.env)
        IMPORT_SECONDS["bakery"].pop()
        self._wait_for_bytecode()
        self.requirements = root / "edit-requirements.txt"
        self.edit, self.runs = 0, {"anchor": 0, "bakery": 0}

    def _edited(self, side: str) -> None:
        """Both sides of a pair run the same edit: the first of the pair makes it."""
        self.runs[side] += 1
        if self.runs[side] > self.edit:
            self.next_edit()
            self.edit += 1

    def next_edit(self) -> None:
        """Move the tabulate pin to the next release and lock it (untimed)."""
        from bakery.lock import read_lock

        write_flow(self.flow.parent, bakery=True, pins={**PINS, "tabulate": next(self.edits)})
        subprocess.run(
            [sys.executable, "-m", "bakery.cli.main", "lock", self.flow.name],
            cwd=self.flow.parent,
            env=self.env,
            check=True,
            capture_output=True,
        )
        lock = read_lock(self.flow.with_name("flow.bakery.lock"))
        (env,) = {e.env_id: e for e in lock.environments.values()}.values()
        self.requirements.write_text(
            "".join(f"{p.name}=={p.version} --hash=sha256:{p.sha256}\n" for p in env.packages)
        )

    def bakery_run(self) -> float:
        self._edited("bakery")
        seconds = end_of_start(sys.executable, self.flow, ["--environment=pypi", "run"], self.env)
        self._wait_for_bytecode()  # the next edit starts from a compiled environment, untimed
        return seconds

    def anchor_run(self) -> float:
        """raw uv: the edited lock into a new venv from the warm uv cache, + the plain run."""
        self._edited("anchor")
        s = self.cold.setup
        venv = self.root / f"edit-venv-{self.cold.runs}"
        self.cold.runs += 1
        env = s.uv_env(Path(self.env["UV_CACHE_DIR"]))
        install = [s.uv, "pip", "install", "--quiet", "--python", venv / "bin/python"]
        install += ["--no-deps", "--require-hashes", "-r", self.requirements, *s.indexes.uv_args()]
        try:
            creation = timed(
                [s.uv, "venv", "-q", "--relocatable", "--python", s.interpreter, venv], env=env
            ) + timed(install, env=env)
        finally:
            remove(venv)
        run = end_of_start(
            self.cold.anchor_python, self.cold.plain, ["run"], flow_env(self.root, "plain")
        )
        return creation + run

    def _wait_for_bytecode(self, timeout: float = 120) -> None:
        """Until every environment of the edit cache has its bytecode sealed."""
        envs = Path(self.env["BAKERY_CACHE_DIR"]) / "envs"
        deadline = time.time() + timeout
        while time.time() < deadline:
            built = [p for p in envs.iterdir() if not p.name.startswith(".")]
            if built and all((p / ".bakery-bytecode.json").exists() for p in built):
                return
            time.sleep(0.2)
        raise RuntimeError("the background bytecode pass did not finish")


def stop_processes_using(path: str) -> None:
    """Kill this benchmark's leftover processes whose command line names `path`."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if path.encode() in (proc / "cmdline").read_bytes():
                os.kill(int(proc.name), signal.SIGKILL)
        except OSError:
            pass


def measure(repeat: int) -> list[Row]:
    rows: list[Row] = []
    with scratch_dir("bench-cold-run-") as root:
        started = time.perf_counter()
        setup = cold_env.Setup(root, PINS)
        cold_run = ColdRun(root, setup)  # the flow's lock replaces the Setup's
        log(f"set-up (lock, anchor venv, warm-ups): {time.perf_counter() - started:.1f} s")
        note(
            f"scientific env: {len(setup.lock.packages)} packages: "
            + ", ".join(f"{p.name}=={p.version}" for p in setup.lock.packages)
        )
        os.environ["BAKERY_COMPILE_BYTECODE"] = "never"  # creation alone; bytecode below
        rows.append(
            compare(
                f"new {len(setup.lock.packages)}-package scientific env, nothing cached",
                "raw uv venv + pip install (same lock, flags, cold cache)",
                lambda: cold_env.raw_uv(setup, None),
                lambda: cold_env.bakery_realize(setup, None),
                repeat,
                Goal(f"≤ {GOAL}×", max_ratio=GOAL),
            )
        )
        del os.environ["BAKERY_COMPILE_BYTECODE"]
        rows.append(
            compare(
                "cold `run` to the end of its first task (imports 6 packages)",
                "raw uv install + plain `run` in a venv with all bytecode",
                cold_run.anchor_run,
                cold_run.bakery_run,
                repeat,
                Goal(f"≤ {GOAL}×", max_ratio=GOAL),
            )
        )
        imports = {side: statistics.median(times) for side, times in IMPORT_SECONDS.items()}
        note(
            f"cold run: the first task's imports took {imports['bakery']:.2f} s in Bakery's new "
            f"environment (no bytecode yet: the background pass, import order first, runs "
            f"beside it) and {imports['anchor']:.2f} s with all bytecode (medians)"
        )
        for times in IMPORT_SECONDS.values():
            times.clear()
        edit = EditRun(root, cold_run)
        rows.append(
            compare(
                "run after a pin edit (tabulate), earlier env compiled, uv cache warm",
                "raw uv install (warm cache) + plain `run` in a venv with all bytecode",
                edit.anchor_run,
                edit.bakery_run,
                min(repeat, len(EDITS)),
                Goal("(info)"),
            )
        )
        imports = {side: statistics.median(times) for side, times in IMPORT_SECONDS.items()}
        note(
            f"pin edit: the first task's imports took {imports['bakery']:.2f} s in Bakery's new "
            f"environment (bytecode shared with the one before the edit) and "
            f"{imports['anchor']:.2f} s with all bytecode (medians)"
        )
    return rows


def main(argv: list[str] | None = None) -> list[Row]:
    require_bakery()
    args = parser(__doc__.splitlines()[0], default_repeat=4).parse_args(argv)
    rows = measure(args.repeat)
    print_rows(rows)
    return rows


if __name__ == "__main__":
    main()
