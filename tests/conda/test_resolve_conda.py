"""resolve_conda against the test channels: what gets locked, and the errors users see."""

from __future__ import annotations

import time

import pytest

from bakery.errors import IndexUnreachableError, PackageNotFoundError, ResolutionError, SpecError
from bakery.lock.model import LockedEnv
from bakery.resolve.conda import conda_channels, python_match_spec, resolve_conda


def _versions(env: LockedEnv) -> dict[str, str]:
    return {p.name: p.version for p in env.packages}


def test_locks_requested_package_with_python_from_file_channel(make_spec, conda_channels):
    env = resolve_conda(make_spec("tinylib"), channels=[conda_channels.main])

    assert _versions(env) == {"python": env.spec.python, "tinylib": "1.0"}
    assert env.python == ".".join(env.spec.python.split(".")[:2])
    tinylib = next(p for p in env.packages if p.name == "tinylib")
    assert tinylib.kind == "conda"
    assert tinylib.url == f"{conda_channels.main}/noarch/{tinylib.filename}"
    assert tinylib.channel.rstrip("/") == conda_channels.main
    assert len(tinylib.sha256) == 64 and tinylib.size
    assert tinylib.record["fn"] == tinylib.filename and tinylib.record["depends"] == ["python"]


def test_locks_from_http_channel(make_spec, conda_http_channels, tmp_path):
    env = resolve_conda(
        make_spec("tinytool"), channels=[conda_http_channels.main], cache_dir=tmp_path
    )

    assert _versions(env)["tinytool"] == "1.0"
    assert all(p.url.startswith(conda_http_channels.main) for p in env.packages)


def test_lock_survives_a_json_round_trip(make_spec, conda_channels):
    env = resolve_conda(make_spec("tinylib", "a"), channels=[conda_channels.main])

    assert LockedEnv.from_dict(env.to_dict()).env_id == env.env_id


def test_version_pins_are_respected(make_spec, conda_channels):
    env = resolve_conda(make_spec("tinylib<1", "a"), channels=[conda_channels.main])

    assert _versions(env)["tinylib"] == "0.9"
    assert _versions(env)["b"] == "1.0"  # a 1.0 needs b <2


def test_channel_prefix_takes_the_package_from_that_channel(make_spec, conda_channels):
    spec = make_spec(f"{conda_channels.extra}::tinylib")

    env = resolve_conda(spec, channels=[conda_channels.main])

    tinylib = next(p for p in env.packages if p.name == "tinylib")
    assert tinylib.version == "2.0"
    assert tinylib.channel.rstrip("/") == conda_channels.extra


def test_spec_channels_come_before_defaults():
    from bakery.spec import EnvSpec, Requirement

    spec = EnvSpec(
        python="3.11",
        conda=(Requirement("x", "", "file:///c3"),),
        channels=("file:///c1",),
    )
    assert conda_channels(spec, ["file:///c2/", "file:///c1"]) == [
        "file:///c1",
        "file:///c2",
        "file:///c3",
    ]


def test_conda_forge_is_the_default_channel_besides_channel_prefixes():
    from bakery.spec import EnvSpec, Requirement

    spec = EnvSpec(python="3.11", conda=(Requirement("torch", "", "pytorch"),))
    assert conda_channels(spec) == ["conda-forge", "pytorch"]


@pytest.mark.parametrize(
    ("python", "expected"),
    [
        ("3.11", "python 3.11.*"),
        ("3.11.7", "python ==3.11.7"),
        (">=3.10,<3.12", "python >=3.10,<3.12"),
    ],
)
def test_python_version_becomes_a_match_spec(python, expected):
    assert python_match_spec(python) == expected


def test_unavailable_python_version_is_a_resolution_error(make_spec, conda_channels):
    with pytest.raises(ResolutionError, match=r"python 3\.99"):
        resolve_conda(make_spec("tinylib", python="3.99"), channels=[conda_channels.main])


def test_conflicting_requirements_explain_the_conflict(make_spec, conda_channels):
    with pytest.raises(ResolutionError) as caught:
        resolve_conda(make_spec("a", "c"), channels=[conda_channels.main])

    message = str(caught.value)
    assert not isinstance(caught.value, PackageNotFoundError)
    assert "b <2" in message and "b >=2" in message
    assert "relax or remove" in message


