#!/usr/bin/env bash
# The benchmark report (bench/run.py): every benchmark side by side with its
# peers; writes bench/results.json, bench/RESULTS.md and bench/charts/.
# `--smoke` (N=1, one round) is what CI runs; `--help` lists the options.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$BERTH_REPO"
# The peers only the benchmarks use: dockerd (docker.io), crun, and python3-requests
# for community.docker's modules under Debian's python3.
BENCH_PACKAGES=(docker.io crun python3-requests)
missing=()
for p in "${BENCH_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bench: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  policy_made=""   # docker.io must not start its daemon: the benchmarks start a private one
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy_made=1
  fi
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 || { apt-get update -q >&2 &&
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
  if [ -n "$policy_made" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
# community.docker and containers.podman as PyPI's ansible package ships them
# (the one whose ansible-core matches the venv's), beside the test collections.
peers="$BERTH_BUILD/bench/collections"
if [ ! -d "$peers/ansible_collections/community/docker" ]; then
  mkdir -p "$BERTH_BUILD/bench/wheels" "$peers"
  pip download -q --disable-pip-version-check --no-deps "ansible==12.3.0" -d "$BERTH_BUILD/bench/wheels" >&2
  python - "$BERTH_BUILD/bench/wheels/ansible-12.3.0-py3-none-any.whl" "$peers" <<'PY'
import sys, zipfile
wanted = ("community/docker/", "containers/podman/", "community/library_inventory_filtering_v1/")
with zipfile.ZipFile(sys.argv[1]) as wheel:
    wheel.extractall(sys.argv[2], [n for n in wheel.namelist()
                                   if n.startswith(tuple("ansible_collections/" + w for w in wanted))])
PY
fi
export BERTH_BENCH_COLLECTIONS="$peers"
exec python bench/run.py "$@"
