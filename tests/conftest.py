"""Shared pytest configuration: fixture modules live in tests/fixtures/, one per real service.

The suite is hermetic: it never sees the caller's Bakery or Metaflow settings, profile, Bakery
cache or the machine's admin policy (`/etc/bakery/policy.toml`), and its output checks do not
depend on the terminal's width. Tests that need a setting set it themselves.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.fixtures.registry",
    "tests.fixtures.pretend_registry",
    "tests.fixtures.conda_channel",
    "tests.fixtures.flows",
    "tests.fixtures.private_index",
    "tests.fixtures.s3",
]

# what a caller's shell may set that would change what Bakery or Metaflow do
_CALLER_PREFIXES = ("METAFLOW_", "BAKERY_")
_CALLER_NAMES = ("CONDA_CHANNELS", "COLUMNS", "LINES", "FORCE_COLOR", "VIRTUAL_ENV")
MACHINE_POLICY_HOOK = Path(__file__).parent / "fixtures" / "machine_policy"
_ROOT = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    for name in list(os.environ):
        if name.startswith(_CALLER_PREFIXES) or name in _CALLER_NAMES:
            del os.environ[name]
    root = Path(tempfile.mkdtemp(prefix="bakery-tests-"))
    config.stash[_ROOT] = root
    (root / "metaflow-home").mkdir()
    # not the machine's /etc/bakery/policy.toml: here and in every subprocess (through
    # tests/fixtures/machine_policy/sitecustomize.py) the machine's file is one that is absent
    machine_policy = root / "machine-policy.toml"
    import bakery.policy.load

    bakery.policy.load.MACHINE_POLICY_PATH = machine_policy
    _hook_every_process_of_this_interpreter()
    python_path = [str(MACHINE_POLICY_HOOK), *filter(None, [os.environ.get("PYTHONPATH")])]
    os.environ.update(
        {
            "METAFLOW_HOME": str(root / "metaflow-home"),  # no profile of the caller's
            "BAKERY_TESTS_MACHINE_POLICY": str(machine_policy),
            "PYTHONPATH": os.pathsep.join(python_path),
            "BAKERY_CACHE_DIR": str(root / "cache"),  # not the caller's cache
        }
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    """The session's Metaflow home, Bakery cache and policy file go with it (sealed
    environments in the cache are read-only: made writable to be removed)."""
    root = config.stash.get(_ROOT, None)
    if root is not None:
        shutil.rmtree(root, onerror=_writable_then_retry)


def _writable_then_retry(function, path: str, _error) -> None:
    try:
        os.chmod(os.path.dirname(path), stat.S_IRWXU)
        if not os.path.islink(path) and os.path.isdir(path):
            os.chmod(path, stat.S_IRWXU)
        function(path)
    except OSError:
        pass  # a background bytecode pass still writing: what is left is in the temp folder


def _hook_every_process_of_this_interpreter() -> None:
    """Tasks run with PYTHONPATH set to their code package alone, so the hook on PYTHONPATH does
    not reach them; the host side of a `--with container` task (this interpreter) still reads
    the machine's policy. A `.pth` file in this interpreter's site-packages runs the hook in
    every process of it where the suite set BAKERY_TESTS_MACHINE_POLICY (nowhere else)."""
    import sysconfig

    hook = MACHINE_POLICY_HOOK / "sitecustomize.py"
    line = (
        "import os; exec(open(os.environ['BAKERY_TESTS_POLICY_HOOK']).read(), {'__name__': 'hook'}) "
        "if os.environ.get('BAKERY_TESTS_MACHINE_POLICY') "
        "and os.path.isfile(os.environ.get('BAKERY_TESTS_POLICY_HOOK', '')) else None\n"
    )
    os.environ["BAKERY_TESTS_POLICY_HOOK"] = str(hook)
    pth = Path(sysconfig.get_paths()["purelib"]) / "bakery_tests_machine_policy.pth"
    if not pth.is_file() or pth.read_text() != line:
        pth.write_text(line)


@pytest.fixture(autouse=True)
def _settings_read_per_test():
    """Each test's in-process Bakery reads the settings its own environment holds."""
    from bakery.settings import use

    use(None)
    yield
    use(None)
