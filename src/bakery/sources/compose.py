"""Which sources make a step's environment: the decorators' file attributes, merged.

The attributes (see `bakery.sources.ATTRIBUTES`) merge step over flow, the way Metaflow merges
`python=`: a step's value replaces its `_base` decorator's. `packages=` still merges by name.
`lockfile=` and `named_env=` name a *whole* environment:

- where the step names one, the flow's packages and files do not apply to it;
- where the flow names one, a step inherits it unless it names a source of its own
  (`requirements=`, `pyproject=`, `environment=`, `lockfile=`, `named_env=`);
- a whole environment cannot take packages or files besides it (at the same level, or from
  the other decorator): one error names both, and says what to do.

Pure: it looks only at the attributes, never at the files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import SpecError

WHOLE = ("lockfile", "named_env")
UNPINNED = {"pypi": ("requirements", "pyproject"), "conda": ("environment",)}
ATTRIBUTES = {
    "pypi": ("requirements", "pyproject", "lockfile", "named_env", "groups"),
    "conda": ("environment", "lockfile", "named_env", "groups"),
}


@dataclass(frozen=True)
class Named:
    """An attribute as written and the decorator it was written on, e.g. `@pypi_base`."""

    kind: str  # pypi or conda
    attribute: str
    value: object
    decorator: str

    def __str__(self) -> str:
        return f"@{self.decorator}({self.attribute}={self.value!r})"


@dataclass
class SourcePlan:
    """The sources of one step's environment."""

    whole: Named | None = None  # lockfile= or named_env=
    files: list[Named] = field(default_factory=list)  # requirements=, pyproject=, environment=
    groups: tuple[str, ...] = ()
    groups_from: Named | None = None
    flow_packages: bool = True  # whether the _base decorators' packages= still apply

    @property
    def is_empty(self) -> bool:
        return self.whole is None and not self.files


def plan_sources(levels: Mapping[str, tuple[Mapping | None, Mapping | None]]) -> SourcePlan:
    """`levels[kind] = (flow attributes, step attributes)` for kind in pypi, conda (None where
    the decorator is absent) -> the step's SourcePlan, or one SpecError for a conflict."""
    step = _level(levels, 1)
    flow = _level(levels, 0)
    plan = SourcePlan()
    step_whole = [n for n in step if n.attribute in WHOLE]
    flow_whole = [n for n in flow if n.attribute in WHOLE]
    step_sources = [n for n in step if n.attribute != "groups"]
    if step_whole:
        chosen = _one_whole(step_whole)
        _refuse_besides(chosen, [n for n in step_sources if n is not chosen], levels, 1)
        plan.whole, plan.flow_packages = chosen, False
    elif flow_whole and not step_sources:
        chosen = _one_whole(flow_whole)
        flow_sources = [n for n in flow if n.attribute != "groups" and n is not chosen]
        _refuse_besides(chosen, flow_sources, levels, 0)
        _refuse_besides(chosen, [], levels, 1)  # the step's packages=
        plan.whole = chosen
    else:
        by_attribute = {(n.kind, n.attribute): n for n in flow if n.attribute not in WHOLE}
        by_attribute.update({(n.kind, n.attribute): n for n in step})
        plan.files = [n for n in by_attribute.values() if n.attribute not in ("groups", *WHOLE)]
    groups = [n for n in (*step, *flow) if n.attribute == "groups"]
    if groups:
        plan.groups_from = groups[0]
        plan.groups = tuple(groups[0].value)
        _check_groups(plan)
    return plan


def _level(levels: Mapping, index: int) -> list[Named]:
    found = []
    for kind, pair in levels.items():
        attributes = pair[index] or {}
        decorator = kind + ("_base" if index == 0 else "")
        for attribute in ATTRIBUTES[kind]:
            value = attributes.get(attribute)
            if value not in (None, "", [], ()):
                found.append(Named(kind, attribute, value, decorator))
    return found


def _one_whole(candidates: list[Named]) -> Named:
    if len(candidates) > 1:
        raise SpecError(
            f"{' and '.join(str(n) for n in candidates)} each name a whole environment: "
            "keep one of them"
        )
    return candidates[0]


def _refuse_besides(whole: Named, others: list[Named], levels: Mapping, index: int) -> None:
    """One SpecError if anything besides a whole environment asks for packages."""
    for kind, pair in levels.items():
        attributes = pair[index] or {}
        if attributes.get("packages") or attributes.get("libraries"):
            decorator = kind + ("_base" if index == 0 else "")
            others = [
                *others,
                Named(
                    kind,
                    "packages",
                    dict(attributes.get("packages") or attributes.get("libraries")),
                    decorator,
                ),
            ]
    if not others:
        return
    what = ", ".join(str(n) for n in others)
    how = (
        "add those packages to the lockfile (e.g. `uv add NAME` for a uv.lock) and drop "
        f"{others[0].attribute}="
        if whole.attribute == "lockfile"
        else "publish a named environment that has them, or drop named_env="
    )
    raise SpecError(
        f"{whole} is a whole environment, pinned as it is, so {what} cannot be added to it: {how}"
    )


def _check_groups(plan: SourcePlan) -> None:
    named = plan.groups_from
    value = named.value if named else ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(g, str) for g in value):
        raise SpecError(f"{named}: groups is a list of names, e.g. groups=['train']")
    takes_groups = [
        n for n in (plan.whole, *plan.files) if n and n.attribute in ("pyproject", "lockfile")
    ]
    if not takes_groups:
        raise SpecError(
            f"{named}: groups= selects extras or dependency groups of a pyproject= or "
            "lockfile= (or the pixi environment of a pixi.lock); name one of them too"
        )
