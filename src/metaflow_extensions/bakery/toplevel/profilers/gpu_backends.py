"""Where GPU readings come from: NVML through `pynvml` (nvidia-ml-py), else `nvidia-smi`.

The seam for tests: `open_backend(load_nvml=..., smi_command=...)` takes the `pynvml` module (or
anything with its functions) and the nvidia-smi command to run, so the sampler is tested against
fakes on a machine without a GPU. Nothing here imports Metaflow: it runs in the task, in whatever
environment the step has.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol

NVIDIA_SMI_TIMEOUT = 10  # seconds; nvidia-smi can hang when the driver is wedged


class GpuUnavailable(Exception):
    """No backend could read the GPUs; `str(e)` says what was missing, for the card."""


class GpuReadError(Exception):
    """A backend that had started failed to take a reading (the driver went away, say)."""


@dataclass(frozen=True)
class GpuDevice:
    """One GPU as the card and the `<prefix>data` artifact list it."""

    device_id: str  # PCI bus id, as nvidia-smi prints it: stable across backends
    name: str
    memory_total_mib: float

    def as_artifact(self) -> dict:
        # Outerbounds' client stores the same three keys, memory as nvidia-smi prints it
        return {"device_id": self.device_id, "name": self.name, "memory": self.memory_text}

    @property
    def memory_text(self) -> str:
        return "%d MiB" % self.memory_total_mib


@dataclass(frozen=True)
class GpuInfo:
    """What is read once: versions and devices."""

    backend: str  # "NVML" or "nvidia-smi"
    driver_version: str
    cuda_version: str
    devices: tuple[GpuDevice, ...]


@dataclass(frozen=True)
class GpuSample:
    """One reading of one GPU; None where the GPU does not report a metric (MIG, old boards)."""

    device_id: str
    utilization: float | None  # percent
    memory_used_mib: float | None
    memory_total_mib: float | None
    temperature_c: float | None
    power_w: float | None


class GpuBackend(Protocol):
    name: str

    def sample(self) -> list[GpuSample]: ...

    def close(self) -> None: ...


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _cuda_text(version: int) -> str:
    """NVML's CUDA driver version, 12040, as 12.4."""
    return "%d.%d" % (version // 1000, (version % 1000) // 10)


class NvmlBackend:
    """Readings through NVML, the library nvidia-smi itself uses: no process per reading."""

    name = "NVML"

    def __init__(self, nvml: ModuleType) -> None:
        self._nvml = nvml
        self._handles: list[tuple[str, object]] = []

    def open(self) -> GpuInfo:
        nvml = self._nvml
        try:
            nvml.nvmlInit()
        except Exception as e:  # NVMLError_LibraryNotFound, _DriverNotLoaded, ...
            raise GpuUnavailable("NVML could not start (%s)" % _nvml_reason(e)) from None
        try:
            count = nvml.nvmlDeviceGetCount()
            devices = []
            for index in range(count):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                device_id = _text(nvml.nvmlDeviceGetPciInfo(handle).busId)
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                name = _text(nvml.nvmlDeviceGetName(handle))
                devices.append(GpuDevice(device_id, name, memory.total / 2**20))
                self._handles.append((device_id, handle))
            driver = _text(nvml.nvmlSystemGetDriverVersion())
            cuda = _optional(lambda: _cuda_text(nvml.nvmlSystemGetCudaDriverVersion()))
        except Exception as e:
            self.close()
            raise GpuUnavailable("NVML failed to list the GPUs (%s)" % _nvml_reason(e)) from None
        if not devices:
            self.close()
            raise GpuUnavailable("NVML found no GPU on this machine")
        return GpuInfo(self.name, driver, cuda or "unknown", tuple(devices))

    def sample(self) -> list[GpuSample]:
        nvml = self._nvml
        samples = []
        for device_id, handle in self._handles:
            try:
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            except Exception as e:
                raise GpuReadError("NVML: %s" % _nvml_reason(e)) from None
            samples.append(
                GpuSample(
                    device_id=device_id,
                    utilization=_optional(
                        lambda h=handle: nvml.nvmlDeviceGetUtilizationRates(h).gpu
                    ),
                    memory_used_mib=memory.used / 2**20,
                    memory_total_mib=memory.total / 2**20,
                    temperature_c=_optional(
                        lambda h=handle: nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU)
                    ),
                    power_w=_optional(lambda h=handle: nvml.nvmlDeviceGetPowerUsage(h) / 1000.0),
                )
            )
        return samples

    def close(self) -> None:
        self._handles = []
        try:
            self._nvml.nvmlShutdown()
        except Exception:
            pass  # not started, or already gone: nothing to release


