"""`bakery env get Flow/run_id/step`: the environment a past task ran in, made again here.

From the run's lockfile (in its code package, or `--lock`) and the package snapshot in the
datastore: no package index is contacted. Prints the interpreter's path. `--image` pulls the
image the task ran in instead (podman or docker) and prints its name.
"""

from __future__ import annotations

import argparse
import json

from ..errors import BakeryError
from .console import make_console
from .envcall import call_env


def add_parser(verbs: argparse._SubParsersAction) -> None:
    get = verbs.add_parser(
        "get", help="Recreate here the environment a past step ran in; print its Python."
    )
    get.add_argument("pathspec", help="Flow/run_id/step")
    get.add_argument("--image", action="store_true", help="pull the image it ran in instead")
    get.add_argument(
        "--lock", help="the run's lockfile (runs on a local datastore keep no code package)"
    )
    get.add_argument("--datastore", help="Metaflow datastore type (default: Metaflow's default)")
    get.add_argument("--json", action="store_true", help="print what was found as JSON")
    get.set_defaults(func=run_get)


def run_get(args: argparse.Namespace) -> int:
    verb = ["get", args.pathspec, *(["--lock", args.lock] if args.lock else [])]
    if args.image:
        verb.append("--image-only")
    console = make_console(stderr=True)
    with console.status(f"Reading {args.pathspec}...", spinner="dots"):
        answer = call_env(*verb, datastore=args.datastore)
    if args.image:
        return _pull(answer, args.json)
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print(answer["python"])
        console.print(
            f"environment {answer['env_id'][:12]} of {answer['task']} at {answer['path']}",
            highlight=False,
        )
    return 0


def _pull(answer: dict, as_json: bool) -> int:
    image = answer.get("image")
    if not image:
        raise BakeryError(
            f"{answer['task']} ran without an image (on the machine that launched it): "
            "run `bakery env get` without --image to recreate its environment here"
        )
    from ..container.pull import pull

    name = pull(image)
    if as_json:
        print(json.dumps({**answer, "pulled": name}, indent=2))
    else:
        print(name)
    return 0
