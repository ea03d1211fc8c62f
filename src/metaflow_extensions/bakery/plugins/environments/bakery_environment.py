"""`--environment=conda` and `--environment=pypi`, backed by Bakery (uv and py-rattler).

A thin adapter: it reads the steps' decorators into specs, lets the core lock, build and cache
the environments, and tells Metaflow which interpreter runs each step. Nothing here imports the
core at module level: this module is also imported inside task environments, which hold only
the user's packages.
"""

from __future__ import annotations

import os
import sys
import threading

from metaflow.metaflow_environment import MetaflowEnvironment

from .. import task_interpreter
from ..compat import steps_in_order
from ..exceptions import BakeryMetaflowException
from .sources import StepSources
from .step_specs import build_spec, check_decorators, is_disabled, on_named_environment

REMOTE_ENV_LINK = task_interpreter.ENV_LINK


class BakeryEnvironmentException(BakeryMetaflowException):
    headline = "Bakery could not prepare the environment"


class BakeryCondaEnvironment(StepSources, MetaflowEnvironment):
    """Each step runs in its own locked, cached environment (PyPI via uv, conda via rattler)."""

    TYPE = "conda"
    _force_rebuild = False

    def __init__(self, flow):
        super().__init__(flow)
        self.flow = flow
        self.local_root = None
        self.datastore_type = "local"
        self._echo = None
        self._envs = {}  # step name -> CachedEnv
        self._locked = {}  # step name -> LockedEnv
        self._lock_path = None
        self._print_lock = threading.Lock()
        self._policy = None
        self._no_installs = None  # whether a policy forbids on-the-fly environments

    # ---- Metaflow hooks -------------------------------------------------------------------

    def set_local_root(self, local_root):
        self.local_root = local_root

    def decospecs(self):
        return ("conda",) + super().decospecs()

    def validate_environment(self, logger, datastore_type):
        """Refuse malformed @pypi / @conda attributes before Metaflow reads them (it would fail
        with a traceback) and before any task starts."""
        self.datastore_type = datastore_type
        self._echo = logger
        try:
            from bakery.errors import BakeryError
        except ImportError:  # a task whose code package has no core: its launcher checked
            return
        try:
            check_decorators(self.flow)
        except BakeryError as e:
            raise BakeryEnvironmentException(str(e)) from None

    def init_environment(self, echo, only_steps=None):
        """Lock (resolving only what changed) and build the missing environments."""
        from bakery.errors import BakeryError

        self._echo = echo
        try:
            self._check_policy(only_steps)
            self._prepare(only_steps)
        except BakeryError as e:
            raise BakeryEnvironmentException(str(e)) from None

    def is_disabled(self, step):
        try:
            return is_disabled(self.flow, step) or self._installs_nothing(step)
        except Exception as e:
            from bakery.errors import BakeryError  # only here: tasks call this without the core

            if not isinstance(e, BakeryError):
                raise
            raise BakeryEnvironmentException(str(e.with_step(step.name))) from None

    def interpreter(self, step_name):
        cached = self._envs.get(step_name)
        return str(cached.python) if cached else None

    def env_id(self, step_name):
        locked = self._locked.get(step_name)
        return locked.env_id if locked else None

    def executable(self, step_name, default=None):
        """The interpreter of the step's environment: on a remote machine the one
        `bootstrap_commands` links there; here the cached environment's.

        Also asked inside a running task (a local @parallel control task starts its workers with
        it), where only the task's own environment is at hand: no lock reading, no `packaging`.
        """
        step = next((s for s in self.flow if s.name == step_name), None)
        if step is None or self.is_disabled(step):
            return super().executable(step_name, default)
        if _remote_platform(step) is not None:
            if self._remote_env_id(step_name):
                return task_interpreter.executable()
            return super().executable(step_name, default)
        local = self.interpreter(step_name)
        if local:
            return local
        if os.environ.get("BAKERY_ENV_ID"):
            return sys.executable  # a task of this step, running in the step's environment
        return super().executable(step_name, default)

    def get_package_commands(self, code_package_url, datastore_type, code_package_metadata=None):
        # the step's PYTHONPATH is the code package's alone (task_interpreter); the image's
        # entries stay until then, for the download and the bootstrap on the image's Python
        return super().get_package_commands(
            code_package_url, datastore_type, code_package_metadata
        ) + [task_interpreter.record_code_pythonpath(code_package_metadata)]

    def bootstrap_commands(self, step_name, datastore_type):
        env_id = self._remote_env_id(step_name)
        if not env_id:
            return super().bootstrap_commands(step_name, datastore_type)
        return [
            "mflog 'Bootstrapping Bakery environment %s...'" % env_id[:12],
            "flush_mflogs",
            "DISABLE_TRACING=True python -m metaflow_extensions.bakery.plugins.bootstrap "
            "%s %s %s %s"
            % (os.path.basename(self.lock_path()), env_id, datastore_type, REMOTE_ENV_LINK),
            *task_interpreter.isolation_commands(),
            "export BAKERY_ENV_ID=%s" % env_id,  # tasks record it (bakery verify)
            "flush_mflogs",
        ]

    def _remote_env_id(self, step_name):
        """The locked env id of a step, from this run or, in a launcher process, the lockfile."""
        if step_name in self._locked:
            return self._locked[step_name].env_id
        step = next((s for s in self.flow if s.name == step_name), None)
        if step is None or self.is_disabled(step):
            return None
        from bakery.lock import read_lock

        lock = read_lock(self.lock_path())
        spec = self.step_specs(only_steps=[step_name]).get(step_name)
        if not lock or not spec:
            return None
        env = lock.env_for(step_name, spec)
        if env is not None:
            return env.env_id
        # A process the launcher started (e.g. `kubernetes step`) sees the step's decorators as
        # the launcher passed them on, defaults spelled out (python='3.11.7'): its spec may not
        # match word for word, but the launcher locked this step for this run just before.
        return lock.steps.get(step_name, {}).get(str(spec.platform))

    def add_to_package(self):
        from metaflow.packaging_sys import ContentType

        # the core travels with the code package, beside `metaflow`: remote bootstraps import it
        files = [(path, arcname, ContentType.CODE_CONTENT) for path, arcname in _core_files()]
        lock_path = self.lock_path()
        if os.path.exists(lock_path):
            files.append((lock_path, os.path.basename(lock_path), ContentType.USER_CONTENT))
        # the files steps were made from travel too (`package list` shows them)
        for path, arcname in self.source_files(self._package_specs()):
            files.append((path, arcname, ContentType.USER_CONTENT))
        return files

    def get_environment_info(self, include_ext_info=False):
        info = super().get_environment_info(include_ext_info)
        if self._locked:
            info["bakery_envs"] = {s: env.env_id for s, env in sorted(self._locked.items())}
        return info

    @classmethod
    def get_client_info(cls, flow_name, metadata):
        return {"environment": "bakery", "type": cls.TYPE}

    def pylint_config(self):
        return super().pylint_config() + ["--disable=F0401"]

    # ---- the work -------------------------------------------------------------------------

    def lock_path(self):
        if self._lock_path is None:
            from bakery.lock import lock_path_for

            self._lock_path = str(lock_path_for(_flow_file(self.flow)))
        return self._lock_path

    def step_specs(self, only_steps=None, platform=None):
        """{step: EnvSpec} for steps with an environment (disabled steps are left out)."""
        from metaflow.metaflow_config import get_pinned_conda_libs

        from bakery.errors import BakeryError

        specs, failures = {}, {}
        for step in steps_in_order(self.flow):
            if only_steps and step.name not in only_steps:
                continue
            if self._installs_nothing(step):
                continue
            pinned = get_pinned_conda_libs("%d.%d" % sys.version_info[:2], self.datastore_type)
            target = platform or _remote_platform(step)
            try:
                spec = build_spec(
                    self.flow,
                    step,
                    pinned,
                    target,
                    root=self.flow_dir(),
                    named=self.named_lookup(),
                    defaults=self.source_defaults(),
                )
            except BakeryError as e:
                failures.setdefault(str(e), (e, []))[1].append(step.name)
                continue
            if spec is not None:
                specs[step.name] = spec
        if failures:
            raise _one_error(failures)
        return specs

    def _installs_nothing(self, step):
        """Under `[dependencies] on_the_fly = false` no step gets an environment made on the fly,
        so nothing is resolved or installed, not even Metaflow's pinned datastore clients: steps
        that ask for packages (or another Python) are refused before launch, the others run as if
        their environment were disabled, except steps on a named environment the policy allows
        (`named_prefixes`), which get it from its snapshot (docs/policies.md).

        A task the launcher started in its step's environment (BAKERY_ENV_ID) has it: that was
        decided where the policy was read, and the task's environment need not hold what
        reading the step's sources again takes (`packaging`)."""
        if os.environ.get("BAKERY_ENV_ID"):
            return False
        if self._no_installs is None:
            from .. import policy_gate

            policy = policy_gate.load()
            self._no_installs = bool(policy) and policy.forbids_on_the_fly
        if not self._no_installs:
            return False
        try:
            return not on_named_environment(self.flow, step, self.source_defaults())
        except ModuleNotFoundError as e:
            # a remote task on an image without `packaging` (a dependency of Bakery's, so
            # never missing where a run is launched): its launcher decided already
            if e.name != "packaging":
                raise
            return False

    def _check_policy(self, only_steps=None):
        """Refuse the run before anything is locked or built if the admin's policy forbids it."""
        from .. import policy_gate

        self._policy = policy_gate.load()
        if self._policy is None:
            return
        steps = {s.name for s in self.flow if not only_steps or s.name in only_steps}
        requests = list(policy_gate.on_the_fly_requests(self.flow, steps, self.source_defaults()))
        requests += policy_gate.image_requests(
            self.flow, compute_decorators, skip=self._images_to_bake(steps)
        )
        requests += policy_gate.exit_hook_requests(self.flow)
        requests += self._bake_requests(steps)
        policy_gate.enforce(self._policy, requests)

    def _images_to_bake(self, steps):
        """Steps whose image this environment will make (none here: see fast-bakery)."""
        return set()

    def _bake_requests(self, steps):
        return []

    def _prepare(self, only_steps=None):
        from functools import partial
        from pathlib import Path

        from bakery.envs.cache import EnvCache
        from bakery.envs.gc import remember_lock
        from bakery.envs.progress import EnvProgress
        from bakery.envs.realize import realize_all
        from bakery.lock.update import update_lock
        from bakery.resolve.indexes import IndexConfig
        from bakery.spec import TargetPlatform

        from ..named_envs import realize_from_snapshots
        from .step_imports import step_code_imports

        specs = self.step_specs(only_steps)
        if not specs:
            return
        settings = self.settings()
        indexes = IndexConfig.from_environment()
        cache = EnvCache(self.cache_root())
        with EnvProgress(self._log) as progress:
            update = update_lock(
                Path(self.lock_path()),
                self.flow.name,
                specs,
                self.resolver(indexes),
                frozen=settings.frozen,
                force=self._force_rebuild,
                on_resolve=progress.resolving,
            )
            if update.resolved_steps:
                self._log(
                    "Locked %d step environment(s) in %s"
                    % (len(update.resolved_steps), os.path.basename(self.lock_path()))
                )
            self._locked = {step: update.env(step, spec) for step, spec in specs.items()}
            # steps that run elsewhere are locked (and snapshotted or baked), not built here,
            # even when that elsewhere has this machine's platform
            host = TargetPlatform.host()
            remote = {step.name for step in self.flow if _remote_platform(step) is not None}
            local = {
                s: e for s, e in self._locked.items() if e.spec.platform == host and s not in remote
            }
            realize_from_snapshots(local, cache, self.datastore_type, self._log)
            built = realize_all(
                local.items(),
                cache,
                indexes=indexes,
                on_build=progress.building,
                on_built=progress.built,
                imports=partial(step_code_imports, self.flow),
            )
        self._envs = {step: built[env.env_id] for step, env in local.items()}
        remember_lock(cache, Path(self.lock_path()))
        to_snapshot = self._snapshot_steps(remote)
        if to_snapshot:
            self._snapshot(indexes, [self._locked[s] for s in sorted(to_snapshot)])

    def _snapshot_steps(self, remote):
        """The steps whose environments go into the datastore's snapshot: on a remote datastore
        all of them; on the local one, those that run in a container and are not baked (their
        bootstrap reads the snapshot from the mounted datastore)."""
        setting = self.settings().snapshot
        if setting == "auto":
            if self.datastore_type != "local":
                return set(self._locked)
            steps = set(self._locked) & remote
            return steps - self._images_to_bake(steps)
        return set(self._locked) if setting == "always" else set()

    def _snapshot(self, indexes, envs):
        """Store the artifacts of `envs` (and the tools that install them), once."""
        from bakery.envs.cache import image_cache_dir
        from bakery.fetch import ArtifactStore

        from ..snapshot_store import DatastorePackageStore, store_snapshot

        store = DatastorePackageStore(self.datastore_type)
        # the wheels stay on this machine too, where an image bake of these envs finds them
        wheels = ArtifactStore(image_cache_dir(self.cache_root()) / "wheels")
        stored = 0
        for env in {e.env_id: e for e in envs}.values():
            stored += store_snapshot(env, store, indexes=indexes, wheels=wheels)
        if stored:
            self._log("Stored %d package(s) in the snapshot at %s" % (stored, store.root))

    def settings(self):
        """Bakery's settings, read once per process (plugins/settings.py)."""
        from ..settings import bakery_settings

        return bakery_settings()

    def cache_root(self):
        return self.settings().cache_root()

    def _log(self, message):
        with self._print_lock:
            if self._echo is not None:
                self._echo(message)
            else:
                print(message, file=sys.stderr)


