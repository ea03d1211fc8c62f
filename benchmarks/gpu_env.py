"""A CUDA environment made by Bakery, on a real GPU, with `@gpu_profile` inside it.

A step with `@pypi(packages={"nvidia-cuda-runtime-cu12": ...})` and `@gpu_profile()` runs with
`--environment=pypi`: Bakery locks and creates its environment, and the step loads the CUDA
runtime from that environment (ctypes, no framework), counts the devices, fills 4 GiB of device
memory and holds it for a few seconds while the profile samples. The script then reads what the
step recorded (the runtime's path: inside Bakery's environment cache) and what `@gpu_profile`
recorded (memory used on the device, read through NVML from inside the environment), and
writes a markdown report.

For a machine with an NVIDIA GPU and no index: `--wheels DIR` serves the environment's wheels
(the CUDA runtime, `requests` and its dependencies, for the machine's Python) as a `file://`
simple index. On the device machine of the tool library (Python 3.12; Metaflow and uv travel as
wheels beside them):

    # here, once
    echo /.whl/ >> .git/info/exclude
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \\
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \\
        -d .whl/site metaflow==2.19.39 uv==0.13.9 packaging==26.4
    python3 -m pip download (same flags) -d .whl/env nvidia-cuda-runtime-cu12==12.4.127 \\
        requests==2.32.3 certifi charset-normalizer idna urllib3
    # there (device tool `run`, carry [".whl", "src/metaflow_bakery.egg-info"]):
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/site/*.whl && \\
    PATH=/tmp/site/bin:$PATH PYTHONPATH=/tmp/site:$PWD/src USER=dev \\
    python3 benchmarks/gpu_env.py --wheels .whl/env --out $OUT
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (  # noqa: E402
    publish_report,
    run_flow,
    scratch_metaflow_env,
    task_artifacts,
)

RESULTS = Path(__file__).resolve().parent / "results_gpu_env.md"
CUDA_RUNTIME = "12.4.127"
GIB = 4

FLOW = """\
from metaflow import FlowSpec, step, pypi
from metaflow.profilers import gpu_profile


class CudaEnvFlow(FlowSpec):
    @gpu_profile(interval=0.5)
    @pypi(packages={{"nvidia-cuda-runtime-cu12": "{version}"}})
    @step
    def start(self):
        import ctypes
        import glob
        import os
        import sys
        import time

        import nvidia.cuda_runtime

        folder = os.path.join(list(nvidia.cuda_runtime.__path__)[0], "lib")
        self.cudart = sorted(glob.glob(os.path.join(folder, "libcudart.so*")))[0]
        self.python = sys.executable
        cudart = ctypes.CDLL(self.cudart)
        count = ctypes.c_int()
        self.count_error = cudart.cudaGetDeviceCount(ctypes.byref(count))
        self.devices = count.value
        pointer = ctypes.c_void_p()
        size = ctypes.c_size_t({gib} << 30)
        self.malloc_error = cudart.cudaMalloc(ctypes.byref(pointer), size)
        if self.malloc_error == 0:
            cudart.cudaMemset(pointer, 1, size)
            cudart.cudaDeviceSynchronize()
            time.sleep(4)
            cudart.cudaFree(pointer)
        print("CUDA-ENV devices=%d malloc=%d" % (self.devices, self.malloc_error))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CudaEnvFlow()
"""


def simple_index(wheels: Path, root: Path) -> str:
    """A PEP 503 index of the wheels in `wheels` under `root`; its file:// URL."""
    by_project: dict[str, list[Path]] = {}
    for wheel in sorted(wheels.glob("*.whl")):
        project = re.sub(r"[-_.]+", "-", wheel.name.split("-", 1)[0]).lower()
        by_project.setdefault(project, []).append(wheel.resolve())
    for project, files in by_project.items():
        links = "".join(
            f'<a href="{w.as_uri()}#sha256={hashlib.sha256(w.read_bytes()).hexdigest()}">'
            f"{w.name}</a>\n"
            for w in files
        )
        (root / project).mkdir(parents=True)
        (root / project / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    return root.as_uri()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheels", type=Path, help="serve these wheels as the only index")
    parser.add_argument("--out", type=Path, help="also keep the report and the run's log here")
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown results file")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bakery-gpu-env-"))
    cache = str(work / "bakery-cache")
    env = scratch_metaflow_env(
        work,
        {
            "METAFLOW_BAKERY_CACHE_DIR": cache,
            "BAKERY_CACHE_DIR": cache,
            "UV_CACHE_DIR": str(work / "uv-cache"),
        },
    )
    if args.wheels:
        env["PIP_INDEX_URL"] = simple_index(args.wheels, work / "index")
        env.pop("PIP_EXTRA_INDEX_URL", None)
    flow = work / "flow" / "cudaenv.py"
    flow.parent.mkdir()
    flow.write_text(FLOW.format(version=CUDA_RUNTIME, gib=GIB))
    returncode, output, seconds = run_flow(flow, env, "--environment=pypi", "run")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu_env_run.log").write_text(output)
    run_id = re.search(r"run-id (\d+)", output)
    if returncode != 0 or not run_id:
        sys.exit(f"the flow failed:\n{output[-4000:]}")
    names = ["cudart", "python", "devices", "count_error", "malloc_error"]
    names += ["gpu_profile_num_gpus", "gpu_profile_data"]
    run = task_artifacts(flow.parent, f"CudaEnvFlow/{run_id.group(1)}/start", names, env)
    data = run["gpu_profile_data"]
    memory = [
        v for series in data["profile"].values() for v in series["memory_used"] if v is not None
    ]
    lines = [
        "# A CUDA environment made by Bakery, on a GPU, with @gpu_profile inside it",
        "",
        f"`benchmarks/gpu_env.py`: a step with `@pypi(packages={{'nvidia-cuda-runtime-cu12': "
        f"'{CUDA_RUNTIME}'}})` and `@gpu_profile(interval=0.5)`, `--environment=pypi run`, "
        f"nothing cached; {platform.node()}, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        "| | |",
        "|---|---|",
        f"| run (lock + create + both steps) | {seconds:.1f} s |",
        f"| the step's interpreter | `{run['python'].replace(cache, '<bakery cache>')}` |",
        f"| CUDA runtime loaded from | `{run['cudart'].replace(cache, '<bakery cache>')}` |",
        f"| in Bakery's environment | {run['cudart'].startswith(cache)} |",
        f"| cudaGetDeviceCount | {run['devices']} device(s), error {run['count_error']} |",
        f"| cudaMalloc of {GIB} GiB | error {run['malloc_error']} |",
        f"| @gpu_profile: GPUs, read through | {run['gpu_profile_num_gpus']}, "
        f"{data.get('backend')} |",
        "| @gpu_profile: devices | "
        + ", ".join(f"{d['name']} ({d['memory']})" for d in data["devices"])
        + " |",
        f"| @gpu_profile: peak device memory used | {max(memory, default=0):.0f} MiB |",
        f"| @gpu_profile: error | {data.get('error')} |",
        "",
    ]
    publish_report("\n".join(lines), args.output, args.out, "results_gpu_env.md")
    shutil.rmtree(work, ignore_errors=True)
    ok = run["devices"] > 0 and run["malloc_error"] == 0 and run["cudart"].startswith(cache)
    return 0 if ok and max(memory, default=0) >= GIB * 1024 else 1


if __name__ == "__main__":
    sys.exit(main())
