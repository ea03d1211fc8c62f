"""The seed flow on a real GPU: examples/torchtest.py with `@gpu_profile()` and
`@resources(gpu=1, memory=8000)` uncommented, as the documentation shows for GPU execution.

For a machine with an NVIDIA GPU, PyTorch (CUDA) and nvidia-ml-py in its Python, and Metaflow
importable (the device machine of the tool library has the first three; Metaflow travels as a
wheel). Runs the flow with and without `@gpu_profile` (alternating, the flow's own squarings per
second are the step's speed), then reads what the profile recorded (the `gpu_profile_data`
artifact and the card) and writes a markdown report; `--out DIR` also keeps the card's HTML.

    # here, once: Metaflow as a wheel for the device's Python 3.12
    echo /.whl/ >> .git/info/exclude
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \\
        --implementation cp -d .whl metaflow==2.19.39
    # there (device tool `run`, carry [".whl"]):
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && \\
    PYTHONPATH=/tmp/site:$PWD/src USER=dev PYTHONUNBUFFERED=1 \\
    python3 benchmarks/gpu_seed.py --seconds 20 --repeat 2 --out $OUT

`--fake-gpus N` runs it without a GPU against tests/profilers/fake_pynvml.py (a dry run of
this script; the figures then mean nothing).
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))

from benchmarks._common import (  # noqa: E402
    publish_report,
    run_flow,
    scratch_metaflow_env,
    task_artifacts,
)

RESULTS = Path(__file__).resolve().parent / "results_gpu.md"
GPU_LINES = ("# @gpu_profile()", "# @resources(gpu=1, memory=8000)")


def write_flows(work: Path, seconds: float, dim: int, fake_gpus: int) -> dict[str, Path]:
    """{"plain": the documentation's flow, "profiled": with the two GPU lines uncommented}."""
    source = (REPO / "examples" / "torchtest.py").read_text()
    for default in ("seconds=60", "dim=5000"):
        assert default in source, f"examples/torchtest.py no longer has {default}"
    source = source.replace("seconds=60", "seconds=%s" % seconds)
    source = source.replace("dim=5000", "dim=%d" % dim)
    flows = {}
    for name in ("plain", "profiled"):
        folder = work / name
        folder.mkdir(parents=True)
        text = source
        for line in GPU_LINES:
            assert line in text, line
            if name == "profiled":
                text = text.replace(line, line.replace("# ", "", 1))
            elif line.startswith("# @resources"):
                text = text.replace(line, line.replace("# ", "", 1))  # same resources both ways
        (folder / "torchtest.py").write_text(text)
        if fake_gpus:
            shutil.copy(REPO / "tests" / "profilers" / "fake_pynvml.py", folder / "pynvml.py")
        flows[name] = folder / "torchtest.py"
    return flows


def run_seed(flow: Path, env: dict[str, str]) -> tuple[float, str, str]:
    """(squarings per second, run id, output) of one `python torchtest.py run`."""
    returncode, output, _ = run_flow(flow, env, "run")
    speed = re.search(r"⚡ ([\d.]+) squarings per second ⚡", output)
    run_id = re.search(r"run-id (\d+)", output)
    if returncode != 0 or not speed or not run_id:
        sys.exit(f"{flow} failed:\n{output[-4000:]}")
    return float(speed.group(1)), run_id.group(1), output


def profile_of(flow: Path, run_id: str, env: dict[str, str], out: Path | None) -> dict:
    """What @gpu_profile recorded in the run: its artifact, and its card's HTML kept in `out`."""
    names = ["gpu_profile_num_gpus", "gpu_profile_data"]
    found = task_artifacts(flow.parent, f"TorchTestFlow/{run_id}/start", names, env)
    if out is not None:
        card = subprocess.run(
            [sys.executable, flow.name, "card", "get", "start", "--id", "gpu_profile"],
            cwd=flow.parent,
            capture_output=True,
            text=True,
            env=env,
        )
        if card.returncode != 0 or "<html" not in card.stdout.lower():
            listing = subprocess.run(
                [sys.executable, flow.name, "card", "list", "start"],
                cwd=flow.parent,
                capture_output=True,
                text=True,
                env=env,
            )
            sys.exit(
                f"`card get start --id gpu_profile` gave no card (exit {card.returncode}):\n"
                f"{card.stderr[-3000:]}\n`card list start`:\n{listing.stdout}{listing.stderr}"
            )
        (out / "gpu_profile_card.html").write_text(card.stdout)
    return {"num_gpus": found["gpu_profile_num_gpus"], "data": found["gpu_profile_data"]}


def summary(profile: dict) -> list[tuple[str, str]]:
    data = profile["data"]
    rows = [
        ("GPUs", str(profile["num_gpus"])),
        ("read through", str(data.get("backend"))),
        ("driver / CUDA", f"{data.get('driver_version')} / {data.get('cuda_version')}"),
        ("devices", ", ".join(f"{d['name']} ({d['memory']})" for d in data["devices"])),
        ("error", str(data.get("error"))),
        ("sampling thread CPU", f"{data.get('sampler_cpu_seconds', 0):.3f} s"),
    ]
    for device, series in data["profile"].items():
        util = [v for v in series["gpu_utilization"] if v is not None]
        memory = [v for v in series["memory_used"] if v is not None]
        power = [v for v in series["power"] if v is not None]
        temperature = [v for v in series["temperature"] if v is not None]
        rows.append(
            (
                f"`{device}`",
                f"{len(series['timestamp'])} readings; GPU max {max(util, default=0):.0f} %, "
                f"mean {statistics.mean(util) if util else 0:.1f} %; memory peak "
                f"{max(memory, default=0):.0f} MiB; max {max(temperature, default=0):.0f} °C, "
                f"{max(power, default=0):.0f} W",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="squaring time per run")
    parser.add_argument("--repeat", type=int, default=2, help="alternating runs of each flow")
    parser.add_argument("--dim", type=int, default=5000, help="the tensor is dim x dim")
    parser.add_argument("--out", type=Path, help="also keep the report and card HTML here")
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown results file")
    parser.add_argument("--fake-gpus", type=int, default=0, help="dry run without a GPU")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bakery-gpu-seed-"))
    env = scratch_metaflow_env(work, {"FAKE_NVML_GPUS": str(args.fake_gpus or 1)})
    flows = write_flows(work, args.seconds, args.dim, args.fake_gpus)
    speeds: dict[str, list[float]] = {"plain": [], "profiled": []}
    last_profiled = None
    for rep in range(args.repeat):
        order = ["plain", "profiled"] if rep % 2 == 0 else ["profiled", "plain"]
        for name in order:
            speed, run_id, output = run_seed(flows[name], env)
            speeds[name].append(speed)
            if name == "profiled":
                last_profiled = run_id
                if args.out:
                    args.out.mkdir(parents=True, exist_ok=True)
                    (args.out / "profiled_run.log").write_text(output)
            print(f"{rep + 1}/{args.repeat} {name}: {speed:.1f} squarings/s", file=sys.stderr)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    profile = profile_of(flows["profiled"], last_profiled, env, args.out)
    plain, profiled = statistics.median(speeds["plain"]), statistics.median(speeds["profiled"])
    lines = [
        "# The seed flow on a GPU, with and without @gpu_profile",
        "",
        f"examples/torchtest.py, {args.seconds:g} s of squaring a {args.dim}×{args.dim} tensor "
        "per run, "
        f"medians of {args.repeat} alternating runs; {platform.node()}, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}"
        + (f"; FAKE GPUs ({args.fake_gpus}): a dry run" if args.fake_gpus else "")
        + ". `benchmarks/gpu_seed.py`.",
        "",
        "| flow | squarings per second | runs |",
        "|---|---|---|",
        f"| without @gpu_profile | {plain:.1f} | {' '.join(f'{v:.1f}' for v in speeds['plain'])} |",
        f"| with @gpu_profile() | {profiled:.1f} ({profiled / plain:.3f}×) | "
        f"{' '.join(f'{v:.1f}' for v in speeds['profiled'])} |",
        "",
        "What the profile recorded (last run with it):",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in summary(profile)),
        "",
    ]
    publish_report("\n".join(lines), args.output, args.out, "results_gpu.md")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
