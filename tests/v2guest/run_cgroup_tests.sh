#!/usr/bin/env bash
# Run the cgroup and runtime tests inside a pure cgroup-v2 kernel (qemu, software
# CPU), as most users' hosts are: the cgroup conformance suite on the fake v1, v2
# and hybrid trees (tests/unit/cgroups) and the same suite on this real kernel
# (tests/integration/test_cgroup_real.py), and berth-runtime (cgroup2 mounts,
# cgroup.freeze, v2 limits, side by side with runc). The playbook test is skipped there (ansible-playbook start-up
# costs minutes under TCG); the module's code path is the same service.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# The project's own runner (guest.sh beside this file); BERTH_V2_GUEST may name another taking the same arguments.
guest="${BERTH_V2_GUEST:-$repo/tests/v2guest/guest.sh}"
[ -x "$guest" ] || { echo "v2 guest runner not found at $guest (BERTH_V2_GUEST)" >&2; exit 2; }
cd "$repo"
exec "$guest" --tmpfs /var/lib/berth -- "${BERTH_VENV:-$repo/.build/venv}/bin/python" -m pytest -p no:cacheprovider -q \
  tests/unit/cgroups tests/integration/test_cgroup_real.py tests/integration/test_runtime_lifecycle.py \
  tests/integration/test_runtime_vs_runc.py tests/integration/test_runtime_bad_input.py \
  tests/integration/test_bundle.py tests/integration/test_runtime_features.py -k "not module_converges" "$@"
