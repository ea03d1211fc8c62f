"""A stand-in for nvidia-ml-py's `pynvml`, for machines without a GPU (this one).

The same names and shapes as the real module (the subset @gpu_profile calls), answering for
`FAKE_NVML_GPUS` H100s. Unit tests import it and set `CONFIG`; flow tests copy this file beside
a flow as `pynvml.py` and steer it with environment variables, which a local task inherits:

- FAKE_NVML_GPUS: how many GPUs (default 1; 0 for a driver without GPUs)
- FAKE_NVML_MODE: "nolib" (no libnvidia-ml.so), "nodriver" (driver not loaded)
- FAKE_NVML_FAIL_AFTER: memory readings per GPU that succeed before NVML reports the GPU lost
- FAKE_NVML_NO_POWER: "1" for GPUs that do not report power (NVML_ERROR_NOT_SUPPORTED)
"""

import os
from types import SimpleNamespace

NVML_TEMPERATURE_GPU = 0
CONFIG = {}
_state = {"memory_reads": 0, "initialized": False}


class NVMLError(Exception):
    pass


class NVMLError_LibraryNotFound(NVMLError):  # noqa: N801 - the real module's name
    pass


class NVMLError_DriverNotLoaded(NVMLError):  # noqa: N801
    pass


class NVMLError_NotSupported(NVMLError):  # noqa: N801
    pass


class NVMLError_GpuIsLost(NVMLError):  # noqa: N801
    pass


def _setting(name, default):
    if name in CONFIG:
        return CONFIG[name]
    return os.environ.get("FAKE_NVML_" + name.upper(), default)


def nvmlInit():  # noqa: N802 - pynvml's names
    mode = _setting("mode", "")
    if mode == "nolib":
        raise NVMLError_LibraryNotFound("NVML Shared Library Not Found")
    if mode == "nodriver":
        raise NVMLError_DriverNotLoaded("Driver Not Loaded")
    _state.update(memory_reads=0, initialized=True)


def nvmlShutdown():  # noqa: N802
    _state["initialized"] = False


def nvmlDeviceGetCount():  # noqa: N802
    return int(_setting("gpus", 1))


def nvmlDeviceGetHandleByIndex(index):  # noqa: N802
    return SimpleNamespace(index=index)


def nvmlDeviceGetPciInfo(handle):  # noqa: N802
    return SimpleNamespace(busId=b"00000000:%02X:00.0" % (0x18 + handle.index))


def nvmlDeviceGetName(handle):  # noqa: N802
    return "NVIDIA H100 80GB HBM3"


def nvmlDeviceGetMemoryInfo(handle):  # noqa: N802
    fail_after = _setting("fail_after", "")
    _state["memory_reads"] += 1
    # open() reads each GPU's memory once, then every reading does
    if fail_after != "" and _state["memory_reads"] > (int(fail_after) + 1) * nvmlDeviceGetCount():
        raise NVMLError_GpuIsLost("GPU is lost")
    used = (2048 + 1024 * _state["memory_reads"]) * 2**20
    return SimpleNamespace(total=81559 * 2**20, used=used, free=81559 * 2**20 - used)


def nvmlDeviceGetUtilizationRates(handle):  # noqa: N802
    return SimpleNamespace(gpu=min(100, 40 + 10 * _state["memory_reads"]), memory=30)


def nvmlDeviceGetTemperature(handle, sensor):  # noqa: N802
    return 45 + handle.index


def nvmlDeviceGetPowerUsage(handle):  # noqa: N802
    if str(_setting("no_power", "")) == "1":
        raise NVMLError_NotSupported("Not Supported")
    return 250_000  # milliwatts


def nvmlSystemGetDriverVersion():  # noqa: N802
    return "550.54.15"


def nvmlSystemGetCudaDriverVersion():  # noqa: N802
    return 12040
