"""A new environment's bytecode is compiled in the order its task imports it, then the rest;
Python accepts every `.pyc` written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bakery.envs import import_compile
from bakery.envs.import_compile import compile_in_import_order, top_level_modules

MODULES = {
    "alpha/__init__.py": "from . import core\nfrom .util import helper\nimport beta.sub\n",
    "alpha/core.py": "import gamma\n\ndef later():\n    import delta\n",
    "alpha/util.py": "helper = 1\n",
    "alpha/unused.py": "x = 1\n",
    "alpha/tests/test_alpha.py": "import alpha\n",
    "beta/__init__.py": "",
    "beta/sub.py": "y = 2\n",
    "gamma.py": "try:\n    import json\nexcept ImportError:\n    pass\n",
    "delta.py": "z = 3\n",
}


def site_packages(root: Path) -> Path:
    site = root / "site-packages"
    for path, source in MODULES.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_text(source)
    dist_info = site / "alpha-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "RECORD").write_text(
        "alpha/__init__.py,,\nalpha/core.py,,\nalpha-1.0.dist-info/RECORD,,\n../../bin/alpha,,\n"
    )
    (site / "gamma-2.0.dist-info").mkdir()
    (site / "gamma-2.0.dist-info" / "top_level.txt").write_text("gamma\n")
    return site


def compiled(site: Path) -> set[str]:
    return {
        str(pyc.parent.parent.relative_to(site) / pyc.name.split(".")[0])
        for pyc in site.rglob("__pycache__/*.pyc")
    }


def test_import_names_come_from_top_level_txt_else_the_record(tmp_path):
    site = site_packages(tmp_path)
    assert top_level_modules(str(site), ["Alpha", "gamma", "absent"]) == ["alpha", "gamma"]


def test_first_pass_compiles_what_importing_the_package_compiles(tmp_path):
    site = site_packages(tmp_path)
    compile_in_import_order(str(site), ["alpha"], workers=2)
    # module-level imports, relative ones resolved; not a function's import, nor tests
    assert compiled(site) == {"alpha/__init__", "alpha/core", "alpha/util", "beta/__init__"} | {
        "beta/sub",
        "gamma",
    }


def test_then_everything_is_compiled_but_tests_and_python_uses_it(tmp_path):
    site = site_packages(tmp_path)
    script = import_compile.__file__
    subprocess.run([sys.executable, "-I", "-B", script, str(site), "alpha"], check=True)
    assert compiled(site) == {
        "alpha/__init__",
        "alpha/core",
        "alpha/util",
        "alpha/unused",
        "beta/__init__",
        "beta/sub",
        "gamma",
        "delta",
    }
    verbose = subprocess.run(
        [sys.executable, "-v", "-c", "import alpha, alpha.core; alpha.core.later()"],
        env={"PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    for module in ("alpha/__init__", "alpha/core", "gamma", "delta"):
        assert f"code object from '{site}/{module.rsplit('/', 1)[0]}/__pycache__" in verbose or (
            f"code object from '{site}/__pycache__/{module}" in verbose
        ), module
    assert "bytecode is stale" not in verbose


def test_a_valid_pyc_is_read_not_compiled_again(tmp_path):
    site = site_packages(tmp_path)
    compile_in_import_order(str(site), ["alpha"], workers=1)
    pyc = next((site / "alpha" / "__pycache__").glob("__init__.*.pyc"))
    before = pyc.stat().st_mtime_ns
    compile_in_import_order(str(site), ["alpha"], workers=1)
    assert pyc.stat().st_mtime_ns == before and "gamma" in compiled(site)


def test_what_a_step_function_imports_is_read_in_order_nested_functions_included():
    from bakery.envs.import_compile import code_imports

    def step():
        import delta
        from alpha import util  # noqa: F401

        def helper():
            import beta.sub  # noqa: F401

        return delta, helper

    assert code_imports(step.__code__) == ["delta", "alpha", "alpha.util", "beta", "beta.sub"]
    assert code_imports(step.__code__, nested=False) == ["delta", "alpha", "alpha.util"]


def test_the_modules_named_come_first_then_the_distributions_modules(tmp_path, monkeypatch):
    site = site_packages(tmp_path)
    order = []
    real = import_compile.compile_module

    def recording(path, module, is_package):
        order.append(module)
        return real(path, module, is_package)

    monkeypatch.setattr(import_compile, "compile_module", recording)
    monkeypatch.setattr(import_compile.compileall, "compile_dir", lambda *a, **k: None)
    monkeypatch.setattr(import_compile, "ProcessPoolExecutor", _InlinePool)
    monkeypatch.setattr(sys, "argv", ["x", str(site), "--modules", "delta,beta.sub", "alpha"])
    import_compile.main()
    assert order[:3] == ["delta", "beta.sub", "alpha"]


class _InlinePool:
    """A ProcessPoolExecutor stand-in running each call at once, in this process."""

    def __init__(self, workers):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, fn, *args):
        from concurrent.futures import Future

        future = Future()
        future.set_result(fn(*args))
        return future
