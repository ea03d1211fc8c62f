"""What the gpu_profile card says, from readings (no Metaflow task needed), and the decorator's
arguments."""

from __future__ import annotations

import pytest

from metaflow_extensions.bakery.toplevel.profilers.gpu_backends import GpuDevice, GpuInfo
from metaflow_extensions.bakery.toplevel.profilers.gpu_card import (
    status_markdown,
    summary_markdown,
    time_range_markdown,
    utilization_spec,
)
from metaflow_extensions.bakery.toplevel.profilers.gpu_profile import (
    GpuProfileException,
    GpuProfileOptions,
)

DEVICE = GpuDevice("00000000:18:00.0", "NVIDIA H100 80GB HBM3", 81559)
INFO = GpuInfo("NVML", "550.54.15", "12.4", (DEVICE,))


def _series(n: int, util=50.0, power=250.0) -> dict:
    return {
        "timestamp": ["2026/11/30 12:%02d:%02d" % divmod(i, 60) for i in range(n)],
        "gpu_utilization": [util] * n,
        "memory_used": [1000.0 + i for i in range(n)],
        "memory_total": [81559.0] * n,
        "temperature": [60.0] * n,
        "power": [power] * n,
    }


def test_summary_has_a_row_per_gpu_with_peaks_and_means():
    text = summary_markdown([DEVICE], {DEVICE.device_id: _series(10)})
    assert text.splitlines()[0].startswith("| GPU | readings | max GPU % | mean GPU %")
    assert text.splitlines()[2] == (
        "| `00000000:18:00.0` | 10 | 50% | 50.0% | 1009 MiB | 60 °C | 250.0 W |"
    )


def test_summary_leaves_metrics_a_gpu_does_not_report_blank():
    text = summary_markdown([DEVICE], {DEVICE.device_id: _series(3, power=None)})
    assert text.splitlines()[2].endswith("| 60 °C | – |")
    assert "| 0 | – | – | – | – | – |" in summary_markdown([DEVICE], {})


def test_chart_shows_utilization_and_memory_in_percent():
    spec = utilization_spec(_series(2))
    assert spec["$schema"].endswith("vega-lite/v5.json")
    values = spec["data"]["values"]
    assert [v["metric"] for v in values] == ["GPU utilization", "memory used"] * 2
    assert values[0] == {
        "time": "2026-11-30T12:00:00",
        "metric": "GPU utilization",
        "percent": 50.0,
    }
    assert values[1]["percent"] == pytest.approx(100 * 1000 / 81559)


def test_long_runs_are_thinned_on_the_chart_not_in_the_data():
    series = _series(3000)
    values = utilization_spec(series, points=100)["data"]["values"]
    times = [v["time"] for v in values if v["metric"] == "GPU utilization"]
    assert len(times) == 100
    assert times[0] == "2026-11-30T12:00:00" and times[-1] == "2026-11-30T12:49:59"  # ends kept
    assert len(series["timestamp"]) == 3000


def test_time_range_and_status_texts():
    assert time_range_markdown({}) == "_No readings yet_"
    assert time_range_markdown(_series(3)) == (
        "_3 readings, 2026/11/30 12:00:00 to 2026/11/30 12:00:02_"
    )
    assert status_markdown(INFO, None, None, 1) == "Sampling 1 GPU every 1 s through NVML."
    stopped = status_markdown(INFO, None, "NVML stopped answering at 12:00", 1)
    assert "**Sampling stopped:** NVML stopped answering at 12:00. The step went on" in stopped
    missing = status_markdown(None, "nvidia-smi not found on PATH", None, 1)
    assert missing == (
        "**No GPU profile:** nvidia-smi not found on PATH. The step ran without GPU sampling."
    )


def test_options_default_as_outerbounds_client():
    assert GpuProfileOptions.parse((), {}).as_kwargs() == {
        "interval": 1,
        "card_interval": 5,
        "artifact_prefix": "gpu_profile_",
        "include_artifacts": True,
        "max_memory_mb": 100,
    }
    options = GpuProfileOptions.parse((), {"interval": 0.5, "card_interval": 2})
    assert (options.interval, options.card_interval) == (0.5, 2)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((1,), {}, "@gpu_profile takes keyword arguments only, e.g. @gpu_profile(interval=1)"),
        ((), {"intervall": 1}, "@gpu_profile has no argument intervall; it takes interval,"),
        ((), {"interval": 0}, "@gpu_profile(interval=0): give a positive number of seconds"),
        ((), {"card_interval": "5"}, "@gpu_profile(card_interval='5'): give a positive number"),
        ((), {"max_memory_mb": -1}, "@gpu_profile(max_memory_mb=-1): give a positive number of MB"),
        ((), {"artifact_prefix": "gpu-"}, "@gpu_profile(artifact_prefix='gpu-'): give a prefix"),
    ],
)
def test_bad_arguments_are_one_clear_error(args, kwargs, message):
    with pytest.raises(GpuProfileException) as caught:
        GpuProfileOptions.parse(args, kwargs)
    assert message in str(caught.value)
