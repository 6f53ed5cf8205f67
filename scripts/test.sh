#!/usr/bin/env bash
# The one command that runs every test: lint, unit, integration (real kernel,
# real registry, real peers), ansible-test sanity, then the host leak check.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$BERTH_REPO"
echo "== ruff"
ruff check .
echo "== pytest (unit + integration)"
# Parallel workers (BERTH_TEST_WORKERS, default 4 on 2 CPUs: a worker waiting
# on fsync, a sleep or a subprocess leaves its CPU to another). Each worker
# runs in a network namespace of its own (tests/support/isolation.py); "-n 0"
# runs in one process. Longest tests are collected first (tests/conftest.py);
# "worksteal" lets an idle worker take queued tests from a busy one ("load"
# left one worker running the playbook files alone for minutes at the end).
python -m pytest -p no:cacheprovider -n "${BERTH_TEST_WORKERS:-4}" --dist worksteal tests "$@"
echo "== cgroup and runtime tests on a pure cgroup-v2 kernel (qemu guest)"
# The runner lives beside the project (../shared) on these machines; a clone
# elsewhere finds it at /work/shared.
for candidate in "${BERTH_V2_GUEST:-}" "$BERTH_REPO/../shared/tools/run-in-v2-guest.sh" \
                 /work/shared/tools/run-in-v2-guest.sh; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then export BERTH_V2_GUEST="$candidate"; break; fi
done
if [ -x "${BERTH_V2_GUEST:-}" ]; then
  "$BERTH_REPO/tests/v2guest/run_cgroup_tests.sh"
else
  echo "skipped: no v2 guest runner (shared/tools/run-in-v2-guest.sh) on this machine"
fi
echo "== ansible-test sanity"
"$BERTH_REPO/scripts/sanity.sh"
