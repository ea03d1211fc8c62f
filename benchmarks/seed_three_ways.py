"""The seed example's three ways to get dependencies, measured: on-the-fly images
(`--environment=fast-bakery`), a 3rd-party image, a custom private image.

Self-contained, as first_task.py: a CNCF registry and a SeaweedFS S3 datastore on 127.0.0.1,
the tests' offline Debian + Python 3.11 base (with Debian's pip for the Dockerfiles), podman.
The flow is examples/squarings.py (NumPy), its step printing time.time() first:

- on the fly: `python squarings.py --environment=fast-bakery run --with container`; Bakery
  locks, bakes and pushes the step's image, podman pulls and runs it;
- 3rd-party image: the flow without `@pypi_base`, run as
  `python squarings.py run --with container:image=IMG`, IMG a vendor's image made by a
  Dockerfile (`FROM base`, `pip install numpy boto3 requests`), already in the registry;
- custom private image: the same Dockerfile, built and pushed by the team as the workstation
  image (`METAFLOW_BAKERY_WORKSTATION_IMAGE`), run as `python squarings.py run --with container`.

Measured, from launching `python squarings.py ...` to the first line of the step's code: with
nothing cached (no lock, no image on this machine, empty uv cache: the image is pulled, or baked
and pulled), with the image already here, and after NumPy's version changes (fast-bakery: edit
the decorator and run; custom image: edit the Dockerfile, `podman build` with its layer cache,
`podman push`, run). Sizes are the pushed manifests' (compressed), whole and above the base; on
a change, the bytes of the layers the new image does not share with the old one.

    .venv/bin/python benchmarks/seed_three_ways.py [--repetitions 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
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

from bakery.registry import RegistryClient
from bakery.registry.reference import ImageReference
from benchmarks._image_helpers import (
    CA_BUNDLE,
    PODMAN_LIMITS,
    Podman,
    pip_rootfs,
    push_base,
    pushed_size,
    start_registry,
)

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results_seed.md"
NUMPY, NUMPY_CHANGED = "2.2.6", "2.2.5"
WARM_TURNS = 3  # alternating warm runs of each way, per repetition
MARK = '        print("FIRST-TASK %.3f" % __import__("time").time())\n'


def write_flows(work: Path) -> tuple[Path, Path]:
    """(the example as it is, the example without @pypi_base), each printing FIRST-TASK."""
    source = (REPO / "examples" / "squarings.py").read_text()
    source = source.replace("    def start(self):\n", "    def start(self):\n" + MARK, 1)
    assert MARK in source
    baked = work / "onthefly" / "squarings.py"
    plain = work / "images" / "squarings.py"
    for path in (baked, plain):
        path.parent.mkdir(parents=True)
    baked.write_text(source)
    plain.write_text(re.sub(r"@pypi_base\(.*\)\n", "", source).replace("pypi_base, ", ""))
    return baked, plain


def first_task_seconds(flow: Path, args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.time()
    done = subprocess.run(
        [sys.executable, flow.name, "--no-pylint", *args, "--seconds", "1"],
        cwd=flow.parent,
        capture_output=True,
        text=True,
        env=env,
    )
    output = done.stdout + done.stderr
    found = re.search(r"FIRST-TASK (\d+\.\d+)", output)
    if done.returncode != 0 or not found:
        sys.exit(f"{flow} {' '.join(args)} failed:\n{output[-4000:]}")
    return float(found.group(1)) - started, output


def forget_image(reference: str) -> None:
    """Remove an image from this machine's podman storage (the one `--with container` uses)."""
    subprocess.run(["podman", "rmi", "-f", reference], capture_output=True)


def dockerfile(context: Path, base: str, numpy: str) -> None:
    context.mkdir(parents=True, exist_ok=True)
    (context / "Dockerfile").write_text(
        f"FROM {base}\n"
        # the image holds Metaflow's datastore client, so a task need not pip-install it (and
        # containers here cannot reach PyPI): what a vendor's image for Metaflow sets
        "ENV METAFLOW_SKIP_INSTALL_DEPENDENCIES=1\n"
        "RUN python3 -m pip install --no-cache-dir --break-system-packages "
        f"--root-user-action=ignore numpy=={numpy} boto3 requests\n"
    )


