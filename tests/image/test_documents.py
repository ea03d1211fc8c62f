"""Every baked image gets an SBOM and a provenance statement, pushed as OCI 1.1 referrers.

The CNCF registry (2.8) has no referrers API: Bakery keeps the referrers tag schema's index.
A registry with the API is a proxy in front of it that answers `GET /v2/<name>/referrers/<digest>`
from the referrer manifests pushed through it (tests/fixtures/pretend_registry.py).
"""

from __future__ import annotations

import json

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from bakery.cli.main import main
from bakery.image.bake import BakeOptions, bake
from bakery.image.documents import PROVENANCE_MEDIA_TYPE, SBOM_MEDIA_TYPE
from bakery.image.inspect import read_sbom
from bakery.image.oci import (
    EMPTY_CONFIG,
    OCI_EMPTY,
    OCI_MANIFEST,
    Descriptor,
    ImageManifest,
    canonical_json,
    sha256_digest,
)
from bakery.image.sbom import purl_of
from bakery.registry import RegistryClient
from bakery.registry.referrers import Referrers, add_referrers, list_referrers, referrers_tag
from tests.fixtures.pretend_registry import Exchange

from .locks import lock
from .test_bake import RequestLog

pytestmark = [pytest.mark.slow, pytest.mark.container]

REQUESTS = ("requests==2.32.3", "markupsafe==3.0.2")


@pytest.fixture(scope="module")
def baked(base_images, shared_cache):
    options = BakeOptions(cache_dir=shared_cache, progress=False)
    repository = f"{base_images.host}/t/documents"
    return bake(lock(REQUESTS), base=base_images.oci, repository=repository, options=options)


def test_sbom_lists_every_locked_package_with_purl_sha256_and_license(baked, base_images):
    text = read_sbom(baked.reference).decode()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    sbom = json.loads(text)
    components = {c["purl"]: c for c in sbom["components"]}
    env = lock(REQUESTS)
    for package in env.packages:
        found = components[purl_of(package)]
        assert (found["name"], found["version"]) == (package.name, package.version)
        assert found["hashes"] == [{"alg": "SHA-256", "content": package.sha256}]
        assert found["externalReferences"][0]["url"] == package.url
        assert found.get("licenses"), f"{package.name} has no license"
    assert components[purl_of(_package(env, "requests"))]["licenses"] == [
        {"license": {"id": "Apache-2.0"}}
    ]
    base = next(c for c in sbom["components"] if c["type"] == "container")
    assert base["version"] == baked.base.rsplit("@", 1)[1]
    assert sbom["metadata"]["component"]["version"] == baked.digest
    assert sbom["metadata"]["tools"]["components"][0]["name"] == "metaflow-bakery"


def test_provenance_is_a_slsa_v1_statement_about_the_image(baked):
    repository = baked.image.split("/", 1)[1].rsplit(":", 1)[0]
    host = baked.image.split("/", 1)[0]
    with RegistryClient(host) as client:
        listing = list_referrers(client, repository, baked.digest)
        (descriptor,) = listing.of_type(PROVENANCE_MEDIA_TYPE)
        manifest = client.get_manifest(repository, descriptor["digest"]).document
        body = client.get_blob_bytes(repository, manifest["layers"][0]["digest"])
    statement = json.loads(body)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert statement["subject"][0]["digest"] == {"sha256": baked.digest.split(":", 1)[1]}
    definition = statement["predicate"]["buildDefinition"]
    env = lock(REQUESTS)
    assert definition["externalParameters"]["envId"] == env.env_id
    assert definition["externalParameters"]["platform"] == "linux-64"
    assert len(definition["externalParameters"]["lockHash"]) == 64
    dependencies = {d["digest"].get("sha256") for d in definition["resolvedDependencies"]}
    assert {p.sha256 for p in env.packages} | {baked.base.rsplit(":", 1)[1]} == dependencies
    builder = statement["predicate"]["runDetails"]["builder"]
    assert builder["id"].startswith("pkg:pypi/metaflow-bakery@") and builder["version"]


