"""`--environment=fast-bakery`: the steps that run remotely get their environment baked into an
image, pushed, and set on their compute decorator; steps that run here use the local cache.

Everything else is the pypi/conda environment's: the same lockfile, the same specs, the same
local environments. For each remote step (a compute decorator such as @kubernetes, also when
Argo Workflows attaches it, or @container), the locked linux environment is baked with the core's `bake` on
`METAFLOW_BAKERY_BASE_IMAGE` (else the official python:X.Y-slim) and pushed under
`METAFLOW_BAKERY_REGISTRY`; an environment baked before costs one manifest check. The image,
pinned by digest, goes into the decorator's `image` attribute, unless the user gave one
(`@kubernetes(image=...)` or `--with kubernetes:image=...`): a user's image always wins, and
that step keeps the snapshot bootstrap of the pypi/conda environments instead. Code still
travels in Metaflow's code package: editing the flow never triggers a bake.
"""

from __future__ import annotations

from .. import compat, task_interpreter
from .bakery_environment import (
    BakeryEnvironmentException,
    BakeryPyPIEnvironment,
    compute_decorators,
)


class FastBakeryEnvironment(BakeryPyPIEnvironment):
    """Local steps in cached environments, remote steps in images baked from the same lock."""

    TYPE = "fast-bakery"

    def __init__(self, flow):
        super().__init__(flow)
        self._images = {}  # step name -> image reference baked for it (repo:tag@digest)

    def executable(self, step_name, default=None):
        if self._runs_baked(step_name):
            return task_interpreter.executable()
        return super().executable(step_name, default)

    def bootstrap_commands(self, step_name, datastore_type):
        if self._runs_baked(step_name):
            # the environment is in the image: nothing to restore, only to isolate from the
            # base's own site-packages and PYTHONPATH (a venv over it, made by the image's Python)
            return [
                "python3 -m metaflow_extensions.bakery.plugins.task_interpreter %s"
                % task_interpreter.ENV_LINK,
                *task_interpreter.isolation_commands(),
            ]
        return super().bootstrap_commands(step_name, datastore_type)

    def _runs_baked(self, step_name):
        """Whether the step runs in an image baked for it. The launcher knows (it baked); the
        processes it starts (`kubernetes step`, `container step`) decide from the decorators
        they see: one written without an image gets the baked one, and one the launcher handed
        on (every attribute spelled out) names the image baked for the step's environment."""
        if step_name in self._images:
            return True
        step = next((s for s in self.flow if s.name == step_name), None)
        if step is None or self.is_disabled(step):
            return False
        from bakery.image_tags import baked_for

        env_id = None
        for decorator in compute_decorators(step):
            if not _user_image(decorator):
                return True
            env_id = env_id or self._remote_env_id(step_name)
            if env_id and baked_for(decorator.attributes.get("image") or "", env_id):
                return True
        return False

    def _bakes(self, step):
        """In the launcher: a remote step with an environment and no image of the user's gets
        a baked one."""
        return not self.is_disabled(step) and any(
            not _user_image(d) for d in compute_decorators(step)
        )

    def _prepare(self, only_steps=None):
        super()._prepare(only_steps)
        to_bake = {
            step.name: decorator
            for step in self.flow
            if step.name in self._locked
            for decorator in compute_decorators(step)
            if not _user_image(decorator)
        }
        if not to_bake:
            return
        images = self._bake({s: self._locked[s] for s in to_bake})
        self._check_baked(images)
        for step, decorator in to_bake.items():
            decorator.attributes["image"] = images[step]
            self._images[step] = images[step]

    def _images_to_bake(self, steps):
        """The steps (of `steps`) this run bakes images for."""
        return {step.name for step in self.flow if step.name in steps and self._bakes(step)}

    def _bake_requests(self, steps):
        from bakery.policy import BakeTargetRequest, OnTheFlyRequest

        requests = []
        for step in sorted(self._images_to_bake(steps)):
            requests.append(OnTheFlyRequest(step, "--environment=fast-bakery"))
            requests.append(BakeTargetRequest(step, self._registry(sorted(steps))))
        return requests

    def _check_baked(self, images):
        """Baked images must be allowed images too (once they have a name)."""
        from bakery.policy import ImageRequest

        from ..policy_gate import enforce

        source = "the image baked by --environment=fast-bakery"
        enforce(self._policy, [ImageRequest(s, ref, source) for s, ref in sorted(images.items())])

    def _check_bases(self, by_env, base):
        """Each base image to bake on must be an allowed image, before anything is baked."""
        from bakery.image.base import default_base_image
        from bakery.policy import ImageRequest

        from ..policy_gate import enforce

        source = "the base image of --environment=fast-bakery (%s)" % (
            self.settings().source("base_image") if base else "the default for its Python"
        )
        requests = [
            ImageRequest(", ".join(steps), base or default_base_image(env.python), source)
            for env, steps in by_env.values()
        ]
        enforce(self._policy, requests)

    def _registry(self, steps):
        registry = self.settings().registry
        if not registry:
            raise BakeryEnvironmentException(
                "--environment=fast-bakery bakes an image for each remote step (%s) and needs a "
                "registry to push it to: set METAFLOW_BAKERY_REGISTRY (e.g. "
                "registry.example.com/team/envs) in the environment or your Metaflow profile"
                % ", ".join(steps)
            )
        from bakery.errors import BakeryError
        from bakery.registry import push_target

        try:
            push_target(registry, setting="METAFLOW_BAKERY_REGISTRY")
        except BakeryError as e:
            raise BakeryEnvironmentException(str(e)) from None
        return registry

    def _bake(self, envs):
        """Bake each distinct environment once; {step: image reference}."""
        from bakery.envs.cache import image_cache_dir
        from bakery.errors import BakeryError
        from bakery.image.bake import BakeOptions, bake
        from bakery.image.base import default_base_image

        registry = self._registry(sorted(envs))
        base = self.settings().base_image
        by_env = {}
        for step, env in sorted(envs.items()):
            by_env.setdefault(env.env_id, (env, []))[1].append(step)
        self._check_bases(by_env, base)
        images = {}
        for env, steps in by_env.values():
            options = BakeOptions(
                cache_dir=image_cache_dir(self.cache_root()),
                progress=False,
                env={
                    # every locked environment holds Metaflow's datastore clients (its pinned
                    # requests, boto3, ...): the task command need not pip-install them
                    "METAFLOW_SKIP_INSTALL_DEPENDENCIES": "1",
                    # tasks record it (bakery verify compares it with the run's lock)
                    "BAKERY_ENV_ID": env.env_id,
                },
            )
            try:
                result = bake(
                    env,
                    base=base or default_base_image(env.python),
                    repository=registry,
                    options=options,
                )
            except BakeryError as e:
                raise e.with_step(", ".join(steps)) from None
            what = "up to date" if result.up_to_date else "baked in %.1fs" % result.seconds
            self._log("Image for step(s) %s: %s (%s)" % (", ".join(steps), result.reference, what))
            for note in result.notes:  # what `bakery bake` prints too: the image works, but...
                self._log("  note: %s" % note)
            images.update((step, result.reference) for step in steps)
        return images


def _user_image(decorator):
    """Whether the user named the image (on the decorator or with --with ...:image=)."""
    return compat.user_defined(decorator, "image")