def new_layer_bytes(host: str, old: tuple[str, str], new: tuple[str, str]) -> int:
    """Compressed bytes of the layers of `new` that `old` does not have (what a push sends)."""
    with RegistryClient(host) as client:
        layers = [
            json.loads(client.get_manifest(repo, tag).body)["layers"] for repo, tag in (old, new)
        ]
    known = {layer["digest"] for layer in layers[0]}
    return sum(layer["size"] for layer in layers[1] if layer["digest"] not in known)


def split(reference: str) -> tuple[str, str]:
    """`host/repo:tag[@digest]` -> (repo, digest or tag), for the registry client."""
    parsed = ImageReference.parse(reference)
    return parsed.repository, parsed.digest or parsed.tag


def run(repetitions: int, work: Path) -> dict:
    found: dict = {"times": {}, "sizes": {}, "notes": []}

    def add(key: str, seconds: float) -> None:
        found["times"].setdefault(key, []).append(seconds)
        print(f"  {key}: {seconds:.1f} s", file=sys.stderr, flush=True)

    with ExitStack() as stack:
        registry = start_registry(stack, work / "registry")
        host = registry.host
        base = push_base(host, debian_rootfs(), "base/debian", "3.11", work / "base-layer")
        pip_base = push_base(host, pip_rootfs(), "base/debian-pip", "3.11", work / "pip-layer")
        s3 = stack.enter_context(running_s3(_mkdir(work / "s3")))
        podman = Podman(work / "podman", work / "podman.log")  # builds, in private storage
        stack.callback(podman.reset)
        podman("pull", "--tls-verify=false", "-q", pip_base)
        baked_flow, plain_flow = write_flows(work)
        env = {
            **os.environ,
            **s3,
            "USER": "dev",
            "METAFLOW_DEFAULT_METADATA": "local",
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(work / "local"),
            "METAFLOW_BAKERY_BASE_IMAGE": base,
            "BAKERY_CONTAINER_ARGS": " ".join(PODMAN_LIMITS),
        }
        env.pop("VIRTUAL_ENV", None)

        # the vendor's image and the team's, made by the same Dockerfile (untimed for users)
        dockerfile(work / "context", pip_base, NUMPY)
        started = time.perf_counter()
        podman.build(work / "context", "localhost/seed/numpy:1", cache=True)
        podman.push("localhost/seed/numpy:1", f"{host}/vendor/numpy:{NUMPY}")
        found["vendor build s"] = time.perf_counter() - started
        podman.push("localhost/seed/numpy:1", f"{host}/team/workstation:1")
        vendor, team = f"{host}/vendor/numpy:{NUMPY}", f"{host}/team/workstation:1"
        found["sizes"]["image"] = pushed_size(registry, "vendor/numpy", NUMPY, 1)

        for rep in range(repetitions):
            print(f"repetition {rep + 1}/{repetitions}...", file=sys.stderr)
            baked_env = {
                **env,
                "METAFLOW_BAKERY_CACHE_DIR": str(work / f"bakery-cache-{rep}"),
                "UV_CACHE_DIR": str(work / f"uv-cache-{rep}"),
                "METAFLOW_BAKERY_REGISTRY": f"{host}/bakery/seed{rep}",
            }
            source = baked_flow.read_text().replace(NUMPY_CHANGED, NUMPY)
            baked_flow.write_text(source)
            (baked_flow.parent / "squarings.bakery.lock").unlink(missing_ok=True)
            baked_args = ["--environment=fast-bakery", "run", "--with", "container"]
            seconds, output = first_task_seconds(baked_flow, baked_args, baked_env)
            add("fast-bakery cold", seconds)
            image = re.search(r"Image for step\(s\) [^:]*start[^:]*: (\S+)", output).group(1)
            forget_image(vendor)
            image_args = ["run", "--with", f"container:image={vendor}"]
            add("3rd-party cold", first_task_seconds(plain_flow, image_args, env)[0])
            # images here: alternate the two, several times (a single run is mostly noise here)
            for turn in range(WARM_TURNS):
                pairs = [
                    ("fast-bakery warm", baked_flow, baked_args, baked_env),
                    ("3rd-party warm", plain_flow, image_args, env),
                ]
                for key, flow, args, flow_env in pairs if turn % 2 == 0 else reversed(pairs):
                    add(key, first_task_seconds(flow, args, flow_env)[0])
            forget_image(vendor)
            baked_flow.write_text(
                source.replace(f'"numpy": "{NUMPY}"', f'"numpy": "{NUMPY_CHANGED}"')
            )
            seconds, output = first_task_seconds(baked_flow, baked_args, baked_env)
            add("fast-bakery change", seconds)
            changed = re.search(r"Image for step\(s\) [^:]*start[^:]*: (\S+)", output).group(1)
            found["sizes"]["baked"] = pushed_size(registry, *split(image), 1)
            found["sizes"]["baked change"] = new_layer_bytes(host, split(image), split(changed))
            for reference in (image, changed):
                forget_image(reference)

            team_env = {**env, "METAFLOW_BAKERY_WORKSTATION_IMAGE": team}
            forget_image(team)
            add(
                "custom cold",
                first_task_seconds(plain_flow, ["run", "--with", "container"], team_env)[0],
            )
            # the dependency changes: edit the Dockerfile, build (with the base's layers cached,
            # not an earlier repetition's pip layer), push, run
            podman.reset()
            podman("pull", "--tls-verify=false", "-q", pip_base)
            dockerfile(work / "context", pip_base, NUMPY_CHANGED)
            started = time.perf_counter()
            podman.build(work / "context", f"localhost/seed/numpy:{rep + 2}", cache=True)
            podman.push(f"localhost/seed/numpy:{rep + 2}", f"{host}/team/workstation:{rep + 2}")
            rebuilt = time.perf_counter() - started
            changed_team = f"{host}/team/workstation:{rep + 2}"
            team_env["METAFLOW_BAKERY_WORKSTATION_IMAGE"] = changed_team
            seconds = first_task_seconds(plain_flow, ["run", "--with", "container"], team_env)[0]
            add("custom change", rebuilt + seconds)
            add("custom rebuild", rebuilt)
            found["sizes"]["custom change"] = new_layer_bytes(
                host, ("team/workstation", "1"), ("team/workstation", str(rep + 2))
            )
            dockerfile(work / "context", pip_base, NUMPY)
            for reference in (team, changed_team):
                forget_image(reference)
    return found


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def table(found: dict, repetitions: int) -> str:
    times, sizes = found["times"], found["sizes"]

    def t(key: str) -> str:
        values = times[key]
        text = f"{statistics.median(values):.1f} s"
        return text + (f" ({min(values):.1f}–{max(values):.1f})" if len(values) > 1 else "")

    def mb(size: int | float) -> str:
        return f"{size / 1e6:.1f} MB"

    image, baked = sizes["image"], sizes["baked"]
    rows = [
        (
            "on the fly: `--environment=fast-bakery run --with container`",
            t("fast-bakery cold") + " (lock, bake, push, pull)",
            t("fast-bakery warm"),
            f"{mb(baked.compressed)} ({mb(baked.added_compressed)} above the base)",
            t("fast-bakery change")
            + f" (edit the decorator, run); {mb(sizes['baked change'])} pushed",
        ),
        (
            "3rd-party image: `run --with container:image=IMG`",
            t("3rd-party cold") + " (pull)",
            t("3rd-party warm"),
            f"{mb(image.compressed)} ({mb(image.added_compressed)} above the base)",
            "the vendor's next release, or a custom image",
        ),
        (
            "custom private image: `run --with container`, the workstation image",
            t("custom cold") + " (pull)",
            "as the 3rd-party image",
            f"{mb(image.compressed)} ({mb(image.added_compressed)} above the base)",
            t("custom change")
            + f" (edit the Dockerfile, `podman build` {t('custom rebuild')} + push, run); "
            f"{mb(sizes['custom change'])} pushed",
        ),
    ]
    lines = [
        "# The seed example's three ways to get dependencies",
        "",
        f"examples/squarings.py (NumPy {NUMPY}, then {NUMPY_CHANGED}); `--with container` on "
        "a loopback registry and S3; medians of "
        f"{repetitions}; {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}. Times run from launching `python squarings.py ...` to the "
        "first line of the step's code. The vendor's (and team's) Dockerfile build + push took "
        f"{found['vendor build s']:.1f} s, before any of this.",
        "",
        "| approach | first task, nothing cached | first task, image here | image size "
        "(compressed) | a dependency changes: to the first task |",
        "|---|---|---|---|---|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        "`benchmarks/seed_three_ways.py`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", "-n", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown results file")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if not Path(CA_BUNDLE).exists():
        sys.exit(f"{CA_BUNDLE} is missing: the Dockerfile build needs it to reach PyPI")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bakery-bench-seed-") as tmp:
        found = run(args.repetitions, Path(tmp))
    report = table(found, args.repetitions)
    report += f"\nWhole run: {time.perf_counter() - started:.0f} s.\n"
    print(report)
    if not args.no_write:
        args.output.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
