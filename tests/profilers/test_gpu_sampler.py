"""The background sampler: readings into bounded series, a card tick, failures mid-run."""

from __future__ import annotations

import threading
import time

import pytest

from metaflow_extensions.bakery.toplevel.profilers.gpu_backends import NvmlBackend
from metaflow_extensions.bakery.toplevel.profilers.gpu_sampler import (
    SERIES_FIELDS,
    GpuSampler,
    max_samples_for,
)
from tests.profilers.test_gpu_backends import nvml  # noqa: F401 - fixture


def _sampler(nvml, **kwargs) -> GpuSampler:  # noqa: F811
    backend = NvmlBackend(nvml)
    info = backend.open()
    return GpuSampler(backend, info, **{"interval": 0.02, "max_samples": 1000, **kwargs})


def _wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_readings_fill_every_series_of_every_gpu(nvml):  # noqa: F811
    nvml.CONFIG["gpus"] = 2
    sampler = _sampler(nvml)
    sampler.start()
    _wait_for(lambda: sampler.readings >= 5)
    sampler.stop()
    series = sampler.series()
    assert set(series) == {"00000000:18:00.0", "00000000:19:00.0"}
    for fields in series.values():
        assert set(fields) == set(SERIES_FIELDS)
        lengths = {len(values) for values in fields.values()}
        assert lengths == {sampler.readings}
    first = series["00000000:18:00.0"]
    assert first["memory_total"][0] == 81559 and first["power"][0] == 250.0
    assert first["timestamp"][0].count("/") == 2  # 2026/11/30 12:00:00, as nvidia-smi prints
    assert sampler.error is None and not nvml._state["initialized"]  # stop() shut NVML down


def test_the_oldest_readings_go_beyond_the_memory_budget(nvml):  # noqa: F811
    sampler = _sampler(nvml, max_samples=3)
    sampler.start()
    _wait_for(lambda: sampler.readings >= 6)
    sampler.stop()
    (series,) = sampler.series().values()
    assert len(series["timestamp"]) == 3
    assert series["memory_used"] == sorted(series["memory_used"])  # the newest are kept


def test_the_budget_is_split_between_gpus():
    assert max_samples_for(100, 1) // 4 - max_samples_for(100, 4) in (0, 1)
    assert max_samples_for(100, 1) > 300_000  # days of 1 s readings of one GPU
    assert max_samples_for(0.0001, 8) == 10  # never fewer than a handful


def test_nvml_failing_mid_run_stops_sampling_and_says_when(nvml, capsys):  # noqa: F811
    nvml.CONFIG["fail_after"] = 2
    ticks = []
    sampler = _sampler(nvml, on_tick=lambda: ticks.append(sampler.error), tick_interval=1000)
    sampler.start()
    _wait_for(lambda: sampler.error is not None)
    sampler.stop()
    assert sampler.readings == 2
    assert "NVML stopped answering at " in sampler.error
    assert "after 2 readings: NVML: GPU is lost" in sampler.error
    assert ticks == [sampler.error]  # the card was told at once
    (series,) = sampler.series().values()
    assert len(series["timestamp"]) == 2  # what was read is kept
    assert "[@gpu_profile] NVML stopped answering" in capsys.readouterr().err


def test_the_card_ticks_at_its_own_interval(nvml):  # noqa: F811
    ticks = []
    sampler = _sampler(nvml, on_tick=lambda: ticks.append(time.monotonic()), tick_interval=0.1)
    sampler.start()
    _wait_for(lambda: len(ticks) >= 3)
    sampler.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert all(gap >= 0.09 for gap in gaps), gaps
    assert sampler.readings > len(ticks)


def test_a_card_that_fails_to_refresh_does_not_stop_sampling(nvml, capsys):  # noqa: F811
    def broken():
        raise RuntimeError("card datastore unreachable")

    sampler = _sampler(nvml, on_tick=broken, tick_interval=0)
    sampler.start()
    _wait_for(lambda: sampler.readings >= 5)
    sampler.stop()
    assert sampler.error is None
    err = capsys.readouterr().err
    assert err.count("could not refresh the card: card datastore unreachable") == 1


def test_stop_ends_the_thread_and_is_idempotent(nvml):  # noqa: F811
    sampler = _sampler(nvml, interval=0.05)
    sampler.start()
    sampler.stop()
    sampler.stop()
    assert not any(t.name == "gpu_profile" for t in threading.enumerate())


@pytest.mark.parametrize("gpus", [1, 8])
def test_sampling_costs_little_cpu(nvml, gpus):  # noqa: F811
    """A second of sampling every 10 ms takes far less than a second of this process's CPU."""
    nvml.CONFIG["gpus"] = gpus
    sampler = _sampler(nvml, interval=0.01)
    cpu = time.process_time()
    sampler.start()
    time.sleep(1)
    sampler.stop()
    used = time.process_time() - cpu
    assert sampler.readings >= 20
    assert used < 0.5, used
    assert 0 < sampler.cpu_seconds <= used  # the thread counts its own CPU, for the artifact
