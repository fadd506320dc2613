#!/usr/bin/env bash
# Builds the pinned LiveKit CLI (`lk`) from the Go module proxy and caches it
# outside the checkout. Prints the binary's path on its last line.
#
# A user who already has `lk` can skip the build with LK_BIN=/path/to/lk.
#
# Why not `go install`: it needs a version list the proxy refuses, the
# protocol pseudo-version lk pins is not served (v1.49.0 is, and works), and
# one call (run.SummaryZstd) does not exist in that protocol release. The
# portaudio_system tag links Debian's portaudio instead of building it.
set -euo pipefail

VERSION="${LK_VERSION:-v2.18.2}"
PROTOCOL="${LK_PROTOCOL_VERSION:-v1.49.0}"
CACHE="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}"
OUT="$CACHE/lk-$VERSION/lk"

if [ -n "${LK_BIN:-}" ]; then
  [ -x "$LK_BIN" ] || { echo "LK_BIN=$LK_BIN is not executable" >&2; exit 1; }
  echo "$LK_BIN"
  exit 0
fi
if [ -x "$OUT" ]; then
  echo "$OUT"
  exit 0
fi

echo "building lk $VERSION (first time only, ~15-25 minutes: it compiles C++ through cgo)..." >&2
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/livekit/livekit-cli/v2@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "could not download livekit-cli $VERSION" >&2; exit 1; }
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
cd "$work/src"
go mod edit -require="github.com/livekit/protocol@$PROTOCOL"
sed -i 's/run\.SummaryZstd/[]byte(nil)/' cmd/lk/simulate.go
GOFLAGS=-mod=mod go build -tags portaudio_system -o "$work/lk" ./cmd/lk
mkdir -p "$(dirname "$OUT")"
mv "$work/lk" "$OUT"
echo "$OUT"
