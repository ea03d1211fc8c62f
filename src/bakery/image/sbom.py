"""The SBOM of a baked image: CycloneDX 1.6 JSON, written with `cyclonedx-python-lib`.

It is made from the lock, not by scanning the image: every locked package with its name,
version, purl, the sha256 of the artifact it was installed from (and that artifact's URL), and
the licenses its own metadata declares (read while staging, see `licenses.py`); the base image
by digest; and the image itself as the SBOM's subject. Everything in it is a function of the
lock, the base digest, the image and Bakery's version: the serial number is derived from them
and the timestamp is `SOURCE_DATE_EPOCH` (else the epoch), as for the image config, so baking
the same image again writes the same bytes and pushes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from packaging.utils import canonicalize_name

from .. import __version__
from ..lock.model import LockedEnv, LockedPackage
from ..registry.reference import ImageReference
from .oci import created_timestamp

SBOM_MEDIA_TYPE = "application/vnd.cyclonedx+json"
CLASSIFIER = "License :: "
# `License :: OSI Approved :: ...` classifiers that name exactly one SPDX license; the others
# (which BSD? GPL v2 only or later?) are listed by the classifier's own name
_CLASSIFIER_SPDX = {
    "ISC License (ISCL)": "ISC",
    "MIT License": "MIT",
    "MIT No Attribution License (MIT-0)": "MIT-0",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "Python Software Foundation License": "PSF-2.0",
    "The Unlicense (Unlicense)": "Unlicense",
}
SBOM_FORMAT = 1  # part of the serial number: bump when what Bakery writes changes
BAKERY_DISTRIBUTION = "metaflow-bakery"


@dataclass(frozen=True)
class BakedImage:
    """What the SBOM and provenance are about: the pushed image, its base, both by digest."""

    image: ImageReference  # repository, with the content tag
    digest: str  # the image manifest's digest
    base: ImageReference  # the base as given (tag), for its name
    base_digest: str


def make_sbom(env: LockedEnv, image: BakedImage, licenses: Mapping[str, tuple[str, ...]]) -> bytes:
    """The CycloneDX JSON of `image`, baked from `env`; `licenses` by artifact sha256."""
    # imported here: only a bake that pushes an image needs the library (and its import time)
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6

    root = _container(image.image, image.digest)
    base = _container(image.base, image.base_digest)
    packages = [_package(p, licenses.get(p.sha256, ())) for p in env.packages]
    tool = Component(type=ComponentType.APPLICATION, name=BAKERY_DISTRIBUTION, version=__version__)
    metadata = BomMetaData(component=root, timestamp=_timestamp())
    metadata.tools.components.add(tool)
    bom = Bom(serial_number=_serial(env, image), metadata=metadata, components=[base, *packages])
    bom.register_dependency(root, [base, *packages])
    return JsonV1Dot6(bom).output_as_string(indent=2).encode() + b"\n"


def purl_of(package: LockedPackage) -> str:
    """The package URL of a locked artifact: `pkg:pypi/name@1.0?file_name=...` or
    `pkg:conda/name@1.0?build=...&channel=...&subdir=...&type=conda`."""
    return str(_purl(package))


def _package(package: LockedPackage, licenses: tuple[str, ...]):
    from cyclonedx.model import ExternalReference, ExternalReferenceType, XsUri
    from cyclonedx.model.component import Component, ComponentType

    purl = _purl(package)
    return Component(
        type=ComponentType.LIBRARY,
        name=package.name,
        version=package.version,
        purl=purl,
        bom_ref=str(purl),
        hashes=[_sha256(package.sha256)],
        licenses=_licenses(licenses),
        external_references=[
            ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(package.url))
        ],
    )


def _licenses(declared: tuple[str, ...]) -> list:
    """CycloneDX licenses from what a package declares (`licenses.py`): the first SPDX id or
    expression; else its license classifiers (as SPDX ids where exact); else the names given."""
    from cyclonedx.contrib.license.factories import LicenseFactory
    from cyclonedx.spdx import fixup_id, is_expression

    factory = LicenseFactory()
    given = [text for text in declared if not text.startswith(CLASSIFIER)]
    for text in given:
        if fixup_id(text) or is_expression(text):
            return [factory.make_from_string(text)]  # one expression, or one id
    classifiers = [text.rsplit(" :: ", 1)[-1] for text in declared if text.startswith(CLASSIFIER)]
    names = [_CLASSIFIER_SPDX.get(name, name) for name in classifiers] or given
    # ids or names, never expressions here: CycloneDX allows an expression only on its own
    return [
        factory.make_with_id(name) if fixup_id(name) else factory.make_with_name(name)
        for name in dict.fromkeys(names)
    ]


def _purl(package: LockedPackage):
    from packageurl import PackageURL

    if package.kind == "pypi":
        name = canonicalize_name(package.name)
        return PackageURL(
            "pypi", name=name, version=package.version, qualifiers={"file_name": package.filename}
        )
    record = package.record or {}
    kind = "conda" if package.filename.endswith(".conda") else "tar.bz2"
    qualifiers = {
        "build": record.get("build"),
        "channel": package.channel,
        "subdir": record.get("subdir"),
        "type": kind,
    }
    qualifiers = {k: str(v) for k, v in qualifiers.items() if v}
    return PackageURL("conda", name=package.name, version=package.version, qualifiers=qualifiers)


def _container(reference: ImageReference, digest: str):
    """An image as a component: `pkg:oci/name@sha256:...?repository_url=registry/repo&tag=...`."""
    from cyclonedx.model.component import Component, ComponentType
    from packageurl import PackageURL

    qualifiers = {"repository_url": reference.name}
    if reference.tag:
        qualifiers["tag"] = reference.tag
    name = reference.repository.rsplit("/", 1)[-1]
    purl = PackageURL("oci", name=name, version=digest, qualifiers=qualifiers)
    return Component(
        type=ComponentType.CONTAINER,
        name=reference.name,
        version=digest,
        purl=purl,
        bom_ref=str(purl),
        hashes=[_sha256(digest.split(":", 1)[1])] if digest.startswith("sha256:") else [],
    )


def _sha256(hexdigest: str):
    from cyclonedx.model import HashAlgorithm, HashType

    return HashType(alg=HashAlgorithm.SHA_256, content=hexdigest)


def _timestamp() -> datetime:
    stamp = datetime.strptime(created_timestamp(), "%Y-%m-%dT%H:%M:%SZ")
    return stamp.replace(tzinfo=timezone.utc)


def _serial(env: LockedEnv, image: BakedImage) -> uuid.UUID:
    """One serial per (image, lock, base, Bakery version, format): equal inputs, equal SBOMs."""
    text = f"bakery-sbom/{SBOM_FORMAT}|{__version__}|{image.image.name}|{image.digest}|"
    text += f"{env.env_id}|{image.base_digest}|{created_timestamp()}"
    return uuid.uuid5(uuid.NAMESPACE_URL, text)
