"""Sampling the GPUs on a background thread, into bounded per-GPU time series.

The thread sleeps between readings (an NVML reading is a few calls into the driver, which release
the GIL), so the step's own threads keep the CPU. If the backend fails mid-run the thread records
why and stops; the step goes on. Nothing here imports Metaflow.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime

from .gpu_backends import GpuBackend, GpuInfo, warn

# Timestamps as nvidia-smi prints them, and as Outerbounds' `<prefix>data` artifact holds them
TIMESTAMP_FORMAT = "%Y/%m/%d %H:%M:%S"
SERIES_FIELDS = (
    "timestamp",
    "gpu_utilization",
    "memory_used",
    "memory_total",
    "temperature",
    "power",
)
# roughly what one reading of one GPU costs in memory (6 boxed values in deques)
BYTES_PER_SAMPLE = 300


def max_samples_for(max_memory_mb: float, num_gpus: int) -> int:
    """How many readings per GPU fit in `max_memory_mb`; the oldest are dropped beyond it."""
    return max(10, int(max_memory_mb * 2**20) // (BYTES_PER_SAMPLE * max(num_gpus, 1)))


class GpuSampler:
    """Reads every GPU each `interval` seconds until `stop()`; calls `on_tick` (the card
    refresh) at most every `tick_interval` seconds from the same thread."""

    def __init__(
        self,
        backend: GpuBackend,
        info: GpuInfo,
        interval: float,
        max_samples: int,
        on_tick: Callable[[], None] | None = None,
        tick_interval: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend = backend
        self.info = info
        self.interval = interval
        self.error: str | None = None
        self.readings = 0
        self.cpu_seconds = 0.0  # what the sampling thread itself used: readings + card updates
        self._clock = clock
        self._on_tick = on_tick
        self._tick_interval = tick_interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._series = {
            device.device_id: {field: deque(maxlen=max_samples) for field in SERIES_FIELDS}
            for device in info.devices
        }

    def start(self) -> None:
        self.read_once()  # the card has a first point before the step's code starts
        self._thread = threading.Thread(target=self._run, name="gpu_profile", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling (waits for the thread) and release the backend; idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 30)
            self._thread = None
        self.backend.close()

    def read_once(self) -> bool:
        """Take one reading of every GPU; False (with `error` set) once the backend fails."""
        if self.error:
            return False
        now = self._clock()
        try:
            samples = self.backend.sample()
        except Exception as e:  # GpuReadError, or anything a driver binding raises
            self.error = "%s stopped answering at %s after %d readings: %s" % (
                self.info.backend,
                datetime.fromtimestamp(now).strftime(TIMESTAMP_FORMAT),
                self.readings,
                e,
            )
            warn(self.error)
            return False
        stamp = datetime.fromtimestamp(now).strftime(TIMESTAMP_FORMAT)
        with self._lock:
            for sample in samples:
                series = self._series.get(sample.device_id)
                if series is None:
                    continue  # a GPU that appeared after start: not on the card
                series["timestamp"].append(stamp)
                series["gpu_utilization"].append(sample.utilization)
                series["memory_used"].append(sample.memory_used_mib)
                series["memory_total"].append(sample.memory_total_mib)
                series["temperature"].append(sample.temperature_c)
                series["power"].append(sample.power_w)
            self.readings += 1
        return True

    def series(self) -> dict[str, dict[str, list]]:
        """A copy of every GPU's time series: {device_id: {field: [values]}}."""
        with self._lock:
            return {
                device_id: {field: list(values) for field, values in fields.items()}
                for device_id, fields in self._series.items()
            }

    def _run(self) -> None:
        cpu = time.thread_time()
        try:
            self._loop()
        finally:
            self.cpu_seconds += time.thread_time() - cpu

    def _loop(self) -> None:
        last_tick = self._clock()
        while not self._stop.wait(self.interval):
            if not self.read_once():
                self._tick()  # show the error on the card now, then stop sampling
                return
            if self._on_tick is not None and self._clock() - last_tick >= self._tick_interval:
                last_tick = self._clock()
                self._tick()

    def _tick(self) -> None:
        if self._on_tick is None:
            return
        try:
            self._on_tick()
        except Exception as e:  # a card that cannot refresh must not stop the sampling
            warn("could not refresh the card: %s" % e)
            self._on_tick = None
