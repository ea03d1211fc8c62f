"""One settings object: one order of precedence, checked values, and the README's table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakery.errors import SettingsError
from bakery.settings import SETTINGS, Settings, read_metaflow_config, settings_table

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def metaflow_home(tmp_path, monkeypatch):
    """An empty Metaflow home and a working folder without `.metaflow`."""
    home = tmp_path / "mfhome"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


def test_defaults_when_nothing_is_set(metaflow_home):
    settings = Settings.load(environ={"METAFLOW_HOME": str(metaflow_home)})
    assert settings == Settings()
    assert settings.source("cache_dir") == "default"


def test_metaflow_env_beats_profile_beats_short_name(metaflow_home):
    (metaflow_home / "config_team.json").write_text(
        json.dumps({"METAFLOW_BAKERY_CACHE_DIR": "/from/profile"})
    )
    base = {"METAFLOW_HOME": str(metaflow_home), "METAFLOW_PROFILE": "team"}
    short = {**base, "BAKERY_CACHE_DIR": "/from/short"}
    assert Settings.load(environ=short).cache_dir == Path("/from/profile")
    assert "config_team.json" in Settings.load(environ=short).source("cache_dir")
    full = {**short, "METAFLOW_BAKERY_CACHE_DIR": "/from/env"}
    assert Settings.load(environ=full).cache_dir == Path("/from/env")
    no_profile = {"METAFLOW_HOME": str(metaflow_home), "BAKERY_CACHE_DIR": "/from/short"}
    assert Settings.load(environ=no_profile).cache_dir == Path("/from/short")


def test_local_metaflow_config_beats_the_profile(metaflow_home, tmp_path):
    (metaflow_home / "config.json").write_text(json.dumps({"METAFLOW_BAKERY_REGISTRY": "a/b"}))
    (tmp_path / "work" / ".metaflow").mkdir()
    (tmp_path / "work" / ".metaflow" / "config.json").write_text(
        json.dumps({"METAFLOW_BAKERY_REGISTRY": "local/reg"})
    )
    assert Settings.load(environ={"METAFLOW_HOME": str(metaflow_home)}).registry == "local/reg"


def test_values_are_parsed(metaflow_home):
    env = {
        "METAFLOW_HOME": str(metaflow_home),
        "METAFLOW_BAKERY_FROZEN": "true",
        "BAKERY_SNAPSHOT": "Always",
        "BAKERY_PYTHONS": "/a/python:/b/python",
        "METAFLOW_CONDA_CHANNELS": "conda-forge, bioconda",
        "BAKERY_INSECURE_REGISTRIES": "reg.local:5000,",
    }
    settings = Settings.load(environ=env)
    assert settings.frozen is True
    assert settings.snapshot == "always"
    assert settings.pythons == (Path("/a/python"), Path("/b/python"))
    assert settings.conda_channels == ("conda-forge", "bioconda")
    assert settings.insecure_registries == ("reg.local:5000",)


def test_a_core_metaflow_knob_keeps_its_plain_name(metaflow_home):
    env = {"METAFLOW_HOME": str(metaflow_home), "CONDA_CHANNELS": "bioconda"}
    assert Settings.load(environ=env).conda_channels == ("bioconda",)


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("BAKERY_SNAPSHOT", "sometimes", "is not one of auto, always, never"),
        ("METAFLOW_BAKERY_FROZEN", "maybe", "is not a yes/no value"),
    ],
)
def test_a_bad_value_is_one_clear_error(metaflow_home, name, value, fragment):
    with pytest.raises(SettingsError, match=fragment) as error:
        Settings.load(environ={"METAFLOW_HOME": str(metaflow_home), name: value})
    assert "METAFLOW_" in str(error.value)


def test_unreadable_metaflow_config_is_one_clear_error(metaflow_home):
    (metaflow_home / "config.json").write_text("{not json")
    with pytest.raises(SettingsError, match="cannot read Metaflow's configuration"):
        read_metaflow_config({"METAFLOW_HOME": str(metaflow_home)})


def test_cache_root_follows_xdg_cache_home():
    assert Settings().cache_root({"XDG_CACHE_HOME": "/xdg"}) == Path("/xdg/bakery")
    assert Settings(cache_dir=Path("/c")).cache_root({"XDG_CACHE_HOME": "/xdg"}) == Path("/c")


def test_loading_does_not_write_the_environment(metaflow_home, monkeypatch):
    import os

    monkeypatch.setenv("BAKERY_COMPILE_BYTECODE", "sync")
    before = dict(os.environ)
    Settings.load()
    assert dict(os.environ) == before


def test_readme_settings_table_is_generated_from_the_settings():
    readme = (REPO / "README.md").read_text()
    assert settings_table() in readme, "README's settings table is stale: paste settings_table()"


def test_every_setting_has_one_row():
    names = [info.name for info in SETTINGS]
    assert len(names) == len(set(names))
