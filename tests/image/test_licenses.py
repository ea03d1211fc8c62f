"""Licenses for the SBOM: what a package's own metadata declares, and what the SBOM says of it."""

from __future__ import annotations

import json

from bakery.image.licenses import conda_licenses, metadata_licenses
from bakery.image.sbom import _licenses


def metadata(*lines: str) -> str:
    return "\n".join(["Metadata-Version: 2.4", "Name: x", "Version: 1.0", *lines]) + "\n\nbody\n"


def as_json(declared: tuple[str, ...]) -> list[dict]:
    return [_plain(one) for one in _licenses(declared)]


def _plain(license) -> dict:
    if hasattr(license, "value"):
        return {"expression": license.value}
    return {"id": license.id} if license.id else {"name": license.name}


def test_license_expression_wins_over_everything():
    text = metadata(
        "License-Expression: MIT OR Apache-2.0",
        "License: BSD",
        "Classifier: License :: OSI Approved :: MIT License",
    )
    assert metadata_licenses(text) == ("MIT OR Apache-2.0",)
    assert as_json(metadata_licenses(text)) == [{"expression": "MIT OR Apache-2.0"}]


def test_a_license_field_that_is_an_spdx_id_wins_over_classifiers():
    text = metadata(
        "License: Apache-2.0", "Classifier: License :: OSI Approved :: Apache Software License"
    )
    assert as_json(metadata_licenses(text)) == [{"id": "Apache-2.0"}]


def test_classifiers_when_the_field_is_not_a_license():
    text = metadata(
        "License: Copyright 2010 Pallets",
        "Classifier: License :: OSI Approved :: BSD License",
        "Classifier: Programming Language :: Python",
    )
    assert as_json(metadata_licenses(text)) == [{"name": "BSD License"}]
    exact = metadata("Classifier: License :: OSI Approved :: MIT License")
    assert as_json(metadata_licenses(exact)) == [{"id": "MIT"}]


def test_a_whole_license_text_in_the_field_is_not_a_name():
    text = metadata("License: Copyright (c) someone", "        Permission is hereby granted")
    assert metadata_licenses(text) == ()
    assert metadata_licenses(metadata("License: UNKNOWN")) == ()
    assert metadata_licenses(metadata()) == ()


def test_conda_licenses_from_the_record_and_about_json(tmp_path):
    (tmp_path / "info").mkdir()
    (tmp_path / "info" / "about.json").write_text(json.dumps({"license": "BSD-3-Clause"}))
    assert conda_licenses({"license": "BSD-3-Clause"}, str(tmp_path)) == ("BSD-3-Clause",)
    assert conda_licenses({"license": "MIT"}, None) == ("MIT",)
    assert conda_licenses({}, str(tmp_path / "gone")) == ()
    assert as_json(("Custom License", "Other")) == [{"name": "Custom License"}, {"name": "Other"}]
