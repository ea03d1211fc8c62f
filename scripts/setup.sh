#!/usr/bin/env bash
# Set up everything Bakery needs on a fresh Debian machine, then run the bundled example flow.
#   bash scripts/setup.sh            # install + run the example
#   bash scripts/setup.sh --no-run   # install only (used by scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(podman docker-registry runc skopeo busybox-static uidmap)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # another apt (unattended upgrades, a second setup) may hold the lock: wait for it, and apt
  # names the process holding it ("Waiting for cache lock: ... held by process N")
  APT=(apt-get -o DPkg::Lock::Timeout=600)
  $SUDO "${APT[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO "${APT[@]}" install -y -qq "${missing[@]}" >/dev/null
fi

# podman's default rlimits are refused on some VMs; give containers sane ones (only where no
# containers.conf exists yet: an existing one is the admin's, and we only say what to add)
conf=/etc/containers/containers.conf
if [ -w /etc/containers ] && [ ! -e "$conf" ]; then
  printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n' > "$conf"
elif ! grep -qs default_ulimits "$conf"; then
  echo "note: if podman fails with rlimit errors, add default_ulimits to [containers] in $conf"
fi

# uv comes from PyPI into the project's own venv: nothing is pip-installed into the system Python
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
  echo "==> installing uv into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check uv
fi
echo "==> installing metaflow-bakery (editable) with test tools"
VIRTUAL_ENV=.venv .venv/bin/uv pip install -q -e '.[test]'
# bytecode, as `pip install` leaves it (uv does not compile by default, and PYTHONDONTWRITEBYTECODE
# may be set): without it every process compiles Metaflow again, which no user's install does
echo "==> compiling bytecode"
.venv/bin/python -m compileall -q -j0 .venv/lib/python3*/site-packages src >/dev/null || true

if [ "${1:-}" != "--no-run" ]; then
  # Metaflow refuses to run as root without a user name
  if [ "${USER:-root}" = "root" ]; then export USER=dev; fi
  echo "==> running examples/hello_pandas.py --environment=pypi run"
  (cd examples && ../.venv/bin/python hello_pandas.py --environment=pypi run)
  echo "==> bakery env show examples/hello_pandas.py"
  .venv/bin/bakery env show examples/hello_pandas.py
fi
