"""The provenance of a baked image: an in-toto Statement v1 with a SLSA Provenance v1 predicate.

Unsigned: it says how the image was made (the lock, the base by digest, every artifact by
sha256, Bakery's version), for tools that read SLSA provenance (`slsa-verifier`-style policy,
GUAC, registries' UIs); signing it is a separate step (e.g. `cosign attest`). Like the SBOM it is
a function of its inputs only (no times, no host names), so a re-bake writes the same bytes.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..lock.model import LockedEnv
from .oci import canonical_json
from .sbom import BAKERY_DISTRIBUTION, BakedImage, purl_of

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
PROVENANCE_MEDIA_TYPE = "application/vnd.in-toto+json"
# what a bake is, for readers of `buildDefinition`: a lock installed onto a base, no build steps
BUILD_TYPE = "https://bakery.dev/bake/v1"
BUILDER_ID = f"pkg:pypi/{BAKERY_DISTRIBUTION}@{__version__}"


def make_provenance(
    env: LockedEnv, image: BakedImage, lock_hash: str, layout: str, compression: str
) -> bytes:
    """The statement about `image` (its manifest digest), baked from `env` (`lock_hash`)."""
    algorithm, _, hexdigest = image.digest.partition(":")
    base_algorithm, _, base_hex = image.base_digest.partition(":")
    dependencies: list[dict[str, Any]] = [
        {
            "uri": f"oci://{image.base.name}@{image.base_digest}",
            "digest": {base_algorithm: base_hex},
            "name": str(image.base.with_digest(image.base_digest)),
            "annotations": {"role": "base image"},
        }
    ]
    for package in sorted(env.packages, key=lambda p: (p.kind, p.name, p.sha256)):
        dependencies.append(
            {
                "uri": package.url,
                "digest": {"sha256": package.sha256},
                "name": package.filename,
                "annotations": {"purl": purl_of(package), "kind": package.kind},
            }
        )
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": image.image.name, "digest": {algorithm: hexdigest}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "lockHash": lock_hash,
                    "envId": env.env_id,
                    "platform": str(env.spec.platform),
                    "python": env.python,
                    "base": str(image.base),
                },
                "internalParameters": {"layout": layout, "compression": compression},
                "resolvedDependencies": dependencies,
            },
            "runDetails": {
                "builder": {"id": BUILDER_ID, "version": {BAKERY_DISTRIBUTION: __version__}}
            },
        },
    }
    return canonical_json(statement)
