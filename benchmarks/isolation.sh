#!/usr/bin/env bash
# What running the transcoders in a child process (cluster mode's
# isolation) costs against running them in process: one 720p30 RTMP
# session transcoded to the default 3 layers, CPU and RSS of the process
# tree for each (e2e TestClusterIsolationOverhead, non-race build). A
# measurement, not a test: it asserts nothing and prints the numbers.
#
#   benchmarks/isolation.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init livekit e2e
export TRIBUTARY_MEASURE_ISOLATION=1
go test -count=1 -v -timeout 20m -run 'TestClusterIsolationOverhead$' ./e2e/ 2>&1 | grep -E 'overhead|isolat|in process|child|--- |^ok|FAIL'
