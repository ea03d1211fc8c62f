"""The rules themselves: each takes a policy and one request and returns the violation, or None.

Pure functions: no I/O, no Metaflow. Every message names the step, what it asked for and where that came
from, the rule and the policy file, and says what to do next.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import ImageReferenceError, PolicyViolation
from ..registry.reference import ImageReference
from .patterns import ImagePattern

if TYPE_CHECKING:
    from .model import BakeTargetRequest, ImageRequest, NamedEnvRequest, OnTheFlyRequest, Policy


def image_violation(policy: Policy, request: ImageRequest) -> PolicyViolation | None:
    """The violation if `[images] allowed` forbids `request.reference`, else None."""
    patterns = policy.allowed_images
    if patterns is None:
        return None
    what = f"image {request.reference!r} (from {request.source})"
    try:
        reference = ImageReference.parse(request.reference)
    except ImageReferenceError as error:
        return _violation(
            request.step,
            f"{what} is not a valid image reference, so the perimeter policy "
            f"{policy.path} cannot allow it: {error}. Fix the image reference.",
        )
    if any(pattern.matches(reference) for pattern in patterns):
        return None
    untagged = reference.tag is None and reference.digest is None
    normalized = str(reference.with_tag("latest") if untagged else reference)
    if normalized != request.reference.strip():
        what = f"image {request.reference!r} ({normalized}, from {request.source})"
    rule = f"[images] allowed = {[pattern.text for pattern in patterns]!r}"
    return _violation(
        request.step,
        f"{what} is not allowed by the perimeter policy {policy.path} ({rule})."
        f"{_near_miss_hint(reference, patterns)} Use an image the policy allows, or ask the "
        f"administrator who owns {policy.path} to allow this one.",
    )


def on_the_fly_violation(policy: Policy, request: OnTheFlyRequest) -> PolicyViolation | None:
    """The violation if `[dependencies] on_the_fly = false` forbids `request.decorator`, else None."""
    if policy.on_the_fly is not False:
        return None
    named = (
        f" or on a named environment under {', '.join(policy.named_prefixes)} "
        "(`@pypi(named_env=...)`)"
        if policy.named_prefixes
        else ""
    )
    return _violation(
        request.step,
        f"{request.decorator} builds an environment on the fly, which the perimeter policy "
        f"{policy.path} forbids ([dependencies] on_the_fly = false). Run the step in an image the "
        f"policy allows that already holds its packages{named}, or ask the administrator who owns "
        f"{policy.path} to allow on-the-fly environments.",
    )


def named_env_violation(policy: Policy, request: NamedEnvRequest) -> PolicyViolation | None:
    """The violation if `[dependencies] named_prefixes` does not cover `request.name`, else None."""
    prefixes = policy.named_prefixes
    if prefixes is None or any(_under(request.name, prefix) for prefix in prefixes):
        return None
    return _violation(
        request.step,
        f"{request.decorator} uses the named environment '{request.name}', outside the prefixes "
        f"the perimeter policy {policy.path} allows ([dependencies] named_prefixes = "
        f"{list(prefixes)!r}). Use a named environment under one of them (`bakery env ls` lists "
        f"them), or ask the administrator who owns {policy.path} to add its prefix.",
    )


def _under(name: str, prefix: str) -> bool:
    """`team/torch` is under `team/` and `team`, not under `tea`."""
    prefix = prefix.rstrip("/")
    return name == prefix or name.startswith(prefix + "/")


def bake_target_violation(policy: Policy, request: BakeTargetRequest) -> PolicyViolation | None:
    """The violation if `request.repository` is not at or under `[bake] registry`, else None."""
    prefix = policy.bake_registry
    if prefix is None:
        return None
    rule = f"[bake] registry = {str(prefix)!r}"
    try:
        reference = ImageReference.parse(request.repository)
    except ImageReferenceError as error:
        return _violation(
            request.step,
            f"baked images would be pushed to {request.repository!r}, which is not a valid "
            f"repository, so the perimeter policy {policy.path} ({rule}) cannot allow it: {error}. "
            f"Push baked images to {prefix} or a repository under it.",
        )
    if prefix.contains(reference):
        return None
    return _violation(
        request.step,
        f"baked images would be pushed to {_as_written(reference.name, request.repository)}, outside "
        f"{prefix}, where the perimeter policy {policy.path} requires them ({rule}). Push baked "
        f"images to {prefix} or a repository under it, or ask the administrator who owns "
        f"{policy.path} to change [bake] registry.",
    )


def combine(violations: Sequence[PolicyViolation], policy: Policy) -> PolicyViolation:
    """One violation listing all of `violations` (returned unchanged when there is only one)."""
    if len(violations) == 1:
        return violations[0]
    lines = "\n".join(f"  - {violation}" for violation in violations)
    return PolicyViolation(
        f"the perimeter policy {policy.path} forbids {len(violations)} things this run asks for; "
        f"the run cannot start until each is fixed:\n{lines}"
    )


def combine_all(violations: Sequence[PolicyViolation]) -> str:
    """The message listing several violations, which may come from several policy files."""
    lines = "\n".join(f"  - {violation}" for violation in violations)
    return (
        f"the perimeter policy forbids {len(violations)} things this run asks for; "
        f"the run cannot start until each is fixed:\n{lines}"
    )


def _violation(step: str, message: str) -> PolicyViolation:
    # a request made outside any step (e.g. `bakery bake --registry`) has no step to name
    prefix = f"step '{step}': " if step else ""
    return PolicyViolation(prefix + message, step=step or None)


def _near_miss_hint(reference: ImageReference, patterns: Sequence[ImagePattern]) -> str:
    same_repository = [pattern for pattern in patterns if pattern.matches_repository(reference)]
    if not same_repository:
        return ""
    allowed = ", ".join(repr(pattern.text) for pattern in same_repository)
    if reference.digest is not None:
        return (
            f" It is pinned by digest, and the patterns naming its repository ({allowed}) allow "
            f"only certain tags or other digests: a digest is allowed by a pattern whose tag is "
            f"'*' or omitted, or by that exact digest ('{reference.name}@{reference.digest}')."
        )
    return (
        f" Its repository is allowed only as {allowed}; tag {reference.tag or 'latest'!r} is not."
    )


def _as_written(normalized: str, written: str) -> str:
    written = written.strip()
    return normalized if normalized == written else f"{normalized} ({written!r})"
