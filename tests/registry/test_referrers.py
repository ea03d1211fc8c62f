"""The referrers tag schema (distribution spec 1.1): the fallback tag of a subject digest."""

from __future__ import annotations

from bakery.registry.referrers import Referrers, canonical_index, referrers_tag


def test_the_tag_is_algorithm_dash_hex():
    assert referrers_tag("sha256:" + "a" * 64) == "sha256-" + "a" * 64


def test_the_encoded_part_is_cut_to_64_characters():
    assert referrers_tag("sha512:" + "a" * 128) == "sha512-" + "a" * 64


def test_referrers_keep_the_registry_order_and_filter_by_type():
    listing = Referrers(
        "sha256:" + "a" * 64,
        (
            {"digest": "sha256:" + "1" * 64, "artifactType": "application/vnd.cyclonedx+json"},
            {"digest": "sha256:" + "2" * 64, "artifactType": "application/vnd.dev.cosign"},
        ),
    )
    assert [d["digest"][-1] for d in listing.of_type("application/vnd.cyclonedx+json")] == ["1"]
    assert listing.record() == {
        "api": False,
        "index": None,
        "digests": ["sha256:" + "1" * 64, "sha256:" + "2" * 64],
    }
    assert canonical_index([]) == (
        b'{"manifests":[],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2}'
    )
