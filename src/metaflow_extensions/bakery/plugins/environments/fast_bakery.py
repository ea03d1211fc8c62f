"""`--environment=fast-bakery`: the steps that run remotely get their environment baked into an
image, pushed, and set on their compute decorator; steps that run here use the local cache.

Everything else is the pypi/conda environment's: the same lockfile, the same specs, the same
local environments. For each remote step (a compute decorator such as @kubernetes, also when
Argo Workflows attaches it), the locked linux environment is baked with the core's `bake` on
`METAFLOW_BAKERY_BASE_IMAGE` (else the official python:X.Y-slim) and pushed under
`METAFLOW_BAKERY_REGISTRY`; an environment baked before costs one manifest check. The image,
pinned by digest, goes into the decorator's `image` attribute, unless the user gave one
(`@kubernetes(image=...)` or `--with kubernetes:image=...`): a user's image always wins, and
that step keeps the snapshot bootstrap of the pypi/conda environments instead. Code still
travels in Metaflow's code package: editing the flow never triggers a bake.
"""

from __future__ import annotations

import os

from .bakery_environment import (
    BakeryEnvironmentException,
    BakeryPyPIEnvironment,
    _config,
    is_remote_decorator,
)


class FastBakeryEnvironment(BakeryPyPIEnvironment):
    """Local steps in cached environments, remote steps in images baked from the same lock."""

    TYPE = "fast-bakery"

    def __init__(self, flow):
        super().__init__(flow)
        self._images = {}  # step name -> image reference baked for it (repo:tag@digest)

    def image(self, step_name):
        """The image baked for a step in this process, or None."""
        return self._images.get(step_name)

    def executable(self, step_name, default=None):
        if step_name in self._images:
            return "python3"  # the image puts the environment first on PATH/PYTHONPATH
        return super().executable(step_name, default)

    def bootstrap_commands(self, step_name, datastore_type):
        if step_name in self._images:
            return []  # the environment is in the image: nothing to restore
        return super().bootstrap_commands(step_name, datastore_type)

    def _prepare(self, only_steps=None):
        super()._prepare(only_steps)
        remote = {
            step.name: decorator
            for step in self.flow
            if step.name in self._locked
            for decorator in _compute_decorators(step)
        }
        to_bake = {s: d for s, d in remote.items() if not _user_image(d)}
        if not to_bake:
            return
        images = self._bake({s: self._locked[s] for s in to_bake})
        for step, decorator in to_bake.items():
            decorator.attributes["image"] = images[step]
            self._images[step] = images[step]

    def _bake(self, envs):
        """Bake each distinct environment once; {step: image reference}."""
        from bakery.envs.cache import image_cache_dir
        from bakery.errors import BakeryError
        from bakery.image.bake import BakeOptions, bake
        from bakery.image.base import default_base_image

        registry = _config("BAKERY_REGISTRY") or os.environ.get("BAKERY_REGISTRY")
        if not registry:
            steps = ", ".join(sorted(envs))
            raise BakeryEnvironmentException(
                "--environment=fast-bakery bakes an image for each remote step (%s) and needs a "
                "registry to push it to: set METAFLOW_BAKERY_REGISTRY (e.g. "
                "registry.example.com/team/envs) in the environment or your Metaflow profile"
                % steps
            )
        base = _config("BAKERY_BASE_IMAGE") or os.environ.get("BAKERY_BASE_IMAGE")
        options = BakeOptions(cache_dir=image_cache_dir(self.cache_root()), progress=False)
        by_env = {}
        for step, env in sorted(envs.items()):
            by_env.setdefault(env.env_id, (env, []))[1].append(step)
        images = {}
        for env, steps in by_env.values():
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
            images.update((step, result.reference) for step in steps)
        return images


def _compute_decorators(step):
    """The step's remote compute decorators that take an `image` (usually one)."""
    return [
        d
        for d in step.decorators
        if is_remote_decorator(d) and "image" in (getattr(d, "attributes", None) or {})
    ]


def _user_image(decorator):
    """Whether the user named the image (on the decorator or with --with ...:image=)."""
    return "image" in getattr(decorator, "_user_defined_attributes", ())