def _optional(read: Callable[[], object]):
    """A metric some GPUs do not report (NVML_ERROR_NOT_SUPPORTED): None instead of failing."""
    try:
        return read()
    except Exception:
        return None


def _nvml_reason(error: Exception) -> str:
    text = str(error) or type(error).__name__
    if "Library Not Found" in text or "LibraryNotFound" in type(error).__name__:
        return "libnvidia-ml.so not found: no NVIDIA driver here"
    return text


_SMI_SAMPLE_FIELDS = (
    "pci.bus_id,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw"
)
_SMI_INFO_FIELDS = "pci.bus_id,name,memory.total,driver_version"


class SmiBackend:
    """Readings from `nvidia-smi --query-gpu` (one short process per reading): the fallback
    where the step's environment has no `pynvml` but the machine has the NVIDIA tools."""

    name = "nvidia-smi"

    def __init__(self, command: Sequence[str]) -> None:
        self._command = list(command)

    def _query(self, fields: str) -> list[list[str]]:
        args = [*self._command, "--query-gpu=" + fields, "--format=csv,noheader,nounits"]
        out = subprocess.run(
            args, capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT, check=False
        )
        if out.returncode != 0:
            message = (out.stderr or out.stdout).strip().splitlines()
            raise GpuReadError(
                "nvidia-smi exited with %d%s"
                % (out.returncode, ": " + message[0] if message else "")
            )
        return [
            [cell.strip() for cell in line.split(",")]
            for line in out.stdout.splitlines()
            if line.strip()
        ]

    def open(self) -> GpuInfo:
        try:
            rows = self._query(_SMI_INFO_FIELDS)
            header = subprocess.run(
                self._command, capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT
            ).stdout
        except (GpuReadError, OSError, subprocess.TimeoutExpired) as e:
            raise GpuUnavailable("nvidia-smi failed (%s)" % e) from None
        devices = tuple(
            GpuDevice(row[0], row[1], _number(row[2]) or 0.0) for row in rows if len(row) >= 4
        )
        if not devices:
            raise GpuUnavailable("nvidia-smi found no GPU on this machine")
        return GpuInfo(self.name, rows[0][3], _smi_cuda_version(header), devices)

    def sample(self) -> list[GpuSample]:
        try:
            rows = self._query(_SMI_SAMPLE_FIELDS)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise GpuReadError("nvidia-smi failed (%s)" % e) from None
        return [
            GpuSample(row[0], *(_number(cell) for cell in row[1:6]))
            for row in rows
            if len(row) >= 6
        ]

    def close(self) -> None:
        pass


def _number(cell: str) -> float | None:
    """A CSV cell as a number; nvidia-smi prints `[N/A]` or `[Not Supported]` for missing ones."""
    try:
        return float(cell)
    except ValueError:
        return None


def _smi_cuda_version(header: str) -> str:
    marker = "CUDA Version:"
    if marker not in header:
        return "unknown"
    return header.split(marker, 1)[1].split()[0].strip("| ") or "unknown"


def _import_pynvml() -> ModuleType:
    import pynvml

    return pynvml


def open_backend(
    load_nvml: Callable[[], ModuleType] = _import_pynvml,
    smi_command: Sequence[str] | None = None,
) -> tuple[GpuBackend, GpuInfo]:
    """The first backend that can read the GPUs, with what it read once.

    Raises GpuUnavailable naming what each backend lacked (for the card), e.g. "NVML could not
    start (libnvidia-ml.so not found: no NVIDIA driver here); nvidia-smi not found on PATH".
    """
    reasons = []
    try:
        nvml = load_nvml()
    except Exception:  # ImportError, or a pynvml that fails on this Python
        reasons.append("nvidia-ml-py (pynvml) is not installed in the step's environment")
    else:
        backend = NvmlBackend(nvml)
        try:
            return backend, backend.open()
        except GpuUnavailable as e:
            reasons.append(str(e))
    if smi_command is None:
        found = shutil.which("nvidia-smi")
        smi_command = [found] if found else None
    if not smi_command:
        reasons.append("nvidia-smi not found on PATH")
    else:
        smi = SmiBackend(smi_command)
        try:
            return smi, smi.open()
        except GpuUnavailable as e:
            reasons.append(str(e))
    raise GpuUnavailable("; ".join(reasons))


def warn(message: str) -> None:
    """One line on the task's stderr (its log), never an exception: profiling is best effort."""
    print("[@gpu_profile] %s" % message, file=sys.stderr, flush=True)
