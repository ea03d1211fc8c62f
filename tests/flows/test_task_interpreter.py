"""The interpreter a remote task runs, without a container: the shell commands that isolate it
from the image's Python settings, and the venv laid over a baked image's environment, on this
machine's Python, against a fake image layout in tmp_path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from metaflow_extensions.bakery.plugins import task_interpreter

REPORT = (
    "import json, os, sys; mods = {}\n"
    "for name in ('locked', 'fromimage'):\n"
    "    try: mods[name] = __import__(name).WHERE\n"
    "    except ImportError: mods[name] = None\n"
    "print(json.dumps({'mods': mods, 'pth': os.environ.get('ENV_PTH'), 'path': sys.path,\n"
    "    'env': {k: os.environ.get(k) for k in ('PYTHONPATH', 'PYTHONHOME', 'PYTHONUSERBASE',\n"
    "    'PYTHONNOUSERSITE')}}))"
)


def fake_env(root: Path) -> Path:
    site = root / "lib" / ("python%d.%d" % sys.version_info[:2]) / "site-packages"
    site.mkdir(parents=True)
    (site / "locked.py").write_text("WHERE = 'env'\n")
    (site / "env.pth").write_text("import os; os.environ['ENV_PTH'] = 'ran'\n")
    return root


def make_link(folder: Path, env_root: Path) -> Path:
    module = "metaflow_extensions.bakery.plugins.task_interpreter"
    subprocess.run(
        [sys.executable, "-m", module, task_interpreter.ENV_LINK, str(env_root)],
        cwd=folder,
        check=True,
    )
    return folder / task_interpreter.ENV_LINK


def test_a_venv_over_a_baked_environment_sees_it_and_not_the_base_site_packages(tmp_path):
    link = make_link(tmp_path, fake_env(tmp_path / "opt-bakery-env"))
    image = tmp_path / "image-path"
    image.mkdir()
    (image / "fromimage.py").write_text("WHERE = 'image'\n")
    (image / "locked.py").write_text("WHERE = 'image'\n")

    done = subprocess.run(
        [str(link / "bin" / "python3"), "-c", REPORT],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(image)},
        check=True,
    )
    seen = json.loads(done.stdout)
    assert seen["pth"] == "ran"  # the environment's own .pth files run
    # the only site folder is the environment's: not this machine's (where Metaflow and pytest
    # are), whose interpreter the venv is laid over
    assert [p for p in seen["path"] if p.endswith("-packages")] == [
        str(link / "lib" / ("python%d.%d" % sys.version_info[:2]) / "site-packages")
    ]
    assert seen["mods"] == {"locked": "image", "fromimage": "image"}  # PYTHONPATH: see below
    assert (link / "pyvenv.cfg").read_text().count("include-system-site-packages = false") == 1


def test_the_isolation_commands_leave_the_code_package_and_the_environment(tmp_path):
    """PYTHONPATH of the image (shadowing the locked package), PYTHONHOME and PYTHONUSERBASE:
    after the commands, the task sees the locked package and the code package only."""
    link = make_link(tmp_path, fake_env(tmp_path / "opt-bakery-env"))
    image, code = tmp_path / "image-path", tmp_path / ".mf_code"
    for folder in (image, code):
        folder.mkdir()
    (image / "locked.py").write_text("WHERE = 'image'\n")
    (image / "fromimage.py").write_text("WHERE = 'image'\n")
    script = " && ".join(
        ["export BAKERY_CODE_PYTHONPATH=%s" % code]
        + task_interpreter.isolation_commands()
        + ['%s -c "$REPORT"' % task_interpreter.executable()]
    )
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": "%s:%s" % (code, image),
            "PYTHONHOME": sys.base_prefix,
            "PYTHONUSERBASE": str(image),
            "REPORT": REPORT,
        },
        check=True,
    )
    seen = json.loads(done.stdout)
    assert seen["mods"] == {"locked": "env", "fromimage": None}
    assert seen["env"] == {
        "PYTHONPATH": str(code),
        "PYTHONHOME": None,
        "PYTHONUSERBASE": None,
        "PYTHONNOUSERSITE": "1",
    }
    assert link.is_dir()


def test_an_environment_with_its_own_python_is_linked_as_it_is(tmp_path):
    """A baked conda environment brings its Python: the task runs it directly."""
    env_root = fake_env(tmp_path / "conda-env")
    (env_root / "bin").mkdir()
    (env_root / "bin" / "python3.11").write_text("")  # an interpreter of its own
    (env_root / "bin" / "python3").symlink_to("python3.11")
    link = make_link(tmp_path, env_root)
    assert link.is_symlink() and link.resolve() == env_root.resolve()


def test_python_links_to_the_base_interpreter_still_get_a_venv(tmp_path):
    """A baked PyPI environment's `bin/python3` links to the base's interpreter: not its own."""
    env_root = fake_env(tmp_path / "opt-bakery-env")
    (env_root / "bin").mkdir()
    (env_root / "bin" / "python3").symlink_to(sys.executable)
    link = make_link(tmp_path, env_root)
    assert not link.is_symlink() and (link / "pyvenv.cfg").is_file()


def test_the_baked_environment_root_is_where_images_hold_it():
    from bakery.image.wheel import ENV_ROOT

    assert task_interpreter.BAKED_ENV_ROOT == "/" + ENV_ROOT
