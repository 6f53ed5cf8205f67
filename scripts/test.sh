#!/usr/bin/env bash
# The one command that runs every test: lint, unit, integration (real kernel,
# real registry, real peers), ansible-test sanity, then the host leak check.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$BERTH_REPO"
echo "== ruff"
ruff check .
echo "== pytest (unit + integration)"
python -m pytest -p no:cacheprovider tests "$@"
echo "== ansible-test sanity"
"$BERTH_REPO/scripts/sanity.sh"
