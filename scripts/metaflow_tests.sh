#!/usr/bin/env bash
# Metaflow's own tests with Bakery and another extension installed, against a baseline without
# Bakery. Slow (hours on 2 shared cores), so not part of CI; README (Tests) has the figures.
#
#   bash scripts/metaflow_tests.sh METAFLOW_CHECKOUT [WORKDIR]
#
# METAFLOW_CHECKOUT: a Metaflow source tree (git checkout of the tag of the Metaflow to test);
# it is only read. WORKDIR (default /tmp/bakery-metaflow-tests) gets two venvs, both with
# Metaflow at the checkout's version (from PyPI, else the checkout itself), the acme extension
# (tests/install/other_extension.py: a second setuptools extension distribution with its own step
# decorator) and the test requirements: `with-bakery` adds Bakery's wheel, `baseline` does not.
# Nothing is fetched but PyPI packages. Then, in each venv:
#   unit: test/unit, test/plugins, test/cmd  (tox's "unit" env, spin included)
#   ux:   test/ux/core --only-backend local  (METAFLOW_HOME: a config with local datastore/metadata)
#   core: test/core/run_tests.py on a copy of the harness (the checkout is left alone) with two
#         more contexts, `bakery-pypi` (--environment=pypi) and `bakery-conda` (--environment=conda,
#         every step asking for a package of a local file:// channel built like our conda tests'),
#         plus a probe test asserting that each task runs in a Bakery environment and that the
#         other extension's decorator works there. Baseline: Metaflow's `python3-all-local`.
# PARTS="unit ux core" picks parts; the harness runs every test on the linear graph
# (CORE_LINEAR_TESTS narrows it) and CORE_TESTS on CORE_GRAPHS; CORE_PARALLEL: its processes.
# Results: WORKDIR/results/*.log and the table printed at the end.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
CHECKOUT=$(cd "${1:?usage: metaflow_tests.sh METAFLOW_CHECKOUT [WORKDIR]}" && pwd)
WORK=${2:-/tmp/bakery-metaflow-tests}
PARTS=${PARTS-unit ux core}
PYTHON=${PYTHON:-python3}
CORE_PARALLEL=${CORE_PARALLEL:-2}
# a representative subset: every test on the linear graph, the basic ones on branches, foreaches,
# parallel and switches
CORE_GRAPHS_WIDE=${CORE_GRAPHS:-small-foreach,single-and-branch,nested-branches,small-parallel,recursive_switch,switch_in_foreach}
CORE_TESTS_WIDE=${CORE_TESTS:-BasicArtifactTest,MergeArtifactsTest,CatchRetryTest,BakeryEnvironmentProbeTest,ExtensionsTest,BasicParallelTest,BasicUnboundedForeachTest,RecursiveSwitchFlowTest,SwitchInForeachTest}
export USER=dev   # Metaflow refuses root
[ -f "$CHECKOUT/test/core/run_tests.py" ] || { echo "$CHECKOUT is not a Metaflow checkout" >&2; exit 2; }
VERSION=$(sed -n 's/^metaflow_version = "\(.*\)"/\1/p' "$CHECKOUT/metaflow/version.py")
RESULTS=$WORK/results
mkdir -p "$WORK/wheels" "$RESULTS"
rm -f "$RESULTS"/*.log

UV=$REPO/.venv/bin/uv; [ -x "$UV" ] || UV=uv
TEST_DEPS=(pytest pytest-mock pytest-timeout pytest-xdist pytest-rerunfailures omegaconf kubernetes
           "boto3>=1.34" requests sh localbatch pandas)   # boto3 pinned: else uv picks 0.0.3

echo "==> Metaflow $VERSION from $CHECKOUT, work folder $WORK"
rm -rf "$WORK/wheels"/*
"$UV" build -q --out-dir "$WORK/wheels/bakery" "$REPO" || exit 1
for venv in with-bakery baseline; do
  rm -rf "${WORK:?}/$venv"
  "$UV" venv -q --seed --python "$PYTHON" "$WORK/$venv" || exit 1
  extra=(); [ "$venv" = with-bakery ] && extra=("$WORK"/wheels/bakery/*.whl)
  VIRTUAL_ENV=$WORK/$venv "$UV" pip install -q "metaflow==$VERSION" "${extra[@]}" "${TEST_DEPS[@]}" \
    || VIRTUAL_ENV=$WORK/$venv "$UV" pip install -q "$CHECKOUT" "${extra[@]}" "${TEST_DEPS[@]}" || exit 1
done
# the other extension, built as its project would be (sdist, then wheel) and installed in both
(cd "$REPO" && "$WORK/with-bakery/bin/python" - "$WORK/wheels/acme") <<'PY' || exit 1
import sys, tempfile
from pathlib import Path
sys.path.insert(0, "")
from tests.install.other_extension import build_wheel, write_other_extension
print(build_wheel(write_other_extension(Path(tempfile.mkdtemp()) / "acme"), Path(sys.argv[1])))
PY
for venv in with-bakery baseline; do
  VIRTUAL_ENV=$WORK/$venv "$UV" pip install -q "$WORK"/wheels/acme/*.whl || exit 1
done

echo "==> extensions Metaflow loads (METAFLOW_DEBUG_EXT=1)"
for venv in with-bakery baseline; do
  loaded=$(cd /tmp && METAFLOW_DEBUG_EXT=1 "$WORK/$venv/bin/python" -c "import metaflow.plugins" 2>&1 \
           | sed -n "s/.*Found top-level '\([a-z_]*\)' from '\([^']*\)'.*/\2/p" | sort -u | tr '\n' ' ')
  echo "    $venv: $loaded"
  case "$venv:$loaded" in
    with-bakery:*acme-metaflow-ext*metaflow-bakery*|baseline:acme-metaflow-ext\ ) ;;
    *) echo "    unexpected extensions in $venv" >&2; exit 1 ;;
  esac
