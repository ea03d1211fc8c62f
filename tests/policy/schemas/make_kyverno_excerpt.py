"""Make kyverno-clusterpolicy-v1.excerpt.json from Kyverno's CRD (see README.md here):

    python make_kyverno_excerpt.py kyverno.io_clusterpolicies.yaml > kyverno-clusterpolicy-v1.excerpt.json

Keeps the v1 schema of what `bakery policy export --format kyverno` writes (every field name at
each level it writes to, so unknown fields can be told apart); drops descriptions, and replaces
the schemas of fields it never writes by {}.
"""

import json
import sys

import yaml

KEEP = {
    (): {"apiVersion", "kind", "metadata", "spec"},
    ("spec",): {"rules", "validationFailureAction", "background"},
    ("spec", "rules", "[]"): {"name", "match", "validate"},
    ("spec", "rules", "[]", "validate"): {"failureAction", "cel", "message"},
    ("spec", "rules", "[]", "match"): {"any", "all"},
    ("spec", "rules", "[]", "match", "any", "[]"): {"resources"},
    ("spec", "rules", "[]", "match", "all", "[]"): {"resources"},
}


def prune(schema, path=()):
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "description":
            continue
        if key == "properties":
            keep = KEEP.get(path)
            out[key] = {
                name: prune(sub, (*path, name)) if keep is None or name in keep else {}
                for name, sub in value.items()
            }
        elif key == "items":
            out[key] = prune(value, (*path, "[]"))
        else:
            out[key] = prune(value, path)
    return out


crd = yaml.safe_load(open(sys.argv[1]))
(v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
json.dump(prune(v1["schema"]["openAPIV3Schema"]), sys.stdout, indent=1, sort_keys=True)
print()
