#!/usr/bin/env bash
# The test command: installs everything the tests need (idempotently) and
# runs the whole suite with the race detector. `.ci/run` calls this.
#
#   ./scripts/test.sh              # everything
#   ./scripts/test.sh ./ingress/   # only some packages (set-up still runs)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$HOME/go/bin"

export TRIBUTARY_CACHE="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}"
mkdir -p "$TRIBUTARY_CACHE"

step() { printf '\n=== %s (%s)\n' "$*" "$(date +%T)"; }

step "system packages"
bash scripts/install-system-deps.sh

step "livekit-server"
LIVEKIT_SERVER_BIN=$(bash scripts/install-livekit-server.sh | tail -n 1)
export LIVEKIT_SERVER_BIN
echo "$LIVEKIT_SERVER_BIN"

step "lk CLI"
LK_BIN=$(bash scripts/install-lk.sh | tail -n 1)
export LK_BIN
echo "$LK_BIN"

# The release test (e2e/release_test.go) runs scripts/release.sh, whose first
# run builds a static FFmpeg: minutes of CPU, so it is built here, once, and
# cached like the tools above.
step "static FFmpeg for the release build"
bash scripts/build-ffmpeg.sh | tail -n 1

# End-to-end tests fail (rather than skip) when a real component is missing.
export TRIBUTARY_E2E_REQUIRED=1

step "go vet"
go vet ./...

step "build without cgo"
CGO_ENABLED=0 go build ./...

if [ $# -gt 0 ]; then
  step "go test -race $*"
  go test -race -count=1 -timeout 40m "$@"
else
  # Unit and package tests in parallel, then the end-to-end packages one at
  # a time: they start real servers, encoders and browsers, and timing
  # checks (frame rates, layer switches, latency) want the cores.
  e2e_pkgs=(./e2e/ ./internal/testutil/e2e/)
  mapfile -t unit_pkgs < <(go list ./... | grep -v -e '/e2e$' -e '/internal/testutil/e2e$')
  step "go test -race (packages)"
  go test -race -count=1 -timeout 30m "${unit_pkgs[@]}"
  step "go test -race (end to end)"
  go test -race -count=1 -p 1 -timeout 45m "${e2e_pkgs[@]}"
fi

step "fuzz targets, briefly (FUZZTIME=${FUZZTIME:-5s} each)"
if [ $# -eq 0 ]; then
  bash scripts/fuzz.sh
fi