done

# a Metaflow home with local datastore and metadata, for the ux tests' `local` backend
mkdir -p "$WORK/mfhome"
echo '{"METAFLOW_DEFAULT_DATASTORE": "local", "METAFLOW_DEFAULT_METADATA": "local"}' \
  > "$WORK/mfhome/config_local.json"

run_pytest() {  # venv, part, pytest args...
  local venv=$1 part=$2; shift 2
  echo "==> $part in $venv"
  (cd "$CHECKOUT" && "$WORK/$venv/bin/pytest" -p no:cacheprovider -q -rfEs "$@") \
    > "$RESULTS/$part-$venv.log" 2>&1
  tail -1 "$RESULTS/$part-$venv.log"
}

for venv in with-bakery baseline; do
  case " $PARTS " in *" unit "*)
    run_pytest "$venv" unit test/unit test/plugins test/cmd -m "not docker" --timeout=600 -n 2 ;;
  esac
  case " $PARTS " in *" ux "*)
    METAFLOW_HOME=$WORK/mfhome METAFLOW_PROFILE=local \
      run_pytest "$venv" ux test/ux/core --only-backend local --timeout=1200 -n 2 ;;
  esac
done

run_core() {  # venv, name, context, graphs, tests ("" = all)
  local venv=$1 name=$2 context=$3 graphs=$4 tests=$5
  echo "==> core harness: $context, graphs $graphs, tests ${tests:-all} ($venv)"
  (cd "$WORK/core" && PATH=$WORK/$venv/bin:$PATH "$WORK/$venv/bin/python" run_tests.py \
      --contexts "$context" --graphs "$graphs" ${tests:+--tests "$tests"} \
      --num-parallel "$CORE_PARALLEL") > "$RESULTS/core-$name-$venv.log" 2>&1
  tail -1 "$RESULTS/core-$name-$venv.log"
}

case " $PARTS " in *" core "*)
  rm -rf "$WORK/core" "$WORK/channel" "$WORK/bakery-cache"
  cp -r "$CHECKOUT/test/core" "$WORK/core"
  channel=$(cd "$REPO" && "$WORK/with-bakery/bin/python" scripts/metaflow_harness.py channel "$WORK/channel") || exit 1
  "$WORK/with-bakery/bin/python" "$REPO/scripts/metaflow_harness.py" prepare \
    "$WORK/core" "$WORK/bakery-cache" "$channel" || exit 1
  run_core with-bakery pypi-linear bakery-pypi single-linear-step "${CORE_LINEAR_TESTS:-}"
  run_core with-bakery pypi-wide bakery-pypi "$CORE_GRAPHS_WIDE" "$CORE_TESTS_WIDE"
  run_core with-bakery conda-linear bakery-conda single-linear-step "${CORE_LINEAR_TESTS:-}"
  run_core with-bakery conda-wide bakery-conda "$CORE_GRAPHS_WIDE" "$CORE_TESTS_WIDE"
  run_core baseline local-linear python3-all-local single-linear-step "${CORE_LINEAR_TESTS:-}"
  run_core baseline local-wide python3-all-local "$CORE_GRAPHS_WIDE" "$CORE_TESTS_WIDE"
  ;;
esac

echo "==> results ($RESULTS)"
"$WORK/with-bakery/bin/python" "$REPO/scripts/metaflow_harness.py" summary "$RESULTS"
