"""`@gpu_profile`: sample the step's GPUs while it runs, on a live card of its own.

Used above `@step`, like Outerbounds' decorator of the same name, whose arguments, card id
(`gpu_profile`) and artifacts (`<prefix>num_gpus`, `<prefix>data`) it keeps, so flows written for
it run unchanged:

    @gpu_profile(interval=1)
    @resources(gpu=1)
    @step
    def train(self): ...

It is a step mutator that adds two decorators to the step: `@card(type="blank",
id="gpu_profile", refresh_interval=card_interval)` and `GpuProfileSampling`, which starts the
sampler before the step's code and stops it after. Profiling is best effort: without a GPU, a
driver or NVML, or when NVML fails mid-run, the step runs exactly as without the decorator and
the card says what was missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from metaflow.user_decorators.user_step_decorator import StepMutator, UserStepDecorator

from ...plugins.exceptions import BakeryMetaflowException
from .gpu_backends import GpuUnavailable, open_backend, warn
from .gpu_card import CARD_ID, GpuProfileCard
from .gpu_sampler import GpuSampler, max_samples_for


class GpuProfileException(BakeryMetaflowException):
    headline = "@gpu_profile cannot be used this way"


@dataclass(frozen=True)
class GpuProfileOptions:
    """The decorator's arguments, checked once where the flow is defined."""

    interval: float = 1
    card_interval: float = 5
    artifact_prefix: str = "gpu_profile_"
    include_artifacts: bool = True
    max_memory_mb: float = 100

    @classmethod
    def parse(cls, args: tuple, kwargs: dict) -> GpuProfileOptions:
        if args:
            raise GpuProfileException(
                "@gpu_profile takes keyword arguments only, e.g. @gpu_profile(interval=1); "
                "got %r" % (args,)
            )
        unknown = sorted(set(kwargs) - set(cls.__dataclass_fields__))
        if unknown:
            raise GpuProfileException(
                "@gpu_profile has no argument %s; it takes %s"
                % (", ".join(unknown), ", ".join(cls.__dataclass_fields__))
            )
        options = cls(**kwargs)
        for name in ("interval", "card_interval", "max_memory_mb"):
            value = getattr(options, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise GpuProfileException(
                    "@gpu_profile(%s=%r): give a positive number of %s"
                    % (name, value, "MB" if name == "max_memory_mb" else "seconds")
                )
        if (
            not isinstance(options.artifact_prefix, str)
            or not options.artifact_prefix.isidentifier()
        ):
            raise GpuProfileException(
                "@gpu_profile(artifact_prefix=%r): give a prefix that makes valid artifact "
                "names, such as 'gpu_profile_'" % (options.artifact_prefix,)
            )
        return options

    def as_kwargs(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class gpu_profile(StepMutator):  # noqa: N801 - the name flows use, as Outerbounds spells it
    """@gpu_profile(interval=1, card_interval=5, artifact_prefix="gpu_profile_",
    include_artifacts=True, max_memory_mb=100)

    Sample every GPU the step sees each `interval` seconds (utilization, memory, temperature,
    power; driver and CUDA versions once) and show them on the card `gpu_profile`, refreshed
    every `card_interval` seconds while the step runs and final at its end. Unless
    `include_artifacts=False`, the step also stores `<artifact_prefix>num_gpus` and
    `<artifact_prefix>data` (versions, devices, per-GPU time series, and `error`: why nothing
    or not everything was sampled). Readings beyond `max_memory_mb` drop the oldest.
    """

    def init(self, *args, **kwargs):
        self.options = GpuProfileOptions.parse(args, kwargs)

    def mutate(self, mutable_step) -> None:
        options = getattr(self, "options", None) or GpuProfileOptions()
        mutable_step.add_decorator(
            "card",
            deco_kwargs={
                "type": "blank",
                "id": CARD_ID,
                "refresh_interval": options.card_interval,
            },
            duplicates=mutable_step.IGNORE,
        )
        mutable_step.add_decorator(
            GpuProfileSampling, deco_kwargs=options.as_kwargs(), duplicates=mutable_step.IGNORE
        )

    def add_to_package(self):
        """nvidia-ml-py's `pynvml` (one pure-Python module, a dependency of Bakery) travels in
        the code package, so NVML is reachable from any environment or image the step runs in."""
        try:
            import pynvml
            from metaflow.packaging_sys import ContentType
        except ImportError:
            return
        yield pynvml, None, ContentType.MODULE_CONTENT


class GpuProfileSampling(UserStepDecorator):
    """Starts the sampler and the card before the step's code, stops them after it. Added by
    @gpu_profile; never raises into the step."""

    def init(self, *args, **kwargs):
        self.options = GpuProfileOptions.parse(args, kwargs)
        self._profile = None

    def pre_step(self, step_name, flow, inputs=None):
        try:
            self._profile = TaskProfile.start(self.options)
        except Exception as e:
            warn("GPU profiling is off for this task: %s" % e)
            self._profile = None
        return None

    def post_step(self, step_name, flow, exception=None):
        if self._profile is not None:
            try:
                self._profile.finish(flow)
            except Exception as e:
                warn("could not finish the GPU profile: %s" % e)
            self._profile = None
        return super().post_step(step_name, flow, exception)


def _data_update_writer(card: GpuProfileCard):
    """How each refresh reaches the live card: its data update written from this process
    (a file or an object in the datastore), else, should Metaflow's card internals have moved,
    Metaflow's own refresh (a `card create` process each time)."""
    from ...plugins import compat

    try:
        return compat.live_card_data_writer(CARD_ID)
    except Exception as e:
        warn("live card updates go through `card create` processes (%s)" % e)
        return card.refresh


class TaskProfile:
    """One task's profiling: its card and, when a GPU could be read, its sampler."""

    def __init__(self, options: GpuProfileOptions, card: GpuProfileCard) -> None:
        self.options = options
        self.card = card
        self.sampler: GpuSampler | None = None
        self.problem: str | None = None
        self.publish = card.refresh

    @classmethod
    def start(cls, options: GpuProfileOptions, open_gpus=open_backend) -> TaskProfile:
        from metaflow import current

        card = GpuProfileCard(
            current.card[CARD_ID],
            current.pathspec,
            getattr(current, "retry_count", 0),
            options.interval,
        )
        profile = cls(options, card)
        try:
            backend, info = open_gpus()
        except GpuUnavailable as e:
            # nothing to watch live: the card's final render (after the step) says why, and
            # the step pays for no card process while it runs
            profile.problem = str(e)
            warn("no GPU profile: %s" % e)
            card.set_up(None, profile.problem)
            return profile
        profile.sampler = GpuSampler(
            backend,
            info,
            interval=options.interval,
            max_samples=max_samples_for(options.max_memory_mb, len(info.devices)),
            on_tick=profile.refresh_card,
            tick_interval=options.card_interval,
        )
        card.set_up(info)
        profile.sampler.start()
        card.update(profile.sampler.series(), profile.sampler.error)
        card.refresh(force=True)  # the live card's page, rendered once (a `card create` process)
        profile.publish = _data_update_writer(card)
        return profile

    def refresh_card(self) -> None:
        self.card.update(self.sampler.series(), self.sampler.error)
        self.publish()

    def finish(self, flow) -> None:
        """Stop sampling, leave the last readings on the card (its final render follows) and,
        unless turned off, store the artifacts."""
        series, info, error, cpu = {}, None, self.problem, 0.0
        if self.sampler is not None:
            self.sampler.stop()
            series, info = self.sampler.series(), self.sampler.info
            error, cpu = self.sampler.error, self.sampler.cpu_seconds
            self.card.update(series, error, cpu)
        if not self.options.include_artifacts:
            return
        prefix = self.options.artifact_prefix
        setattr(flow, prefix + "num_gpus", len(info.devices) if info else 0)
        setattr(
            flow,
            prefix + "data",
            {
                "error": error,
                "backend": info.backend if info else None,
                "driver_version": info.driver_version if info else None,
                "cuda_version": info.cuda_version if info else None,
                "devices": [d.as_artifact() for d in info.devices] if info else [],
                "interval": self.options.interval,
                "sampler_cpu_seconds": cpu,  # what profiling cost the task, readings included
                "profile": series,
                "interconnect": None,
            },
        )
