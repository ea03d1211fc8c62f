"""A step imports exactly its locked packages whatever the image's own Python setup says:
an image with PYTHONPATH, PYTHONUSERBASE and PYTHONHOME set, other versions of the step's
packages on that PYTHONPATH and in its user site, and a package and a `.pth` file in its
interpreter's site-packages. Under `--environment=pypi` with the image as the step's image (the
snapshot bootstrap builds the environment in it) and under fast-bakery with it as the base the
step's image is baked on, both on the local datastore."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from bakery.container import pull

pytestmark = [pytest.mark.slow, pytest.mark.network, pytest.mark.container]

PODMAN_FLAGS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]

# what the image adds to the base: each file must stay out of the step's sight
LEAKS = {
    "opt/leak/path/six.py": '__version__ = "0.0-image-pythonpath"\n',
    "opt/leak/path/imageonly.py": "",
    "opt/leak/userbase/lib/python3.11/site-packages/six.py": '__version__ = "0.0-user-site"\n',
    "opt/leak/userbase/lib/python3.11/site-packages/useronly.py": "",
    "usr/lib/python3/dist-packages/siteonly.py": "",
    "usr/lib/python3/dist-packages/leak.pth": 'import os; os.environ["LEAKED_PTH"] = "ran"\n',
}
CONTAINERFILE = """FROM {base}
COPY opt /opt
COPY usr /usr
ENV PYTHONPATH=/opt/leak/path:${{PYTHONPATH}} PYTHONUSERBASE=/opt/leak/userbase PYTHONHOME=/usr
"""

FLOW = """
from metaflow import FlowSpec, pypi, step

class LeakFlow(FlowSpec):
    @pypi(packages={"six": "1.17.0"})
    @step
    def start(self):
        import json, os, subprocess, sys
        import metaflow, six
        seen = {
            "six": six.__version__,
            "metaflow": metaflow.__file__,
            "pth": os.environ.get("LEAKED_PTH"),
            "env": {k: os.environ.get(k) for k in ("PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE")},
            "child": subprocess.run(
                [sys.executable, "-c", "import six; print(six.__version__)"],
                capture_output=True, text=True,
            ).stdout.strip(),
        }
        for name in ("imageonly", "useronly", "siteonly"):
            try:
                __import__(name)
                seen[name] = "imported"
            except ImportError:
                seen[name] = None
        print("SEEN " + json.dumps(seen))
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    LeakFlow()
"""


def add_leaks(base: str, target: str, context) -> str:
    """`base` with every leak above, pushed as `target`."""
    for path, text in LEAKS.items():
        (context / path).parent.mkdir(parents=True, exist_ok=True)
        (context / path).write_text(text)
    (context / "Containerfile").write_text(CONTAINERFILE.format(base=pull(base)))
    local = "localhost/bakery-test/" + target.rsplit("/", 1)[-1]
    for command in (
        ["podman", "build", "--quiet", "--pull=never", *PODMAN_FLAGS, "-t", local, str(context)],
        ["podman", "push", "--quiet", "--tls-verify=false", local, target],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    # the image's own Python does see the leaks: they are real
    seen = subprocess.run(
        ["podman", "run", "--rm", *PODMAN_FLAGS, local, "python3", "-c", "import six, siteonly, "
         "useronly, os; print(six.__version__, os.environ['LEAKED_PTH'])"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert seen.stdout.split() == ["0.0-image-pythonpath", "ran"], seen.stderr
    subprocess.run(["podman", "rmi", local], capture_output=True, timeout=300)  # pushed: not needed
    return target


@pytest.fixture(scope="module")
def leaky_base(base_images, tmp_path_factory) -> str:
    """The plain test base with the leaks: a base for fast-bakery's images."""
    target = f"{base_images.host}/leaky/base:1"
    return add_leaks(base_images.oci, target, tmp_path_factory.mktemp("leaky-base"))


@pytest.fixture(scope="module")
def leaky_vendor_image(base_images, tmp_path_factory) -> str:
    """A 3rd-party image with the leaks, on an image Bakery baked (its PYTHONPATH holds the
    `requests` Metaflow itself imports, and a `six` of its own)."""
    from bakery.image.bake import BakeOptions, bake
    from tests.image.locks import lock

    vendor = bake(
        lock(("requests==2.32.3", "six==1.16.0")),
        base=base_images.oci,
        repository=f"{base_images.host}/vendor/python-requests",
        options=BakeOptions(
            cache_dir=tmp_path_factory.mktemp("vendor"),
            progress=False,
            env={"METAFLOW_SKIP_INSTALL_DEPENDENCIES": "1"},
        ),
    ).reference
    target = f"{base_images.host}/leaky/vendor:1"
    return add_leaks(vendor, target, tmp_path_factory.mktemp("leaky-vendor"))


@pytest.fixture
def local_env(base_images):
    return {
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "BAKERY_CONTAINER_ARGS": " ".join(PODMAN_FLAGS),
        "METAFLOW_BAKERY_REGISTRY": f"{base_images.host}/leak/envs",
    }


def assert_only_locked(output: str) -> None:
    seen = json.loads(re.search(r"SEEN (\{.*\})", output).group(1))
    assert seen["six"] == "1.17.0" and seen["child"] == "1.17.0", seen
    assert seen["imageonly"] is seen["useronly"] is seen["siteonly"] is None, seen
    assert seen["pth"] is None, seen
    assert seen["env"] == {
        "PYTHONPATH": "/tmp/metaflow/.mf_code",  # the code package's folder, nothing else
        "PYTHONHOME": None,
        "PYTHONUSERBASE": None,
    }, seen
    assert seen["metaflow"].startswith("/tmp/metaflow/.mf_code/metaflow/"), seen


def test_a_third_party_image_cannot_shadow_the_locked_packages(
    flows, leaky_vendor_image, local_env
):
    flow = flows.write("leak.py", FLOW)
    image = leaky_vendor_image
    result = flows.run(
        flow, "run", "--with", f"container:image={image}", environment="pypi", **local_env
    )
    result.check()
    assert "Bootstrapping Bakery environment" in result.output
    assert_only_locked(result.output)


def test_a_baked_image_on_a_leaky_base_holds_only_the_locked_packages(flows, leaky_base, local_env):
    flow = flows.write("leak.py", FLOW)
    result = flows.run(
        flow,
        "run",
        "--with",
        "container",
        environment="fast-bakery",
        METAFLOW_BAKERY_BASE_IMAGE=leaky_base,
        **local_env,
    )
    result.check()
    assert "Bootstrapping Bakery environment" not in result.output
    assert_only_locked(result.output)
