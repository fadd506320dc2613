#!/usr/bin/env bash
# Glass-to-viewer latency on every path, read from the pictures
# themselves: a 720p30 source stamps its frame number into every picture,
# viewers decode what they received and read it back (e2e
# TestGlassLatency in its full form, non-race build). For each path and
# layer: p50/p95/max of receive − send, the drift (p50 of the last 5 s −
# p50 of the first 5 s), the mean frame rate, the lowest full second and
# the longest gap between two pictures, and for transcoding paths the
# range of the session's release delay (the transcode_delay gauge: adaptive
# by default; the "transcode_delay 250ms" path pins it, for comparison, on
# a second Tributary in the same run). See e2e/glass_latency_test.go for
# what "send" means per path (RTMP: the Go publisher's write of the tag;
# SRT: ffmpeg -re's start plus the frame's time, an upper bound).
#
#   benchmarks/latency.sh                                 # 30 s per path
#   TRIBUTARY_LATENCY_SECONDS=60 benchmarks/latency.sh
#
# The machine's load average is printed with the table: on a shared
# machine the transcoding paths' numbers depend on it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init livekit e2e
export TRIBUTARY_LATENCY_FULL=1
export TRIBUTARY_LATENCY_SECONDS="${TRIBUTARY_LATENCY_SECONDS:-30}"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
go test -count=1 -v -timeout 30m -run 'TestGlassLatency$' ./e2e/ >"$out" 2>&1 || status=$?
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
grep -E 'latency, [0-9]+ s per path|switching viewer received|--- |^ok|FAIL|Error' "$out" | sed 's/^ *glass_latency_test.go:[0-9]*: //' || true
echo
echo "| path | layer | pictures | unread | p50 ms | p95 ms | max ms | drift ms | fps | min fps (1 s) | max gap ms | release delay ms |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
grep '^LATENCY|' "$out" | sed 's/^LATENCY//; s/$/|/'
if [ "$status" -ne 0 ]; then
  tail -n 60 "$out"
fi
exit "$status"
