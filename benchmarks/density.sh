#!/usr/bin/env bash
# Density: the most concurrent 720p30 sources (H.264 2.5 Mbps + AAC, the
# default preset's three layers) one machine holds at full frame rate, with
# a real livekit-server and a viewer per layer of every session on the same
# machine (e2e TestDensity). Sources are added one at a time; after each,
# every viewer must get at least MIN_FPS over HOLD. The run stops at the
# first count not held and reports the largest held, with the CPU used by
# Tributary, livekit-server and the viewers at each step. Standalone
# admission is off for the run; Tributary is built without the race
# detector. Run it on a quiet machine: other load makes the count lower.
#
#   benchmarks/density.sh                        # up to 8 sources, 60 s each
#   MAX=12 HOLD=120s benchmarks/density.sh       # more, longer
#   OUT=density.md benchmarks/density.sh         # the table into a file too
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init livekit e2e
export TRIBUTARY_E2E_NORACE=1
MAX="${MAX:-8}" HOLD="${HOLD:-60s}" MIN_FPS="${MIN_FPS:-28.5}"
viewer_rmem
# The source (e2e benchSource, cached in ~/.cache/tributary/bench) is
# looped without a hole in its video; lib.sh's gen_source leaves 50 ms at
# every loop, which would count as pictures lost.
out="${OUT:-$(mktemp)}"
export TRIBUTARY_DENSITY_OUT="$out"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out"
status=0
TRIBUTARY_DENSITY="max=$MAX,hold=$HOLD,min_fps=$MIN_FPS" go test -count=1 -timeout 120m -run 'TestDensity$' ./e2e/ >"${out%.md}.log" 2>&1 || status=$?
cat "$out"
[ $status = 0 ] || echo "the test failed: see ${out%.md}.log" >&2
exit $status
