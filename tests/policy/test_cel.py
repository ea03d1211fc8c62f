"""The CEL expression `bakery policy export` writes gives `bakery.policy`'s verdict on every image
string: judged by Google's CEL implementation (cel-cpp with RE2), compared one by one."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from bakery.policy import ImageRequest, Policy, parse_policy
from bakery.policy.cel import PYTHON_WHITESPACE, allowed_expression

from .admission_eval import evaluate
from .texts import ADMISSION_EXAMPLE, DIGEST_A, DIGEST_C, REFERENCES, images_policy


def python_allows(policies: Sequence[Policy], reference: str) -> bool:
    request = ImageRequest("step", reference, "test")
    return all(policy.violation(request) is None for policy in policies)


def cel_allows(policies: Sequence[Policy], reference: str) -> bool:
    expression = allowed_expression([p.allowed_images for p in policies], "image")
    return evaluate(expression, image=reference)


def policy(text: str, name: str = "policy.toml") -> Policy:
    return parse_policy(text, path=Path(name))


def test_the_whitespace_is_what_str_strip_removes() -> None:
    spaces = {c for a, b in PYTHON_WHITESPACE for c in range(a, b + 1)}
    assert spaces == {c for c in range(sys.maxunicode + 1) if chr(c).isspace()}


def test_every_reference_gets_the_verdict_of_bakery_policy() -> None:
    example = [policy(ADMISSION_EXAMPLE)]
    verdicts = {reference: python_allows(example, reference) for reference in REFERENCES}
    assert len(REFERENCES) >= 40 and 15 <= sum(verdicts.values()) <= len(REFERENCES) - 15
    wrong = {r: v for r, v in verdicts.items() if cel_allows(example, r) != v}
    assert wrong == {}, f"CEL disagrees with bakery.policy (which said these) on {wrong}"


@pytest.mark.parametrize(
    ("reference", "allowed"),
    [
        ("python:3.11-slim", True),
        ("index.docker.io/library/python:3.11-slim", True),
        ("Docker.io/python:3.11-slim", False),  # another case: no library/, as parse() does
        ("python:3.11-slim@" + DIGEST_A, False),  # a tag pattern allows no digest
        ("ghcr.io/acme/base:v1@sha256:" + DIGEST_C, True),  # the pinned digest, any tag
        ("REGISTRY.EXAMPLE.COM/ml/app", True),
        ("registry.example.com:443/ml/app", False),
        ("registry.example.com/ml/../evil/app", False),
        ("\u00a0python:3.11-slim", True),  # str.strip() removes it
        ("\u200bpython:3.11-slim", False),  # not whitespace to Python
    ],
)
def test_some_verdicts_spelled_out(reference: str, allowed: bool) -> None:
    example = [policy(ADMISSION_EXAMPLE)]
    assert python_allows(example, reference) is allowed
    assert cel_allows(example, reference) is allowed


def test_every_file_in_force_must_allow_the_image() -> None:
    machine = policy(images_policy("python:*", "registry.example.com/ml/*"), "machine.toml")
    mine = policy(images_policy("python:3.12-*", "*.example.com/*"), "mine.toml")
    for reference in ["python:3.12-slim", "python:3.11", "registry.example.com/ml/a", "ubuntu"]:
        expected = python_allows([machine, mine], reference)
        assert cel_allows([machine, mine], reference) is expected, reference
    assert cel_allows([machine, mine], "python:3.12-slim")
    assert not cel_allows([machine, mine], "python:3.11")


def test_an_empty_allowed_list_allows_nothing() -> None:
    nothing = [policy(images_policy())]
    assert not any(cel_allows(nothing, r) for r in ["python", "registry.example.com/ml/a"])


def _random_reference(rng: random.Random, parts: Callable[[str], list[str]]) -> str:
    return "".join(rng.choice(parts(kind)) for kind in ("space", "host", "repo", "tag", "digest"))


_PARTS = {
    "space": ["", "", "", " ", "\t", "\n", "\u00a0", "\u2003", "\u200b", "\x1c"],
    "host": [
        *[""] * 4,
        *["registry.example.com/", "REGISTRY.example.COM/", "registry.example.com:443/"],
        *["docker.io/", "Docker.io/", "index.docker.io/", "registry-1.docker.io/"],
        *["localhost/", "localhost:5000/", "LOCALHOST/", "127.0.0.1:5000/", "[::1]:5000/"],
        *["x.corp.io/", "corp.io/", "ghcr.io/", "a_b.c/", "-a.b/", "evil.com/"],
    ],
    "repo": [
        *["python", "library/python", "ml/app", "ml/a/b", "team/app", "x/y", "acme/base", "a"],
        *["busybox", "library/busybox", "ML/app", "ml/../x", "ml//x", "a__b", "a___b", "a--b"],
        *["a.b", "a._b", "localhost", "sha256", ""],
    ],
    "tag": [
        *["", "", ":3.11-slim", ":3.12-x", ":latest", ":v1", ":v10", ":abc", ":", ":-x"],
        *[":.x", ":\u00e9", ":" + "t" * 128, ":" + "t" * 129],
    ],
    "digest": [
        *["", "", "", "@" + DIGEST_A, "@sha256:" + DIGEST_C, "@sha256:" + "A" * 64],
        *["@sha512:" + "f" * 128, "@md5:" + "a" * 32, "@sha256:" + "a" * 63, "@x+y:" + "Z" * 32],
        "@@" + DIGEST_A,
    ],
}


@pytest.mark.parametrize(
    "text",
    [ADMISSION_EXAMPLE, images_policy("*/*:v?", "*", "*.example.com/*", "docker.io/*/*:*")],
)
def test_random_references_get_the_verdict_of_bakery_policy(text: str) -> None:
    example = [policy(text)]
    rng = random.Random(13)
    references = {_random_reference(rng, _PARTS.__getitem__) for _ in range(1500)}
    verdicts = {reference: python_allows(example, reference) for reference in references}
    assert sum(verdicts.values()) >= 25 and len(verdicts) - sum(verdicts.values()) >= 25
    wrong = {r: v for r, v in verdicts.items() if cel_allows(example, r) != v}
    assert wrong == {}, f"CEL disagrees with bakery.policy (which said these) on {wrong}"
