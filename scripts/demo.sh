#!/usr/bin/env bash
# The main job: converge the demo playbook on localhost.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$BERTH_REPO"
ansible-playbook -i playbooks/inventory.ini playbooks/demo.yml "$@"
case " $* " in
  *" --check "*|*" -C "*) echo "check mode: nothing was started" ;;
  *) echo "berth demo is up: point a browser or curl at http://127.0.0.1:8080/ (the client's log: berth --state-root /var/lib/berth-demo logs demo-client)" ;;
esac