def test_unknown_package_names_package_and_channels(make_spec, conda_channels):
    with pytest.raises(PackageNotFoundError) as caught:
        resolve_conda(make_spec("tinylib", "no-such-pkg"), channels=[conda_channels.main])

    assert "'no-such-pkg'" in str(caught.value)
    assert conda_channels.main in str(caught.value)


def test_malformed_version_is_a_spec_error(make_spec, conda_channels):
    with pytest.raises(SpecError, match="tinylib"):
        resolve_conda(make_spec("tinylib>>1"), channels=[conda_channels.main])


def test_unreachable_http_channel_fails_fast_naming_it(make_spec, closed_port_url):
    started = time.monotonic()
    with pytest.raises(IndexUnreachableError) as caught:
        resolve_conda(make_spec("tinylib"), channels=[closed_port_url])

    assert closed_port_url in str(caught.value)
    assert time.monotonic() - started < 10


def test_missing_file_channel_is_unreachable(make_spec, tmp_path):
    missing = (tmp_path / "no-channel").as_uri()
    with pytest.raises(IndexUnreachableError, match="no-channel"):
        resolve_conda(make_spec("tinylib"), channels=[missing])


@pytest.mark.parametrize("platform", ["linux-aarch64", "osx-arm64"])
def test_noarch_packages_lock_for_another_platform(make_spec, conda_channels, platform):
    env = resolve_conda(
        make_spec("tinylib", "tinytool", platform=platform), channels=[conda_channels.main]
    )

    subdirs = {p.name: p.record["subdir"] for p in env.packages}
    assert subdirs == {"python": platform, "tinylib": "noarch", "tinytool": "noarch"}


def test_package_without_build_for_platform_says_so(make_spec, conda_channels):
    with pytest.raises(ResolutionError) as caught:
        resolve_conda(
            make_spec("nativelib", platform="linux-aarch64"), channels=[conda_channels.main]
        )

    message = str(caught.value)
    assert not isinstance(caught.value, PackageNotFoundError)
    assert "'nativelib' has no build for linux-aarch64" in message
    assert "linux-64" in message


def test_cuda_package_without_gpu_explains_the_override(make_spec, conda_channels, monkeypatch):
    monkeypatch.setenv("CONDA_OVERRIDE_CUDA", "")  # conda's way to say "no GPU"
    with pytest.raises(ResolutionError, match="CONDA_OVERRIDE_CUDA"):
        resolve_conda(make_spec("cudapkg", platform="linux-64"), channels=[conda_channels.main])


def test_cuda_package_locks_with_explicit_virtual_package(make_spec, conda_channels):
    env = resolve_conda(
        make_spec("cudapkg", platform="linux-64"),
        channels=[conda_channels.main],
        virtual_packages=["__cuda=12.4"],
    )

    assert "cudapkg" in _versions(env)


def test_cuda_package_locks_with_conda_override_cuda(make_spec, conda_channels, monkeypatch):
    monkeypatch.setenv("CONDA_OVERRIDE_CUDA", "12.4")

    env = resolve_conda(make_spec("cudapkg", platform="linux-64"), channels=[conda_channels.main])

    assert "cudapkg" in _versions(env)


def test_too_old_cuda_override_is_rejected(make_spec, conda_channels):
    with pytest.raises(ResolutionError, match="__cuda"):
        resolve_conda(
            make_spec("cudapkg", platform="linux-64"),
            channels=[conda_channels.main],
            virtual_packages=["__cuda=11.8"],
        )


def test_http_path_that_is_not_a_channel_is_unreachable(make_spec, conda_http_channels, tmp_path):
    wrong = f"{conda_http_channels.main}-typo"
    with pytest.raises(IndexUnreachableError, match="main-typo"):
        resolve_conda(make_spec("tinylib"), channels=[wrong], cache_dir=tmp_path)


def test_resolves_from_inside_a_running_event_loop(make_spec, conda_channels):
    import asyncio

    async def resolve_in_loop() -> LockedEnv:
        return resolve_conda(make_spec("tinytool"), channels=[conda_channels.main])

    assert "tinytool" in _versions(asyncio.run(resolve_in_loop()))
