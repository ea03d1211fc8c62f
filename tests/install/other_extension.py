"""Another project's Metaflow extension distribution, written and built the way such projects
are (setuptools, a `metaflow_extensions` namespace with its own org folder): it adds a step
decorator, `@acme_stamp`, that stores an artifact. Installed beside Bakery, both must load."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PYPROJECT = """
[build-system]
requires = ["setuptools>=69", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "acme-metaflow-ext"
version = "1.0.0"
dependencies = ["metaflow"]

[tool.setuptools.packages.find]
include = ["metaflow_extensions", "metaflow_extensions.*"]
namespaces = true
"""

MFEXTINIT = """
STEP_DECORATORS_DESC = [("acme_stamp", ".stamp.AcmeStampDecorator")]
"""

STAMP = '''
from metaflow.decorators import StepDecorator


class AcmeStampDecorator(StepDecorator):
    """Stores `acme_stamp` on every task of the step."""

    name = "acme_stamp"
    defaults = {"value": "acme"}

    def task_pre_step(self, step_name, task_datastore, metadata, run_id, task_id, flow, graph,
                      retry_count, max_retries, ubf_context, inputs):
        flow.acme_stamp = self.attributes["value"]
'''


def write_other_extension(folder: Path) -> Path:
    """The source tree of `acme-metaflow-ext` in `folder`."""
    plugins = folder / "metaflow_extensions" / "acme" / "plugins"
    plugins.mkdir(parents=True)
    (folder / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (plugins / "mfextinit_acme.py").write_text(textwrap.dedent(MFEXTINIT))
    (plugins / "stamp.py").write_text(textwrap.dedent(STAMP))
    return folder


def build_wheel(source: Path, out: Path) -> Path:
    """A wheel of `source`, built as an installer does from a source tree: sdist, then the wheel
    from that sdist (so what the sdist leaves out is missing from the wheel too)."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "uv", "build", "-q", "--out-dir", str(out), str(source)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return next(out.glob("*.whl"))
