"""Reading GPUs through NVML (a fake pynvml) and through nvidia-smi (a fake executable)."""

from __future__ import annotations

import importlib
import os
import sys

import pytest

from metaflow_extensions.bakery.toplevel.profilers.gpu_backends import (
    GpuReadError,
    GpuUnavailable,
    NvmlBackend,
    SmiBackend,
    open_backend,
)


@pytest.fixture
def nvml():
    """The fake pynvml, fresh for each test."""
    module = importlib.import_module("tests.profilers.fake_pynvml")
    module.CONFIG.clear()
    yield module
    module.CONFIG.clear()


def _no_pynvml():
    raise ImportError("No module named 'pynvml'")


def test_nvml_reads_versions_devices_and_every_metric(nvml):
    nvml.CONFIG["gpus"] = 2
    backend = NvmlBackend(nvml)
    info = backend.open()
    assert info.backend == "NVML"
    assert (info.driver_version, info.cuda_version) == ("550.54.15", "12.4")
    assert [d.device_id for d in info.devices] == ["00000000:18:00.0", "00000000:19:00.0"]
    assert info.devices[0].as_artifact() == {
        "device_id": "00000000:18:00.0",
        "name": "NVIDIA H100 80GB HBM3",
        "memory": "81559 MiB",
    }
    samples = backend.sample()
    assert [s.device_id for s in samples] == ["00000000:18:00.0", "00000000:19:00.0"]
    first = samples[0]
    assert first.memory_total_mib == 81559 and first.memory_used_mib > 2048
    assert first.utilization >= 40 and first.temperature_c == 45 and first.power_w == 250.0


def test_a_metric_the_gpu_does_not_report_is_none_not_an_error(nvml):
    nvml.CONFIG["no_power"] = "1"
    backend = NvmlBackend(nvml)
    backend.open()
    (sample,) = backend.sample()
    assert sample.power_w is None and sample.utilization is not None


def test_a_lost_gpu_mid_run_is_a_read_error(nvml):
    nvml.CONFIG["fail_after"] = 1
    backend = NvmlBackend(nvml)
    backend.open()
    backend.sample()
    with pytest.raises(GpuReadError, match="GPU is lost"):
        backend.sample()


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"mode": "nolib"}, "NVML could not start (libnvidia-ml.so not found: no NVIDIA driver"),
        ({"mode": "nodriver"}, "NVML could not start (Driver Not Loaded)"),
        ({"gpus": 0}, "NVML found no GPU"),
    ],
)
def test_nvml_without_a_usable_gpu_says_why(nvml, config, reason):
    nvml.CONFIG.update(config)
    with pytest.raises(GpuUnavailable) as caught:
        open_backend(lambda: nvml, smi_command=[])
    assert reason in str(caught.value)
    assert "nvidia-smi not found on PATH" in str(caught.value)


def test_no_pynvml_in_the_environment_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi either
    with pytest.raises(GpuUnavailable) as caught:
        open_backend(_no_pynvml)
    assert str(caught.value) == (
        "nvidia-ml-py (pynvml) is not installed in the step's environment; "
        "nvidia-smi not found on PATH"
    )


def _nvml_loads() -> bool:
    import ctypes

    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


@pytest.mark.skipif(_nvml_loads(), reason="this machine has an NVIDIA driver")
def test_the_real_pynvml_on_this_machine_finds_no_driver(monkeypatch, tmp_path):
    """nvidia-ml-py is a Bakery dependency; without an NVIDIA driver it says what is missing."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GpuUnavailable, match="libnvidia-ml.so not found"):
        open_backend()


FAKE_SMI = """\
import sys
args = sys.argv[1:]
if {fail!r}:
    print("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.")
    sys.exit(9)
if not args:
    print("| NVIDIA-SMI 550.54.15    Driver Version: 550.54.15    CUDA Version: 12.4     |")
elif args[0].startswith("--query-gpu=pci.bus_id,name"):
    print("00000000:18:00.0, NVIDIA A10G, 23028, 550.54.15")
    print("00000000:19:00.0, NVIDIA A10G, 23028, 550.54.15")
else:
    print("00000000:18:00.0, 87, 20011, 23028, 61, 180.25")
    print("00000000:19:00.0, 0, 3, 23028, 33, [N/A]")
"""


def _fake_smi(tmp_path, fail=False) -> list[str]:
    script = tmp_path / "nvidia-smi.py"
    script.write_text(FAKE_SMI.format(fail=fail))
    return [sys.executable, str(script)]


def test_nvidia_smi_is_the_fallback_without_pynvml(tmp_path):
    backend, info = open_backend(_no_pynvml, smi_command=_fake_smi(tmp_path))
    assert isinstance(backend, SmiBackend) and info.backend == "nvidia-smi"
    assert (info.driver_version, info.cuda_version) == ("550.54.15", "12.4")
    assert [(d.device_id, d.name, d.memory_text) for d in info.devices] == [
        ("00000000:18:00.0", "NVIDIA A10G", "23028 MiB"),
        ("00000000:19:00.0", "NVIDIA A10G", "23028 MiB"),
    ]
    busy, idle = backend.sample()
    assert (busy.utilization, busy.memory_used_mib, busy.temperature_c, busy.power_w) == (
        87,
        20011,
        61,
        180.25,
    )
    assert idle.power_w is None  # [N/A]


def test_nvidia_smi_found_on_path(tmp_path, monkeypatch):
    tool = tmp_path / "nvidia-smi"
    tool.write_text("#!%s\n%s" % (sys.executable, FAKE_SMI.format(fail=False)))
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ["PATH"])
    backend, info = open_backend(_no_pynvml)
    assert info.backend == "nvidia-smi" and len(backend.sample()) == 2


def test_a_failing_nvidia_smi_is_named_with_its_message(tmp_path):
    with pytest.raises(GpuUnavailable) as caught:
        open_backend(_no_pynvml, smi_command=_fake_smi(tmp_path, fail=True))
    assert "nvidia-smi failed (nvidia-smi exited with 9: NVIDIA-SMI has failed" in str(caught.value)


def test_nvml_wins_over_nvidia_smi(nvml, tmp_path):
    backend, info = open_backend(lambda: nvml, smi_command=_fake_smi(tmp_path))
    assert info.backend == "NVML"
    backend.close()


def test_close_is_safe_twice(nvml):
    backend = NvmlBackend(nvml)
    backend.open()
    backend.close()
    backend.close()
    assert not nvml._state["initialized"]
