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


def step_decorator_request(flow, step, defaults=None) -> dict | None:
    """{'pypi': attrs|None, 'conda': attrs|None, 'levels': ...}, or None when the step's
    environment is disabled. `levels[kind]` is (flow attributes, step attributes) as written,
    for the file attributes (bakery.sources.compose); `defaults` are flow-level attributes an
    environment implies (`--environment=uv`: the project's uv.lock)."""
    flow_pypi = _flow_attributes(flow, "pypi_base")
    if (
        defaults
        and not _names_a_source(flow_pypi)
        and not _names_a_source(_flow_attributes(flow, "conda_base"))
    ):
        flow_pypi = {**(flow_pypi or {}), **defaults}
    step_pypi = _attributes(step.decorators, "pypi")
    flow_conda = _flow_attributes(flow, "conda_base")
    step_conda = _attributes(step.decorators, "conda")
    pypi = _merge(flow_pypi, step_pypi, "pypi")
    conda = _merge(flow_conda, step_conda, "conda")
    for request in (pypi, conda):
        if request and request["disabled"]:
            return None
    return {
        "pypi": pypi,
        "conda": conda,
        "levels": {
            "pypi": (flow_pypi, _own_packages(step_pypi, flow_pypi)),
            "conda": (flow_conda, _own_packages(step_conda, flow_conda)),
        },
    }


def _names_a_source(attributes: dict | None) -> bool:
    from bakery.sources import ATTRIBUTES

    attributes = attributes or {}
    keys = ("packages", "libraries", *ATTRIBUTES["pypi"], *ATTRIBUTES["conda"])
    return any(attributes.get(k) for k in keys if k != "groups")


def _own_packages(step_attrs: dict | None, flow_attrs: dict | None) -> dict | None:
    """The step's attributes with only the packages it wrote itself: core's step_init copies
    its `_base` decorator's packages into the step's."""
    if step_attrs is None:
        return None
    inherited = {
        **((flow_attrs or {}).get("libraries") or {}),
        **((flow_attrs or {}).get("packages") or {}),
    }
    own = {**(step_attrs.get("libraries") or {}), **(step_attrs.get("packages") or {})}
    if not isinstance(own, dict):
        return step_attrs
    kept = {k: v for k, v in own.items() if inherited.get(k) != v}
    return {**step_attrs, "packages": kept, "libraries": {}}


def is_disabled(flow, step) -> bool:
    return step_decorator_request(flow, step) is None


def build_spec(flow, step, pinned: dict, platform=None, *, root=None, named=None, defaults=None):
    """The EnvSpec for `step`, or None when disabled. Imports the core lazily (runtime only).

    `root` is the flow's folder (files are named relative to it); `named(name, tag, platform)`
    looks a named environment up (-> LockedEnv). A SpecError does not name the step: the
    caller does, naming together steps that fail alike.
    """
    from bakery.resolve.python import refuse_python2
    from bakery.sources import StepFiles, plan_sources, step_files
    from bakery.spec import (
        EnvSpec,
        TargetPlatform,
        conda_requirements,
        normalize_python,
        pypi_requirements,
    )

    request = step_decorator_request(flow, step, defaults)
    if request is None:
        return None
    pypi, conda = request["pypi"] or {}, request["conda"] or {}
    platform = platform or TargetPlatform.host()
    asked = pypi if pypi.get("python") else conda
    python = normalize_python(asked.get("python"))
    if asked.get("python"):
        refuse_python2(python, decorator=asked["python_from"])
    plan = plan_sources(request["levels"])
    if plan.whole is not None and plan.whole.attribute == "named_env":
        return _named_spec(plan.whole, asked, python, platform, named)
    files = (
        step_files(plan, root, platform=platform, python=python)
        if not plan.is_empty
        else StepFiles()
    )
    if files.python:
        python = _file_python(files.python, asked, python)
    if files.pinned is not None:  # a whole environment: only what Metaflow needs may be added
        return EnvSpec(
            python=python,
            pypi=pypi_requirements(pinned),
            platform=platform,
            files=files.files,
            pinned=files.pinned,
        )
    flow_only = not plan.flow_packages
    user_pypi = pypi_requirements(_packages(request, "pypi", flow_only))
    user_conda = conda_requirements(_packages(request, "conda", flow_only))
    # an environment.yml's channels come first, as conda reads them
    channels = [*files.channels, *_default_channels(), *conda.get("channels", [])]
    conda_reqs = _by_name(files.conda, user_conda)
    return EnvSpec(
        python=python,
        pypi=_by_name(pypi_requirements(pinned), files.pypi, user_pypi),
        conda=conda_reqs,
        channels=tuple(dict.fromkeys(channels)) if conda_reqs else (),
        platform=platform,
        constraints=files.constraints,
        files=files.files,
    )


def _packages(request: dict, kind: str, drop_flow: bool) -> dict:
    """The packages= of `kind` that apply (only the step's own, when a whole environment it
    names replaces the flow's sources)."""
    if drop_flow:
        return dict(((request["levels"][kind][1] or {}).get("packages")) or {})
    return dict((request[kind] or {}).get("packages", {}))


def _by_name(*groups):
    """Requirements by name, later groups winning (a file's, then packages=)."""
    merged = {}
    for group in groups:
        for requirement in group:
            merged[requirement.name.split("[")[0]] = requirement
    return tuple(sorted(merged.values()))


def _file_python(found: str, asked: dict, python: str) -> str:
    """The Python a file asks for (environment.yml, a conda lock), unless python= says
    otherwise; a python= the file contradicts is refused."""
    from bakery.errors import SpecError
    from bakery.spec import normalize_python

    if not asked.get("python"):
        return normalize_python(found)
    if found.split(".")[:2] != python.split(".")[:2] and found[0].isdigit() and python[0].isdigit():
        raise SpecError(
            f"python='{python}' on @{asked['python_from']} contradicts the Python {found} its "
            "file installs: drop python= or change the file"
        )
    return python


def _named_spec(whole, asked: dict, python: str, platform, named):
    """A step on a named environment: the spec names it and the environment it stands for."""
    from bakery.errors import SpecError
    from bakery.spec import EnvSpec, NamedSource

    if named is None:
        raise SpecError(f"{whole}: named environments need Bakery's environments and a datastore")
    name, _, tag = str(whole.value).partition(":")
    env = named(name, tag or "latest", platform)
    if asked.get("python") and env.python != ".".join(python.split(".")[:2]):
        raise SpecError(
            f"python='{python}' on @{asked['python_from']} contradicts {whole.value}, which "
            f"has Python {env.python}: drop python="
        )
    return EnvSpec(
        python=env.python,
        platform=platform,
        named=NamedSource(name, tag or "latest", env.env_id),
    )


def _default_channels() -> list[str]:
    """`CONDA_CHANNELS` (comma-separated), as core Metaflow's micromamba reads it, or the
    Metaflow config `METAFLOW_CONDA_CHANNELS`."""
    from ..settings import bakery_settings

    return list(bakery_settings().conda_channels)


def on_named_environment(flow, step, defaults=None) -> bool:
    """Whether the step's environment is a named (published) one, `named_env=`: under
    `on_the_fly = false` the only environments a step may get."""
    from bakery.errors import SpecError
    from bakery.sources import plan_sources

    request = step_decorator_request(flow, step, defaults)
    if not request:
        return False
    try:
        whole = plan_sources(request["levels"]).whole
    except SpecError:
        return False  # conflicting sources: the step's spec reports it, naming the step
    return whole is not None and whole.attribute == "named_env"