def test_without_the_referrers_api_they_are_listed_by_the_tag_schema_index(baked):
    repository = baked.image.split("/", 1)[1].rsplit(":", 1)[0]
    host = baked.image.split("/", 1)[0]
    with RegistryClient(host) as client:
        assert client.get_referrers(repository, baked.digest) is None  # 404: no API
        index = client.get_manifest(repository, referrers_tag(baked.digest)).document
        assert referrers_tag(baked.digest) == "sha256-" + baked.digest.split(":", 1)[1]
        types = [d["artifactType"] for d in index["manifests"]]
        assert types == [SBOM_MEDIA_TYPE, PROVENANCE_MEDIA_TYPE]
        for descriptor in index["manifests"]:
            manifest = client.get_manifest(repository, descriptor["digest"]).document
            assert manifest["subject"]["digest"] == baked.digest
            assert manifest["artifactType"] == descriptor["artifactType"]
            assert manifest["config"]["mediaType"] == OCI_EMPTY
            assert descriptor["annotations"] == manifest["annotations"]
    assert [kind for kind, _ in baked.referrers] == types


def test_show_lists_the_referrers_and_sbom_prints_the_sbom(capsys, baked):
    assert main(["image", "show", baked.reference, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [r["artifact_type"] for r in info["referrers"]] == [
        SBOM_MEDIA_TYPE,
        PROVENANCE_MEDIA_TYPE,
    ]
    assert main(["image", "show", baked.reference]) == 0
    assert f"referrer   {SBOM_MEDIA_TYPE}" in capsys.readouterr().out
    assert main(["image", "sbom", baked.reference]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed)["bomFormat"] == "CycloneDX"
    assert printed.encode() == read_sbom(baked.reference)


def test_sbom_of_an_image_without_one_is_a_clear_error(capsys, base_images):
    assert main(["image", "sbom", base_images.oci]) == 1
    err = capsys.readouterr().err
    assert "has no SBOM attached" in err and "bakery bake" in err


def test_lost_referrers_are_pushed_again_and_then_checked_in_one_request(base_images, shared_cache):
    options = BakeOptions(cache_dir=shared_cache, progress=False)
    repository = f"{base_images.host}/t/lostrefs"
    env = lock(("idna==3.10",))
    first = bake(env, base=base_images.oci, repository=repository, options=options)
    with RegistryClient(base_images.host) as client:
        index = client.head_manifest("t/lostrefs", referrers_tag(first.digest))
        client._transport.request(
            "DELETE", f"/v2/t/lostrefs/manifests/{index}", what="x", ok=(202,)
        )
        assert client.head_manifest("t/lostrefs", referrers_tag(first.digest)) is None
    again = bake(env, base=base_images.oci, repository=repository, options=options)
    assert not again.up_to_date and again.digest == first.digest
    assert again.referrers == first.referrers
    with RegistryClient(base_images.host) as client:
        assert client.head_manifest("t/lostrefs", referrers_tag(first.digest)) == index
        log = RequestLog(client)
        third = bake(
            env, base=base_images.oci, repository=repository, options=options, client=client
        )
    assert third.up_to_date
    assert [method for method, _ in log.calls] == ["HEAD", "HEAD"]
    assert log.calls[1][1].endswith(f"/manifests/{referrers_tag(first.digest)}")


def test_referrers_of_other_tools_stay_in_the_index(base_images, shared_cache):
    options = BakeOptions(cache_dir=shared_cache, progress=False)
    repository = f"{base_images.host}/t/foreign"
    env = lock(("idna==3.10",))
    first = bake(env, base=base_images.oci, repository=repository, options=options)
    tag = referrers_tag(first.digest)
    with RegistryClient(base_images.host) as client:  # as a signing tool would, before Bakery
        index = client.head_manifest("t/foreign", tag)
        client._transport.request("DELETE", f"/v2/t/foreign/manifests/{index}", what="x", ok=(202,))
        signature = b"not really a signature"
        client.push_blob("t/foreign", sha256_digest(signature), signature)
        subject = client.get_manifest("t/foreign", first.digest)
        foreign = ImageManifest(
            config=Descriptor(OCI_EMPTY, sha256_digest(EMPTY_CONFIG), 2),
            layers=(
                Descriptor("application/vnd.example.sig", sha256_digest(signature), len(signature)),
            ),
            artifact_type="application/vnd.example.sig",
            subject=Descriptor(OCI_MANIFEST, first.digest, len(subject.body)),
        )
        descriptor = Descriptor(
            OCI_MANIFEST,
            foreign.digest,
            len(foreign.to_bytes()),
            artifact_type=foreign.artifact_type,
        )
        add_referrers(
            client,
            "t/foreign",
            Referrers(first.digest),
            [(foreign.to_bytes(), descriptor.to_dict())],
        )
    again = bake(env, base=base_images.oci, repository=repository, options=options)
    assert not again.up_to_date
    with RegistryClient(base_images.host) as client:
        types = [
            d["artifactType"] for d in list_referrers(client, "t/foreign", first.digest).descriptors
        ]
    assert types == ["application/vnd.example.sig", SBOM_MEDIA_TYPE, PROVENANCE_MEDIA_TYPE]


def referrers_api(upstream_url: str):
    """A tamper function that gives the proxied registry the referrers API: it remembers each
    manifest pushed by digest that has a `subject`, and lists them at /referrers/<digest>."""
    import httpx

    known: dict[str, list[dict]] = {}

    def tamper(exchange: Exchange) -> None:
        if exchange.method == "PUT" and "/manifests/sha256:" in exchange.path:
            body = httpx.get(
                upstream_url + exchange.path,
                headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
            ).content
            manifest = json.loads(body)
            if manifest.get("subject"):
                known.setdefault(manifest["subject"]["digest"], []).append(
                    {
                        "mediaType": manifest["mediaType"],
                        "digest": exchange.path.rsplit("/", 1)[1],
                        "size": len(body),
                        "artifactType": manifest["artifactType"],
                        "annotations": manifest.get("annotations", {}),
                    }
                )
        if exchange.method == "GET" and "/referrers/" in exchange.path:
            subject = exchange.path.rsplit("/", 1)[1]
            index = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": known.get(subject, []),
            }
            exchange.status, exchange.body = 200, canonical_json(index)
            exchange.headers = {"content-type": "application/vnd.oci.image.index.v1+json"}

    return tamper


def test_a_registry_with_the_referrers_api_gets_no_fallback_tag(
    base_images, shared_cache, tampering_proxy, registry
):
    proxy = tampering_proxy(referrers_api(registry.url))
    options = BakeOptions(cache_dir=shared_cache, progress=False)
    env = lock(("idna==3.10",))
    base = f"{proxy.host}/base/debian:oci"  # through the proxy too: its layers are mounted
    result = bake(env, base=base, repository=f"{proxy.host}/t/api", options=options)
    with RegistryClient(proxy.host) as client:
        listing = list_referrers(client, "t/api", result.digest)
        assert listing.api and [d["artifactType"] for d in listing.descriptors] == [
            SBOM_MEDIA_TYPE,
            PROVENANCE_MEDIA_TYPE,
        ]
        assert client.head_manifest("t/api", referrers_tag(result.digest)) is None
        log = RequestLog(client)
        again = bake(
            env, base=base, repository=f"{proxy.host}/t/api", options=options, client=client
        )
    assert again.up_to_date
    assert [method for method, _ in log.calls] == ["HEAD", "GET"]
    assert f"/referrers/{result.digest}" in log.calls[1][1]
    assert json.loads(read_sbom(f"{proxy.host}/t/api@{result.digest}"))["bomFormat"] == "CycloneDX"


def _package(env, name):
    return next(p for p in env.packages if p.name == name)
