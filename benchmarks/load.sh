#!/usr/bin/env bash
# Load and soak: N RTMP passthrough sessions (1080p30 H.264 4.5 Mbps +
# AAC→Opus) and M 1080p→3-layer transcodes at once, each watched by its own
# viewer in a real livekit-server room (e2e TestLoad). Per session: pictures
# expected over the steady window vs received (0 lost is the goal), the
# viewer's latency growth (lag over its run's lowest, p50/p95 in the first
# and last minute); Tributary's RSS and goroutines after start-up and at the
# end. Tributary is built without the race detector.
#
#   benchmarks/load.sh                              # the soak: 16 passthrough, then 3 transcodes, 10 min each
#   RUNS="passthrough=24,duration=3m" benchmarks/load.sh   # other runs, space-separated
#   OUT=load.md benchmarks/load.sh                  # the tables into a file too
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init livekit e2e
export TRIBUTARY_E2E_NORACE=1
RUNS="${RUNS:-passthrough=16,duration=10m transcode=3,duration=10m}"
viewer_rmem
out="${OUT:-$(mktemp)}"
export TRIBUTARY_LOAD_OUT="$out"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg), UDP receive buffer default $(sysctl -n net.core.rmem_default) B" >>"$out"
status=0
for run in $RUNS; do
  echo "load run: $run" >&2
  TRIBUTARY_LOAD="$run" go test -count=1 -timeout 60m -run 'TestLoad$' ./e2e/ >"${out%.md}.$run.log" 2>&1 || status=$?
done
cat "$out"
exit $status
