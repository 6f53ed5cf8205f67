#!/usr/bin/env bash
# Idempotent set-up shared by demo.sh and test.sh: Debian packages, a venv with
# the Python deps, and the collection made visible to Ansible under .build/.
# Source it: it exports BERTH_VENV, ANSIBLE_COLLECTIONS_PATH and PATH.
set -euo pipefail
BERTH_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BERTH_REPO
BERTH_BUILD="$BERTH_REPO/.build"
BERTH_VENV="${BERTH_VENV:-$BERTH_BUILD/venv}"
export BERTH_VENV

# Debian packages: the kernel-facing tools the engine shells out to (nft) and
# the independent peers the tests use as fixtures (registry, umoci, skopeo, ...)
# and compare against (runc; podman drives berth-runtime).
APT_PACKAGES=(nftables iproute2 busybox-static docker-registry umoci skopeo
              buildah debootstrap apache2-utils openssl rsync git python3-venv
              shellcheck runc podman conmon libseccomp2 openssh-server openssh-client tini)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  # Packages with daemons (openssh-server, for the simulated fleet) must not
  # start them here: the tests start their own sshd inside namespace hosts.
  policy_made=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy_made=1
  fi
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  if [ -n "$policy_made" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

# Python: a venv with runtime + dev deps, refreshed when requirements change.
PY="${BERTH_PYTHON:-python3.11}"
command -v "$PY" >/dev/null || PY=python3
stamp="$BERTH_VENV/.requirements.sha256"
want="$(cat "$BERTH_REPO/requirements.txt" "$BERTH_REPO/requirements-dev.txt" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$BERTH_VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: preparing venv $BERTH_VENV" >&2
  "$PY" -m venv "$BERTH_VENV"
  "$BERTH_VENV/bin/pip" install -q --disable-pip-version-check -r "$BERTH_REPO/requirements-dev.txt" >&2
  echo "$want" > "$stamp"
fi

# The collection: the repository root *is* berth.engine; a symlink under
# .build/collections makes it importable as ansible_collections.berth.engine.
mkdir -p "$BERTH_BUILD/collections/ansible_collections/berth"
ln -sfn "$BERTH_REPO" "$BERTH_BUILD/collections/ansible_collections/berth/engine"
export ANSIBLE_COLLECTIONS_PATH="$BERTH_BUILD/collections"
export PATH="$BERTH_VENV/bin:$PATH"
