#!/usr/bin/env bash
# What running the transcoders in a child process (cluster mode's
# isolation) costs against running them in process: one 720p30 RTMP
# session transcoded to the default 3 layers, CPU and RSS of the process
# tree for each (e2e TestClusterIsolationOverhead, non-race build). A
# measurement, not a test: it asserts nothing and prints the numbers.
#
#   benchmarks/isolation.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$HOME/go/bin"
export TRIBUTARY_CACHE="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}"
bash scripts/install-system-deps.sh >/dev/null
LIVEKIT_SERVER_BIN=$(bash scripts/install-livekit-server.sh | tail -n 1)
export LIVEKIT_SERVER_BIN TRIBUTARY_E2E_REQUIRED=1 TRIBUTARY_MEASURE_ISOLATION=1
go test -count=1 -v -timeout 20m -run 'TestClusterIsolationOverhead$' ./e2e/ 2>&1 | grep -E 'overhead|isolat|in process|child|--- |^ok|FAIL'
