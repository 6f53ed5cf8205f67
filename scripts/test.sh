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
# tests/v2guest/guest.sh boots the guest (it fetches qemu and a Debian kernel
# itself); BERTH_V2_GUEST may name another runner. Exit 125 means the guest
# itself could not run: a skip on a developer's machine, a failure under CI=true.
v2_status=0
"$BERTH_REPO/tests/v2guest/run_cgroup_tests.sh" || v2_status=$?
ci_strict=0   # the values tests/support/peers.py takes for CI too
case "${CI:-}" in true|TRUE|True|1|yes) ci_strict=1 ;; esac
if [ "$v2_status" = 125 ] && [ "$ci_strict" = 0 ]; then
  echo "skipped: the v2 guest could not run here (see above); under CI=true this fails"
elif [ "$v2_status" != 0 ]; then
  echo "cgroup-v2 guest stage failed (exit $v2_status)" >&2
  exit "$v2_status"
fi
echo "== ansible-test sanity"
"$BERTH_REPO/scripts/sanity.sh"
echo "== docs lint and build"
# antsibull-docs lint-collection-docs, antsibull-changelog lint, then the site, offline (about a minute)
"$BERTH_REPO/scripts/docs.sh"
echo "== benchmark smoke (bench/run.py --smoke: every benchmark once, N=1, beside its peers)"
# The full report (scripts/bench.sh, ~45 min) is not part of the tests; this checks that each benchmark
# and each peer still runs, and that the report renders. Its figures are not figures (one run each).
"$BERTH_REPO/scripts/bench.sh" --smoke --out "$BERTH_BUILD/bench-smoke"
