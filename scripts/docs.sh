#!/usr/bin/env bash
# The documentation site and its checks, offline.
#   scripts/docs.sh               lint, then build the site into .build/docs/html
#   scripts/docs.sh --lint        only the checks: antsibull-docs lint-collection-docs, antsibull-changelog lint
#   scripts/docs.sh --screenshot  lint, build, then photograph pages in headless Chromium (.build/docs-shots/;
#                                 installs Debian's chromium when missing — never in CI)
# The module, plugin and role pages come from each plugin's own DOCUMENTATION (antsibull-docs), so whatever
# plugins exist when this runs are documented; the guide pages (docs/site/) include README.md and docs/*.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$BERTH_REPO"

DOCS_OUT="$BERTH_BUILD/docs"
DOCS_SRC="$DOCS_OUT/src"
DOCS_HTML="$DOCS_OUT/html"
SHOTS="$BERTH_BUILD/docs-shots"

lint() {
  echo "docs: antsibull-docs lint-collection-docs --plugin-docs"
  antsibull-docs lint-collection-docs --plugin-docs .
  echo "docs: antsibull-changelog lint"
  antsibull-changelog lint
}

stage_sources() {
  # antsibull-docs writes only into a directory that no one else may write to
  rm -rf "$DOCS_SRC"
  mkdir -p "$DOCS_OUT"
  install -d -m 700 "$DOCS_SRC"
  cp -r docs/site/. "$DOCS_SRC/"
  # docs/*.md become pages under docs/ (README's links to docs/X.md resolve); README.md and
  # CHANGELOG.rst are only included by pages, from _repo/ (excluded from the page list in conf.py)
  mkdir -p "$DOCS_SRC/docs" "$DOCS_SRC/_repo"
  cp docs/*.md "$DOCS_SRC/docs/"
  cp README.md CHANGELOG.rst "$DOCS_SRC/_repo/"
  python scripts/docs_cli_reference.py "$DOCS_SRC"
  antsibull-docs --config-file docs/site/antsibull-docs.cfg collection --use-current --fail-on-error \
    --dest-dir "$DOCS_SRC" berth.engine
}

build() {
  stage_sources
  rm -rf "$DOCS_HTML"
  # -W: a warning (a broken reference, a missing include) fails the build; -n via conf.py (nitpicky)
  sphinx-build -q -W --keep-going -j 2 -b html -d "$DOCS_OUT/doctrees" "$DOCS_SRC" "$DOCS_HTML"
  echo "docs: built $DOCS_HTML/index.html"
}

ensure_chromium() {
  command -v chromium >/dev/null && return 0
  echo "docs: installing Debian's chromium for --screenshot" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >&2
}

shoot() {  # shoot NAME URL [HEIGHT]: a PNG of the page after its scripts ran (search.html fills in by JS)
  local profile
  profile="$(mktemp -d)"
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --user-data-dir="$profile" --window-size="1280,${3:-1400}" --virtual-time-budget=10000 \
    --screenshot="$SHOTS/$1.png" "$2" >/dev/null 2>&1
  rm -rf "$profile"
  [ -s "$SHOTS/$1.png" ] || { echo "docs: no screenshot of $2" >&2; return 1; }
  echo "docs: $SHOTS/$1.png"
}

serve_site() {  # serve_site: the site on a free loopback port (search.html fetches the pages it summarises,
  # which Chromium refuses over file://); sets SITE_URL and SITE_PID
  local port_file
  port_file="$(mktemp)"
  python - "$DOCS_HTML" "$port_file" <<'PY' &
import functools, http.server, sys
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=sys.argv[1]))
with open(sys.argv[2], "w") as out:
    out.write(str(server.server_address[1]))
server.serve_forever()
PY
  SITE_PID=$!
  for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
  SITE_URL="http://127.0.0.1:$(cat "$port_file")"
  rm -f "$port_file"
}

screenshots() {
  ensure_chromium
  mkdir -p "$SHOTS"
  serve_site
  trap 'kill "$SITE_PID" 2>/dev/null || true' EXIT
  shoot index "$SITE_URL/index.html"
  shoot module-index "$SITE_URL/collections/index_module.html"
  shoot container-module "$SITE_URL/collections/berth/engine/container_module.html" 4000  # down to its options
  shoot search-healthcheck "$SITE_URL/search.html?q=healthcheck"
  kill "$SITE_PID" 2>/dev/null || true
  wait "$SITE_PID" 2>/dev/null || true
  trap - EXIT
}

case "${1:-}" in
  --lint) lint ;;
  --screenshot) lint; build; screenshots ;;
  "") lint; build ;;
  *) echo "usage: scripts/docs.sh [--lint|--screenshot]" >&2; exit 2 ;;
esac
