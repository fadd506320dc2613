#!/usr/bin/env bash
# Builds the console's script: installs the pinned npm packages of web/
# (livekit-client, esbuild; exact versions, locked by web/package-lock.json)
# and bundles web/src/main.js into dist/console.js, which is committed and
# embedded in the binary, so that `go build` needs neither npm nor the
# network. Re-run it after changing anything under web/; the Go test
# TestBundleUpToDate fails until then.
#
#   console/build.sh           # build
#   console/build.sh --check   # fail if dist/console.js is not what the sources give
set -euo pipefail
cd "$(dirname "$0")"

# sources_hash must match sourcesHash in console_test.go: the SHA-256 of
# each source's path, a NUL, its bytes, in this order.
sources_hash() {
  (cd web && for f in package.json package-lock.json $(LC_ALL=C ls src/*.js); do
    printf '%s\0' "$f"
    cat "$f"
  done) | sha256sum | cut -d' ' -f1
}

hash=$(sources_hash)
if [ "${1:-}" = "--check" ]; then
  if head -n 1 dist/console.js | grep -q "sources sha256:$hash"; then
    echo "dist/console.js is up to date"
    exit 0
  fi
  echo "dist/console.js is stale: run console/build.sh" >&2
  exit 1
fi

# --ignore-scripts: esbuild's postinstall only re-checks its platform
# binary, which its launcher finds without it.
(cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
mkdir -p dist
web/node_modules/.bin/esbuild web/src/main.js \
  --bundle --format=iife --target=chrome100,firefox100,safari15 --minify \
  --legal-comments=eof --log-level=warning \
  --banner:js="// Tributary console, built by console/build.sh: do not edit. sources sha256:$hash" \
  --outfile=dist/console.js
echo "dist/console.js: $(wc -c <dist/console.js) bytes, sources sha256:$hash"
