"""Perimeter policies in the run path: what a flow asks for, checked before anything launches.

The policy files in force (docs/policies.md): the machine's /etc/bakery/policy.toml whenever it
exists, plus the file `METAFLOW_BAKERY_POLICY_FILE` (Metaflow's config) or `BAKERY_POLICY_FILE`
names, which can only add restrictions. Nothing in a flow or on the command line is read to find
them. Bakery's environments check a run before they lock or build
anything: the steps that ask for packages (`@pypi`, `@conda`), the images remote steps name
(`@kubernetes(image=...)`, `--with kubernetes:image=...`, or the default image), and, with
fast-bakery, where images would be pushed; baked images are checked once they have a name.
Every violation is listed in one message.
"""

from __future__ import annotations

from . import compat
from .environments.step_specs import step_decorator_request
from .exceptions import BakeryMetaflowException
from .workstation import workstation_image


class PolicyRefusedException(BakeryMetaflowException):
    headline = "Refused by the perimeter policy"


class PolicyFileException(BakeryMetaflowException):
    headline = "The perimeter policy cannot be used"


def load():
    """The policy files in force (`bakery.policy.Policies`), or None when there are none; a
    policy file in force that cannot be read stops the run (it is never skipped)."""
    try:
        from bakery.errors import PolicyFileError
        from bakery.policy import load_policies
    except ImportError:
        # a task whose code package carries no Bakery core (a run without a Bakery
        # environment): the launcher already checked the policy before it started any task
        return None

    from .settings import bakery_settings

    bakery_settings()  # the policy file named in Metaflow's config, too
    try:
        return load_policies() or None
    except PolicyFileError as e:
        raise PolicyFileException(str(e)) from None


def enforce(policy, requests) -> None:
    """Stop the run with every violation at once (a `PolicyRefusedException`)."""
    from bakery.errors import PolicyViolation

    if policy is None:
        return
    try:
        policy.enforce(list(requests))
    except PolicyViolation as e:
        raise PolicyRefusedException(str(e)) from None


def check_step_image(flow, step_name, decorator, environment) -> None:
    """Under an environment other than Bakery's (which check the whole run, once images are
    known), check the image a compute decorator settled on for its step."""
    from .environments.bakery_environment import BakeryCondaEnvironment

    if isinstance(environment, BakeryCondaEnvironment):
        return
    policy = load()
    if policy is not None:
        steps = [s for s in flow if s.name == step_name]
        enforce(policy, image_requests(steps, lambda s: [decorator]))


def check_exit_hook_image(flow, environment) -> None:
    """Under an environment other than Bakery's, check the images `@exit_hook(options=...)`
    names for its hooks."""
    from .environments.bakery_environment import BakeryCondaEnvironment

    if isinstance(environment, BakeryCondaEnvironment):
        return
    policy = load()
    if policy is not None:
        enforce(policy, exit_hook_requests(flow))


def exit_hook_requests(flow):
    """A request per `@exit_hook` that names an image for its hooks (`options={"image": ...}`)."""
    from bakery.policy import ImageRequest

    for decorator in compat.flow_decorators(flow, "exit_hook"):
        image = (decorator.attributes.get("options") or {}).get("image")
        if not image:
            continue
        hooks = list(decorator.attributes.get("on_success") or [])
        hooks += decorator.attributes.get("on_error") or []
        names = ", ".join(getattr(h, "__name__", None) or str(h) for h in hooks) or "?"
        yield ImageRequest("exit hook %s" % names, str(image), "@exit_hook(options={'image': ...})")


def on_the_fly_requests(flow, steps, defaults=None):
    """A request per step (of `steps`) whose @pypi/@conda names packages or files to install, or
    a Python other than the one running the flow (an environment would have to be made for it),
    and one per step on a named environment."""
    from bakery.errors import SpecError
    from bakery.policy import NamedEnvRequest, OnTheFlyRequest
    from bakery.sources import plan_sources

    for step in flow:
        if step.name not in steps:
            continue
        request = step_decorator_request(flow, step, defaults) or {}
        try:
            plan = plan_sources(request["levels"]) if request else None
        except SpecError:
            continue  # conflicting sources: the step's spec reports it, naming the step
        for kind in ("pypi", "conda"):
            attributes = request.get(kind) or {}
            packages = attributes.get("packages") or {}
            python = attributes.get("python")
            if packages and (plan is None or plan.whole is None):
                yield OnTheFlyRequest(step.name, "@%s(packages=%r)" % (kind, dict(packages)))
            elif not packages and python and not _runs_here(str(python)):
                yield OnTheFlyRequest(step.name, "@%s(python=%r)" % (kind, str(python)))
        if plan is None:
            continue
        if plan.whole is not None and plan.whole.attribute == "named_env":
            name = str(plan.whole.value).partition(":")[0]
            yield NamedEnvRequest(step.name, name, str(plan.whole))
        elif plan.whole is not None:
            yield OnTheFlyRequest(step.name, str(plan.whole))
        for named in plan.files:
            yield OnTheFlyRequest(step.name, str(named))


def _runs_here(python):
    """Whether the interpreter running the flow satisfies `python=` ('3.11', '3.11.7', '>=3.10')."""
    import sys

    running = "%d.%d.%d" % sys.version_info[:3]
    text = python.strip()
    if text[:1].isdigit():
        return (running + ".").startswith(text + ".")
    try:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
    except ImportError:
        return False
    try:
        return SpecifierSet(text).contains(running)
    except InvalidSpecifier:
        return False


def image_requests(flow, decorators, *, skip=()):
    """A request per remote compute decorator's image, saying where the image came from."""
    from bakery.policy import ImageRequest

    for step in flow:
        for decorator in decorators(step):
            image = decorator.attributes.get("image")
            if not image or step.name in skip:
                continue
            if not compat.user_defined(decorator, "image"):
                if image == workstation_image():
                    source = "the workstation image (METAFLOW_BAKERY_WORKSTATION_IMAGE)"
                else:
                    source = "the default image of @%s" % decorator.name
            elif getattr(decorator, "statically_defined", False):
                source = "@%s(image=...)" % decorator.name
            else:
                source = "--with %s:image=..." % decorator.name
            yield ImageRequest(step.name, str(image), source)
