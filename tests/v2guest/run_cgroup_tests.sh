#!/usr/bin/env bash
# Run the cgroup tests inside a pure cgroup-v2 kernel (qemu, software CPU),
# as most users' hosts are: unit tests on the fake cgroupfs plus the real-kernel
# driver tests. The playbook test is skipped there (ansible-playbook start-up
# costs minutes under TCG); the module's code path is the same service.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
guest="${BERTH_V2_GUEST:-$repo/../shared/tools/run-in-v2-guest.sh}"
[ -x "$guest" ] || { echo "v2 guest runner not found at $guest (set BERTH_V2_GUEST)" >&2; exit 2; }
cd "$repo"
exec "$guest" --tmpfs /var/lib/berth -- "$repo/.build/venv/bin/python" -m pytest -p no:cacheprovider -q \
  tests/unit/cgroups tests/integration/test_cgroup_real.py -k "not module_converges" "$@"
