#!/usr/bin/env bash
# The Metaflow-compatibility subset of the tests (`-m compat`: every access to Metaflow's internals
# and a few real flows) against the lowest and the newest Metaflow that pyproject.toml supports,
# each in a venv of its own (.venv-compat/). Run by scripts/test.sh; needs scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."

range=$(.venv/bin/python - <<'PY'
import tomllib
from packaging.requirements import Requirement
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
print(next(str(r.specifier) for r in map(Requirement, deps) if r.name == "metaflow"))
PY
)
lowest=$(.venv/bin/python -c "import sys; print(next(s.version for s in __import__('packaging.specifiers').specifiers.SpecifierSet(sys.argv[1]) if s.operator == '>='))" "$range")

for which in lowest newest; do
  venv=.venv-compat/$which
  [ -x "$venv/bin/python" ] || .venv/bin/uv venv -q --python python3 "$venv"
  if [ "$which" = lowest ]; then pin="metaflow==$lowest"; else pin="metaflow$range"; fi
  VIRTUAL_ENV="$venv" .venv/bin/uv pip install -q --upgrade-package metaflow -e '.[test]' "$pin"
  version=$("$venv/bin/python" -c "import metaflow; print(metaflow.__version__)")
  echo "==> compat tests against Metaflow $version ($which of $range)"
  "$venv/bin/python" -m compileall -q -j0 "$venv"/lib/python3*/site-packages >/dev/null || true
  "$venv/bin/python" -m pytest -p no:cacheprovider -q -m compat "$@"
done
