#!/usr/bin/env bash
# The main job: converge the demo playbook on localhost.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$BERTH_REPO"
exec ansible-playbook -i playbooks/inventory.ini playbooks/demo.yml "$@"
