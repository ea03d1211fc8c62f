"""A loaded perimeter policy and the requests a run makes of it.

The run path describes what each step asks for as small request records, then asks the policy for every
violation at once (`Policy.violations`) so it can stop before launch with one message listing them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import PolicyViolation
from ..policy import check
from .patterns import ImagePattern, RepositoryPrefix


@dataclass(frozen=True)
class ImageRequest:
    """A step asks to run in `reference`; `source` says where the image came from, for messages.

    For example `"@kubernetes(image=...)"`, `"--with kubernetes:image=..."`, `"baked by fast-bakery"`
    or `"workstation image"`.
    """

    step: str
    reference: str
    source: str


@dataclass(frozen=True)
class OnTheFlyRequest:
    """A step asks to build its environment on the fly, e.g. `"@pypi(packages={'pandas': '2.2.3'})"`."""

    step: str
    decorator: str


@dataclass(frozen=True)
class BakeTargetRequest:
    """A step's baked image is to be pushed to `repository` (`registry/path`, tag optional)."""

    step: str
    repository: str


@dataclass(frozen=True)
class NamedEnvRequest:
    """A step asks to run in the named environment `name` (`@pypi(named_env=...)`)."""

    step: str
    name: str
    decorator: str


PolicyRequest = ImageRequest | OnTheFlyRequest | BakeTargetRequest | NamedEnvRequest
"""Anything a run can ask a policy about."""


@dataclass(frozen=True)
class Policy:
    """An admin's perimeter policy; a field left as None puts no constraint of that kind.

    `allowed_images` is `[images] allowed` (an empty tuple allows no image), `on_the_fly` is
    `[dependencies] on_the_fly`, `bake_registry` is `[bake] registry`; `path` is the file it came
    from, named in every message, and `origin` why that file is in force.
    """

    path: Path
    origin: str = "named explicitly"
    version: int = 1
    allowed_images: tuple[ImagePattern, ...] | None = None
    on_the_fly: bool | None = None
    bake_registry: RepositoryPrefix | None = None
    named_prefixes: tuple[str, ...] | None = None  # `[dependencies] named_prefixes`

    def check_image(self, reference: str, *, step: str, source: str) -> None:
        """Raise `PolicyViolation` unless `step` may run in image `reference`."""
        self._raise(check.image_violation(self, ImageRequest(step, reference, source)))

    def check_on_the_fly(self, *, step: str, decorator: str) -> None:
        """Raise `PolicyViolation` unless `step` may build an environment on the fly."""
        self._raise(check.on_the_fly_violation(self, OnTheFlyRequest(step, decorator)))

    def check_bake_target(self, repository: str, *, step: str) -> None:
        """Raise `PolicyViolation` unless `step`'s baked image may be pushed to `repository`."""
        self._raise(check.bake_target_violation(self, BakeTargetRequest(step, repository)))

    def violation(self, request: PolicyRequest) -> PolicyViolation | None:
        """The violation `request` commits, or None when the policy allows it."""
        if isinstance(request, ImageRequest):
            return check.image_violation(self, request)
        if isinstance(request, OnTheFlyRequest):
            return check.on_the_fly_violation(self, request)
        if isinstance(request, BakeTargetRequest):
            return check.bake_target_violation(self, request)
        if isinstance(request, NamedEnvRequest):
            return check.named_env_violation(self, request)
        raise TypeError(f"not a policy request: {request!r}")

    def violations(self, requests: Iterable[PolicyRequest]) -> list[PolicyViolation]:
        """Every violation among `requests`, in order (an empty list when all are allowed)."""
        found = (self.violation(request) for request in requests)
        return [violation for violation in found if violation is not None]

    def enforce(self, requests: Iterable[PolicyRequest]) -> None:
        """Raise one `PolicyViolation` listing every violation among `requests`, if there is any."""
        violations = self.violations(requests)
        if violations:
            raise check.combine(violations, self)

    @staticmethod
    def _raise(violation: PolicyViolation | None) -> None:
        if violation is not None:
            raise violation


@dataclass(frozen=True)
class Policies:
    """The policy files in force (the machine's first, see `load_policies`): a request is allowed
    only when every one of them allows it. Every refusal ends by naming each file and why it is in
    force. Empty (and false) when no policy is in force."""

    files: tuple[Policy, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.files)

    @property
    def forbids_on_the_fly(self) -> bool:
        """Whether a file in force says `[dependencies] on_the_fly = false`: then Bakery's
        environments install nothing at all (docs/policies.md)."""
        return any(policy.on_the_fly is False for policy in self.files)

    def describe(self) -> str:
        """One line naming each file in force and why, for messages and `bakery policy show`."""
        if not self.files:
            return "No perimeter policy is in force."
        each = "; ".join(f"{policy.path} ({policy.origin})" for policy in self.files)
        noun = "file" if len(self.files) == 1 else "files"
        return f"Policy {noun} in force: {each}."

    def check_image(self, reference: str, *, step: str, source: str) -> None:
        """Raise `PolicyViolation` unless every file lets `step` run in image `reference`."""
        self.enforce([ImageRequest(step, reference, source)])

    def check_on_the_fly(self, *, step: str, decorator: str) -> None:
        """Raise `PolicyViolation` unless every file lets `step` build an environment on the fly."""
        self.enforce([OnTheFlyRequest(step, decorator)])

    def check_bake_target(self, repository: str, *, step: str) -> None:
        """Raise `PolicyViolation` unless every file lets `step`'s image be pushed to `repository`."""
        self.enforce([BakeTargetRequest(step, repository)])

    def violations(self, requests: Iterable[PolicyRequest]) -> list[PolicyViolation]:
        """Every violation among `requests`, file by file for each request, in request order."""
        found = []
        for request in requests:
            found += [v for v in (p.violation(request) for p in self.files) if v is not None]
        return found

    def enforce(self, requests: Iterable[PolicyRequest]) -> None:
        """Raise one `PolicyViolation` listing every violation and naming the files in force."""
        violations = self.violations(requests)
        if not violations:
            return
        if len(violations) == 1:
            message, step = str(violations[0]), violations[0].step
        else:
            message, step = check.combine_all(violations), None
        raise PolicyViolation(f"{message}\n{self.describe()}", step=step)
