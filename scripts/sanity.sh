#!/usr/bin/env bash
# ansible-test sanity needs the collection at .../ansible_collections/berth/engine
# as a real directory (it resolves symlinks), so copy the tracked files there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
dest="$BERTH_BUILD/sanity/ansible_collections/berth/engine"
rm -rf "$dest"
mkdir -p "$dest"
cd "$BERTH_REPO"
git ls-files -z --cached --others --exclude-standard | rsync -a --from0 --files-from=- ./ "$dest/"
cd "$dest"
# The copy sits inside this repository's work tree, where ansible-test would
# ask git for the file list and find .build/ ignored; a repo of its own fixes it.
git init -q . && git add -A
# ansible-test fetches a get-pip script from the internet; hand it ours instead.
pip_version="$("$BERTH_VENV/bin/python" -c 'from ansible_test._internal.python_requirements import PIP_VERSION as v; print(v)' 2>/dev/null || echo 24.2)"
mkdir -p ~/.ansible/test/cache
cp "$BERTH_REPO/scripts/ansible_test_get_pip.py" ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"
py="$("$BERTH_VENV/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
exec ansible-test sanity --python "$py" --color no "$@"
