"""The `gpu_profile` card: what it shows, built from the sampler's series.

The text and chart specs are plain functions of the readings (tested without Metaflow);
`GpuProfileCard` holds the card components and updates them in place, so each refresh ships only
a data update, as `@card(refresh_interval=...)` does for a user's own live card.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .gpu_backends import GpuDevice, GpuInfo
from .gpu_sampler import TIMESTAMP_FORMAT

CARD_ID = "gpu_profile"
CHART_POINTS = 500  # readings per chart; longer runs are thinned (the artifact keeps them all)
UTILIZATION_COLOR = "#ff69b4"
MEMORY_COLOR = "#0c64d6"


def _values(series: dict, field: str) -> list[float]:
    return [v for v in series.get(field, []) if v is not None]


def _fmt(value: float | None, unit: str, digits: int = 0) -> str:
    return "–" if value is None else ("%.*f%s" % (digits, value, unit))


def summary_markdown(devices: Sequence[GpuDevice], series: dict[str, dict]) -> str:
    """One row per GPU: readings, max and mean utilization, peak memory, max temperature and
    power. Blank cells (–) where the GPU reports no such metric."""
    lines = [
        "| GPU | readings | max GPU % | mean GPU % | peak memory | max temperature | max power |",
        "|---|---|---|---|---|---|---|",
    ]
    for device in devices:
        data = series.get(device.device_id, {})
        util = _values(data, "gpu_utilization")
        memory = _values(data, "memory_used")
        temperature = _values(data, "temperature")
        power = _values(data, "power")
        lines.append(
            "| `%s` | %d | %s | %s | %s | %s | %s |"
            % (
                device.device_id,
                len(data.get("timestamp", [])),
                _fmt(max(util) if util else None, "%"),
                _fmt(sum(util) / len(util) if util else None, "%", 1),
                _fmt(max(memory) if memory else None, " MiB"),
                _fmt(max(temperature) if temperature else None, " °C"),
                _fmt(max(power) if power else None, " W", 1),
            )
        )
    return "\n".join(lines)


def time_range_markdown(series: dict) -> str:
    stamps = series.get("timestamp", [])
    if not stamps:
        return "_No readings yet_"
    return "_%d readings, %s to %s_" % (len(stamps), stamps[0], stamps[-1])


def _thin(indices: int, limit: int) -> list[int]:
    """At most `limit` evenly spread indices of `indices` items, first and last kept."""
    if indices <= limit:
        return list(range(indices))
    step = (indices - 1) / (limit - 1)
    return sorted({round(i * step) for i in range(limit)})


def utilization_spec(series: dict, points: int = CHART_POINTS) -> dict:
    """A Vega-Lite line chart: GPU utilization and memory used, in percent, over time."""
    stamps = series.get("timestamp", [])
    values = []
    for i in _thin(len(stamps), points):
        when = datetime.strptime(stamps[i], TIMESTAMP_FORMAT).isoformat()
        util = series["gpu_utilization"][i]
        used, total = series["memory_used"][i], series["memory_total"][i]
        if util is not None:
            values.append({"time": when, "metric": "GPU utilization", "percent": util})
        if used is not None and total:
            values.append({"time": when, "metric": "memory used", "percent": 100 * used / total})
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "description": "GPU utilization and memory over time",
        "width": 600,
        "height": 250,
        "data": {"values": values},
        "mark": {"type": "line", "tooltip": True},
        "encoding": {
            "x": {"field": "time", "type": "temporal", "title": "time"},
            "y": {
                "field": "percent",
                "type": "quantitative",
                "title": "%",
                "scale": {"domain": [0, 100]},
            },
            "color": {
                "field": "metric",
                "type": "nominal",
                "scale": {
                    "domain": ["GPU utilization", "memory used"],
                    "range": [UTILIZATION_COLOR, MEMORY_COLOR],
                },
            },
        },
    }


def status_markdown(info: GpuInfo | None, problem: str | None, error: str | None, interval) -> str:
    if info is None:
        return "**No GPU profile:** %s. The step ran without GPU sampling." % (problem or "no GPU")
    text = "Sampling %d GPU%s every %s s through %s." % (
        len(info.devices),
        "" if len(info.devices) == 1 else "s",
        interval,
        info.backend,
    )
    if error:
        text += (
            "\n\n**Sampling stopped:** %s. The step went on; readings up to then are kept." % error
        )
    return text


class GpuProfileCard:
    """The components of the `gpu_profile` card, appended once and then updated in place."""

    def __init__(self, card, pathspec: str, attempt: int, interval: float) -> None:
        self._card = card
        self._pathspec = pathspec
        self._attempt = attempt
        self._interval = interval
        self._status = None
        self._summary = None
        self._info: GpuInfo | None = None
        self._charts: dict[str, tuple] = {}

    def set_up(self, info: GpuInfo | None, problem: str | None = None) -> None:
        from metaflow.cards import Markdown, Table, VegaChart

        card = self._card
        started = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %z")
        card.append(Markdown("# GPU profile for `%s`" % self._pathspec))
        card.append(Markdown("_Started at %s, attempt %d_" % (started, self._attempt)))
        self._status = Markdown(status_markdown(info, problem, None, self._interval))
        card.append(self._status)
        if info is None:
            return
        card.append(Markdown("## Drivers"))
        card.append(
            Table([[info.driver_version, info.cuda_version]], headers=["NVIDIA driver", "CUDA"])
        )
        card.append(Markdown("## Devices"))
        card.append(
            Table(
                [[d.device_id, d.name, d.memory_text] for d in info.devices],
                headers=["device", "name", "memory"],
            )
        )
        card.append(Markdown("## Utilization"))
        self._summary = Markdown(summary_markdown(info.devices, {}))
        card.append(self._summary)
        for device in info.devices:
            card.append(Markdown("### `%s` (%s)" % (device.device_id, device.name)))
            span = Markdown(time_range_markdown({}))
            chart = VegaChart(utilization_spec({}))
            card.append(span)
            card.append(chart)
            self._charts[device.device_id] = (span, chart)
        self._info = info

    def update(self, series: dict[str, dict], error: str | None, cpu: float | None = None) -> None:
        """Put the latest readings (and a sampling error, if any; at the end, what sampling
        cost in CPU) into the components."""
        if self._summary is None:
            return
        status = status_markdown(self._info, None, error, self._interval)
        if cpu is not None:
            status += "\n\n_Sampling used %.2f s of CPU in all._" % cpu
        self._status.update(status)
        self._summary.update(summary_markdown(self._info.devices, series))
        for device_id, (span, chart) in self._charts.items():
            data = series.get(device_id, {})
            span.update(time_range_markdown(data))
            chart.update(utilization_spec(data))

    def refresh(self, force: bool = False) -> None:
        self._card.refresh(force=force)
