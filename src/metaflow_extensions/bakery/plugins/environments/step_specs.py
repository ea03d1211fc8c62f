"""Reading a step's `@pypi` / `@conda` (and `_base`) decorators into a Bakery EnvSpec.

The merge follows core Metaflow: step-level packages override flow-level ones, step-level
`python=` wins over the flow's, `disabled=True` at either level (step first) turns the
environment off, and `libraries=` is the older alias of `packages=`.
"""

from __future__ import annotations

ENVIRONMENT_DECORATORS = ("pypi", "conda")


def check_decorators(flow) -> None:
    """One SpecError naming every @pypi / @conda (and `_base`) written in the flow whose
    attributes are malformed (e.g. `packages="numpy"`), before Metaflow or we read them."""
    from bakery.errors import SpecError
    from bakery.spec import decorator_problems

    from ..compat import flow_decorators, steps_in_order, written_attributes, written_in_flow

    lines = []
    for name in (f"{d}_base" for d in ENVIRONMENT_DECORATORS):
        for decorator in flow_decorators(flow, name):
            for problem in decorator_problems(name, written_attributes(decorator)):
                lines.append(f"flow {flow.name}: {problem}")
    for step in steps_in_order(flow):
        for decorator in step.decorators:
            # those added by --with or passed on by a launcher went through Metaflow's decospec
            # parser, which turns values into strings and numbers of its own accord
            if decorator.name in ENVIRONMENT_DECORATORS and written_in_flow(decorator):
                for problem in decorator_problems(decorator.name, written_attributes(decorator)):
                    lines.append(f"step '{step.name}': {problem}")
    if lines:
        raise SpecError("\n".join(lines))


def _user_attributes(decorator) -> dict:
    """The decorator's attributes, without a `python` that Metaflow filled in by itself.

    Core's @conda sets python to the running interpreter's full version when the user gave none;
    Bakery's default is the minor version instead, so that a shared lockfile is not tied to one
    patch release.
    """
    from ..compat import user_defined

    attributes = dict(decorator.attributes)
    if not user_defined(decorator, "python"):
        attributes["python"] = None
    return attributes


def _attributes(decorators, name: str) -> dict | None:
    for decorator in decorators:
        if decorator.name == name:
            return _user_attributes(decorator)
    return None


def _flow_attributes(flow, name: str) -> dict | None:
    from ..compat import flow_decorators

    found = flow_decorators(flow, name)
    return _user_attributes(found[0]) if found else None


def _merge(flow_attrs: dict | None, step_attrs: dict | None, name: str) -> dict | None:
    """The step's `@name` merged over the flow's `@name_base`."""
    if flow_attrs is None and step_attrs is None:
        return None
    flow_attrs, step_attrs = flow_attrs or {}, step_attrs or {}

    def packages(attrs: dict, decorator: str) -> dict:
        # decorators added by --with are not checked up front (see check_decorators)
        if not all(isinstance(attrs.get(k) or {}, dict) for k in ("libraries", "packages")):
            from bakery.errors import SpecError
            from bakery.spec import decorator_problems

            shapes = {k: attrs.get(k) for k in ("libraries", "packages")}
            raise SpecError("; ".join(decorator_problems(decorator, shapes)))
        return {**(attrs.get("libraries") or {}), **(attrs.get("packages") or {})}

    python = step_attrs.get("python") or flow_attrs.get("python")
    disabled = step_attrs.get("disabled")
    if disabled is None:
        disabled = flow_attrs.get("disabled")
    return {
        "packages": {**packages(flow_attrs, f"{name}_base"), **packages(step_attrs, name)},
        "python": python,
        # where python= was written, for messages (core's step_init copies the flow's into
        # the step's decorator, so an equal value is the flow's)
        "python_from": f"{name}_base" if python and python == flow_attrs.get("python") else name,
        "channels": [*(flow_attrs.get("channels") or []), *(step_attrs.get("channels") or [])],
        "disabled": str(disabled).lower() == "true",
    }


def step_decorator_request(flow, step) -> dict | None:
    """{'pypi': attrs|None, 'conda': attrs|None}, or None when the step's environment is disabled."""
    pypi = _merge(_flow_attributes(flow, "pypi_base"), _attributes(step.decorators, "pypi"), "pypi")
    conda = _merge(
        _flow_attributes(flow, "conda_base"), _attributes(step.decorators, "conda"), "conda"
    )
    for request in (pypi, conda):
        if request and request["disabled"]:
            return None
    return {"pypi": pypi, "conda": conda}


def is_disabled(flow, step) -> bool:
    return step_decorator_request(flow, step) is None


def build_spec(flow, step, pinned: dict, platform=None):
    """The EnvSpec for `step`, or None when disabled. Imports the core lazily (runtime only).

    A SpecError does not name the step: the caller does, naming together steps that fail alike.
    """
    from bakery.resolve.python import refuse_python2
    from bakery.spec import (
        EnvSpec,
        TargetPlatform,
        conda_requirements,
        normalize_python,
        pypi_requirements,
    )

    request = step_decorator_request(flow, step)
    if request is None:
        return None
    pypi, conda = request["pypi"] or {}, request["conda"] or {}
    asked = pypi if pypi.get("python") else conda
    python = normalize_python(asked.get("python"))
    if asked.get("python"):
        refuse_python2(python, decorator=asked["python_from"])
    channels = [*_default_channels(), *conda.get("channels", [])]
    return EnvSpec(
        python=python,
        pypi=pypi_requirements({**pinned, **pypi.get("packages", {})}),
        conda=conda_requirements(conda.get("packages", {})),
        channels=tuple(dict.fromkeys(channels)) if conda.get("packages") else (),
        platform=platform or TargetPlatform.host(),
    )


def _default_channels() -> list[str]:
    """`CONDA_CHANNELS` (comma-separated), as core Metaflow's micromamba reads it, or the
    Metaflow config `METAFLOW_CONDA_CHANNELS`."""
    from ..settings import bakery_settings

    return list(bakery_settings().conda_channels)
