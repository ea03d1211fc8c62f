"""`bakery policy show` (which policy files are in force, and why) and `bakery policy export`
(the same files as a Kubernetes admission policy, enforced where users cannot reach it)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.markup import escape

from ..policy import Policies, Policy, load_policies, load_policy
from ..policy.admission import DEFAULT_NAME, FORMATS, admission_documents, to_yaml
from .console import make_console


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "policy", help="Show the perimeter policy in force, or export it for Kubernetes admission."
    )
    verbs = parser.add_subparsers(dest="policy_verb", metavar="VERB", required=True)

    show = verbs.add_parser("show", help="Which policy files are in force, why, and what they say.")
    show.add_argument("--json", action="store_true", help="print it as JSON")
    show.set_defaults(func=run_show)

    export = verbs.add_parser(
        "export",
        help="Write the policy's [images] rules as a ValidatingAdmissionPolicy or Kyverno policy.",
    )
    export.add_argument("--format", required=True, choices=FORMATS, help="what to write")
    export.add_argument(
        "--policy",
        type=Path,
        action="append",
        help="export this policy file (repeatable; all apply) instead of the files in force",
    )
    export.add_argument(
        "--name", default=DEFAULT_NAME, help="the policy's name in the cluster (%(default)s)"
    )
    export.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="enforce only in this namespace (repeatable; default: every namespace)",
    )
    export.add_argument(
        "--output", "-o", type=Path, help="write to this file instead of standard output"
    )
    export.set_defaults(func=run_export)


def run_show(args: argparse.Namespace) -> int:
    policies = load_policies()
    if args.json:
        print(json.dumps({"files": [_describe(p) for p in policies.files]}, indent=2))
        return 0
    console = make_console()
    console.print(escape(policies.describe()), highlight=False, soft_wrap=True)
    for policy in policies.files:
        console.print(f"[bold]{escape(str(policy.path))}[/]", highlight=False, soft_wrap=True)
        rules = _describe(policy)["rules"] or {"(no rules)": "nothing is constrained"}
        for key, value in rules.items():
            console.print(escape(f"  {key}: {json.dumps(value)}"), highlight=False, soft_wrap=True)
    return 0


def run_export(args: argparse.Namespace) -> int:
    if args.policy:
        policies = Policies(tuple(load_policy(path, origin="--policy") for path in args.policy))
    else:
        policies = load_policies()
    documents = admission_documents(
        policies, args.format, name=args.name, namespaces=args.namespace
    )
    text = to_yaml(documents)
    if args.output is None:
        print(text, end="")
    else:
        args.output.write_text(text, encoding="utf-8")
        make_console(stderr=True).print(
            f"wrote {args.output}: apply it with `kubectl apply -f {args.output}`",
            highlight=False,
            soft_wrap=True,
        )
    return 0


def _describe(policy: Policy) -> dict:
    rules: dict[str, object] = {}
    if policy.allowed_images is not None:
        rules["[images] allowed"] = [pattern.text for pattern in policy.allowed_images]
    if policy.on_the_fly is not None:
        rules["[dependencies] on_the_fly"] = policy.on_the_fly
    if policy.bake_registry is not None:
        rules["[bake] registry"] = str(policy.bake_registry)
    return {"path": str(policy.path), "origin": policy.origin, "rules": rules}
