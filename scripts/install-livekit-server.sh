#!/usr/bin/env bash
# Builds the pinned livekit-server from the Go module proxy and caches it
# outside the checkout. Prints the binary's path on its last line.
#
# A user who already has a livekit-server binary can skip the build with
# LIVEKIT_SERVER_BIN=/path/to/livekit-server.
#
# Why not `go install`: the module's go.mod has replace directives pointing at
# pion forks that the proxy does not serve. We drop those replaces and the two
# calls that exist only in the forks; the upstream pion releases are enough
# for a dev server used in tests.
set -euo pipefail

VERSION="${LIVEKIT_SERVER_VERSION:-v1.13.11}"
CACHE="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}"
OUT="$CACHE/livekit-server-$VERSION/livekit-server"

if [ -n "${LIVEKIT_SERVER_BIN:-}" ]; then
  [ -x "$LIVEKIT_SERVER_BIN" ] || { echo "LIVEKIT_SERVER_BIN=$LIVEKIT_SERVER_BIN is not executable" >&2; exit 1; }
  echo "$LIVEKIT_SERVER_BIN"
  exit 0
fi
if [ -x "$OUT" ]; then
  echo "$OUT"
  exit 0
fi

echo "building livekit-server $VERSION (first time only, ~10 minutes)..." >&2
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/livekit/livekit-server@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "could not download livekit-server $VERSION" >&2; exit 1; }
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
cd "$work/src"
sed -i '/^replace github.com\/pion\//d' go.mod
# Multi-line replace blocks are not used by this version; fail loudly if that changes.
if grep -q 'github.com/pion/.* => ' go.mod; then
  echo "unexpected pion replace left in go.mod" >&2; exit 1
fi
sed -i -e 's/^\([[:space:]]*\)se\.EnableSped(true)/\1\/\/ se.EnableSped(true)/' \
       -e 's/^\([[:space:]]*\)se\.EnableSctpSnap(true)/\1\/\/ se.EnableSctpSnap(true)/' pkg/rtc/transport.go
GOFLAGS=-mod=mod go build -o "$work/livekit-server" ./cmd/server
mkdir -p "$(dirname "$OUT")"
mv "$work/livekit-server" "$OUT"
echo "$OUT"
