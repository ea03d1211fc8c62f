"""What each task of a finished run ran with, read through Metaflow's Client API.

`python -m metaflow_extensions.bakery.plugins.verify Flow/run` prints one line of JSON: the
lockfile found in the run's code package, and for every task its step, the environment id it
recorded (`bakery_env_id`) and the image it ran in (`container-image`, when it ran in a
container). `bakery verify` (the core CLI) compares them; this side only reads.
"""

from __future__ import annotations

import json
import sys


def read_run(pathspec: str) -> dict:
    from metaflow import Run, namespace

    namespace(None)
    run = Run(pathspec)
    lock_name, lock_text = _lock_in_code_package(run)
    tasks = []
    for step in run:
        for task in step:
            meta = task.metadata_dict
            tasks.append(
                {
                    "step": step.id,
                    "task": task.pathspec,
                    "env_id": meta.get("bakery_env_id"),
                    "image": meta.get("container-image"),
                    "successful": bool(task.successful),
                }
            )
    return {
        "run": run.pathspec,
        "finished": bool(run.finished),
        "code_package": run.code is not None,
        "lockfile": lock_name,
        "lock": json.loads(lock_text) if lock_text else None,
        "tasks": sorted(tasks, key=lambda t: t["task"]),
    }


def _lock_in_code_package(run):
    """(name, text) of the `*.bakery.lock` the run's code package holds, or (None, None)."""
    code = run.code
    if code is None:
        return None, None
    tarball = code.tarball
    for member in tarball.getmembers():
        if member.isfile() and member.name.endswith(".bakery.lock"):
            return member.name, tarball.extractfile(member).read().decode()
    return None, None


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(
            "usage: python -m metaflow_extensions.bakery.plugins.verify Flow/run", file=sys.stderr
        )
        return 2
    try:
        print(json.dumps(read_run(argv[0])))
    except Exception as e:  # noqa: BLE001 - the caller shows one line for any failure
        print("cannot read run %s: %s" % (argv[0], e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