class BakeryPyPIEnvironment(BakeryCondaEnvironment):
    """`--environment=pypi`: the same environments, for flows that use @pypi."""

    TYPE = "pypi"


# compute decorators whose tasks run elsewhere, as core Metaflow's conda environment lists them
REMOTE_DECORATORS = ("batch", "kubernetes", "nvidia", "snowpark", "slurm", "nvct", "skypilot_step")


def is_remote_decorator(decorator):
    """Whether a step decorator sends the step's tasks to run elsewhere."""
    return bool(getattr(decorator, "supports_conda_environment", False)) or (
        decorator.name in REMOTE_DECORATORS
    )


def compute_decorators(step):
    """The step's remote compute decorators that take an `image` (usually one)."""
    return [
        d
        for d in step.decorators
        if is_remote_decorator(d) and "image" in (getattr(d, "attributes", None) or {})
    ]


def _remote_platform(step):
    """The platform a step's remote compute decorator targets (linux-64), or None: this machine."""
    for decorator in step.decorators:
        if is_remote_decorator(decorator):
            from bakery.platforms import REMOTE_PLATFORM, TargetPlatform

            return TargetPlatform.parse(getattr(decorator, "target_platform", REMOTE_PLATFORM))
    return None


def _one_error(failures):
    """{message: (error, steps)} as one error naming, per message, every step it concerns."""
    from bakery.errors import name_steps

    lines = ["%s: %s" % (name_steps(steps), message) for message, (_, steps) in failures.items()]
    first = next(iter(failures.values()))[0]
    return type(first)("\n".join(lines))


def _flow_file(flow):
    """The flow's script, as Metaflow itself finds it (sys.argv[0]), else the class's file."""
    script = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if script.endswith(".py") and os.path.isfile(script):
        return script
    import inspect

    return inspect.getfile(type(flow))


def _core_files():
    from pathlib import Path

    import bakery

    root = Path(bakery.__file__).parent
    for path in sorted(root.rglob("*.py")):
        yield str(path), str(Path("bakery") / path.relative_to(root))
