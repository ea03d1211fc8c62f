"""The seed flow with PyTorch from the package index: examples/torchtest.py with
`@pypi_base(packages={"torch": TORCH})`, created locally, then baked and started in a container.

PyTorch's default Linux wheels on PyPI are CUDA builds (about 3 GB with their nvidia-* packages);
this measures a CPU build instead, which needs an index or a folder that has one: uv reads
`UV_FIND_LINKS` (a folder of wheels, e.g. one `pip download torch==2.13.0+cpu` filled) or
`UV_EXTRA_INDEX_URL` / `PIP_EXTRA_INDEX_URL` (e.g. https://download.pytorch.org/whl/cpu). Set one
and `--torch` to the version it holds. Self-contained otherwise (loopback registry and S3, the
tests' Debian + Python 3.11 base). The flow squares a small tensor for a few seconds (no GPU).

Measured, from launching `python torchtest.py ...` to the first line of the step's code:
`bakery lock`; `--environment=pypi run` with an empty Bakery cache (the environment is created
from the wheels) and again (cached); `--environment=fast-bakery run --with container` with
nothing baked (bake, push, pull) and again; the baked image's size.

    UV_FIND_LINKS=/opt/wheels .venv/bin/python benchmarks/torch_variant.py --torch 2.13.0+cpu
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fixtures.s3 import running_s3
from tests.image.conftest import debian_rootfs

from benchmarks._common import run_flow
from benchmarks._image_helpers import PODMAN_LIMITS, push_base, pushed_size, start_registry
from benchmarks.seed_three_ways import forget_image, split

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results_torch.md"
MARK = '        print("FIRST-TASK %.3f" % time.time())\n'


def write_flow(folder: Path, torch: str) -> Path:
    source = (REPO / "examples" / "torchtest.py").read_text()
    anchor = "class TorchTestFlow(FlowSpec):"
    source = source.replace(anchor, '@pypi_base(packages={"torch": "%s"})\n%s' % (torch, anchor))
    source = source.replace("conda_base, card", "conda_base, card, pypi_base")
    source = source.replace("seconds=60", "seconds=3").replace("dim=5000", "dim=500")
    source = source.replace("    def start(self):\n", "    def start(self):\n" + MARK, 1)
    assert MARK in source and "card, pypi_base" in source
    folder.mkdir(parents=True)
    flow = folder / "torchtest.py"
    flow.write_text(source)
    return flow


def timed_run(flow: Path, args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.time()  # the task prints a wall-clock time
    returncode, output, _ = run_flow(flow, env, *args)
    found = re.search(r"FIRST-TASK (\d+\.\d+)", output)
    if returncode != 0 or not found:
        sys.exit(f"{flow} {' '.join(args)} failed:\n{output[-4000:]}")
    return float(found.group(1)) - started, output


def run(torch: str, work: Path) -> list[tuple[str, str]]:
    rows = []
    with ExitStack() as stack:
        registry = start_registry(stack, work / "registry")
        base = push_base(registry.host, debian_rootfs(), "base/debian", "3.11", work / "base")
        s3_root = work / "s3"
        s3_root.mkdir()
        s3 = stack.enter_context(running_s3(s3_root))
        env = {
            **os.environ,
            "USER": "dev",
            "METAFLOW_HOME": str(work / "home"),
            "METAFLOW_DEFAULT_METADATA": "local",
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(work / "local"),
            "METAFLOW_BAKERY_CACHE_DIR": str(work / "bakery-cache"),
            "UV_CACHE_DIR": str(work / "uv-cache"),
        }
        env.pop("VIRTUAL_ENV", None)
        (work / "home").mkdir()
        flow = write_flow(work / "flow", torch)

        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bakery.cli.main", "lock", flow.name],
            cwd=flow.parent,
            env=env,
            check=True,
            capture_output=True,
        )
        rows.append(
            ("`bakery lock` (torch and its dependencies)", f"{time.perf_counter() - started:.1f} s")
        )
        lock = (flow.parent / "torchtest.bakery.lock").read_text()
        url = re.search(r'"url": "([^"]*torch-[^"]*\.whl)"', lock)
        rows.append(("torch wheel in the lock", url.group(1) if url else "?"))
        seconds, _ = timed_run(flow, ["--environment=pypi", "run"], env)
        rows.append(
            ("`--environment=pypi run`, environment created: to the first task", f"{seconds:.1f} s")
        )
        seconds, _ = timed_run(flow, ["--environment=pypi", "run"], env)
        rows.append(
            ("`--environment=pypi run`, environment cached: to the first task", f"{seconds:.1f} s")
        )

        baked_env = {
            **env,
            **s3,
            "METAFLOW_BAKERY_REGISTRY": f"{registry.host}/bakery/torch",
            "METAFLOW_BAKERY_BASE_IMAGE": base,
            "BAKERY_CONTAINER_ARGS": " ".join(PODMAN_LIMITS),
        }
        args = ["--environment=fast-bakery", "run", "--with", "container"]
        seconds, output = timed_run(flow, args, baked_env)
        image = re.search(r"Image for step\(s\) [^:]*start[^:]*: (\S+) \(([^)]*)\)", output)
        rows.append(
            (
                "`--environment=fast-bakery run --with container`, nothing baked: to the first task",
                f"{seconds:.1f} s ({image.group(2)}, then push and pull)",
            )
        )
        size = pushed_size(registry, *split(image.group(1)), 1)
        rows.append(
            (
                "baked image size (compressed; uncompressed)",
                f"{size.compressed / 1e6:.0f} MB ({size.added_compressed / 1e6:.0f} MB above the "
                f"base); {size.uncompressed / 1e6:.0f} MB",
            )
        )
        seconds, _ = timed_run(flow, args, baked_env)
        rows.append(("the same, image baked and pulled: to the first task", f"{seconds:.1f} s"))
        forget_image(image.group(1))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torch", default="2.13.0+cpu", help="the torch version to pin")
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown results file")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if not any(
        os.environ.get(v) for v in ("UV_FIND_LINKS", "UV_EXTRA_INDEX_URL", "PIP_EXTRA_INDEX_URL")
    ):
        sys.exit("set UV_FIND_LINKS or an extra index that holds a CPU build of torch (see --help)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bakery-bench-torch-") as tmp:
        rows = run(args.torch, Path(tmp))
    report = "\n".join(
        [
            "# The seed flow with PyTorch from the package index",
            "",
            f'examples/torchtest.py with `@pypi_base(packages={{"torch": "{args.torch}"}})` '
            f"(UV_FIND_LINKS={os.environ.get('UV_FIND_LINKS', '')}); {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}; one run each. "
            "`benchmarks/torch_variant.py`.",
            "",
            "| what | measured |",
            "|---|---|",
            *(f"| {what} | {value} |" for what, value in rows),
            "",
            f"Whole run: {time.perf_counter() - started:.0f} s.",
            "",
        ]
    )
    print(report)
    if not args.no_write:
        args.output.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
