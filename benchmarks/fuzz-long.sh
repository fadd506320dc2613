#!/usr/bin/env bash
# Long fuzz campaign: every Fuzz target of the project for FUZZTIME each
# (default 10m) through scripts/fuzz.sh, under nice, with a per-target
# summary (wall time, execs, new corpus entries, result) written to
# FUZZ_SUMMARY (default ~/.cache/tributary/bench/fuzz-long-<UTC time>.txt).
#
#   benchmarks/fuzz-long.sh
#   FUZZTIME=4m FUZZ_PARALLEL=1 FUZZ_DEADLINE=10:15 benchmarks/fuzz-long.sh
#
# Other knobs (see scripts/fuzz.sh): FUZZ_PARALLEL (-parallel, default Go's),
# FUZZ_NICE (default 1 here), FUZZ_DEADLINE, FUZZ_TARGETS. New interesting
# inputs go to Go's cache ($(go env GOCACHE)/fuzz), not to testdata/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/benchmarks/lib.sh"

export FUZZTIME="${FUZZTIME:-10m}"
export FUZZ_NICE="${FUZZ_NICE:-1}"
mkdir -p "$BENCH_CACHE"
export FUZZ_SUMMARY="${FUZZ_SUMMARY:-$BENCH_CACHE/fuzz-long-$(date -u +%Y%m%dT%H%MZ).txt}"
echo "fuzz campaign: FUZZTIME=$FUZZTIME FUZZ_PARALLEL=${FUZZ_PARALLEL:-(go default)} FUZZ_NICE=$FUZZ_NICE, summary: $FUZZ_SUMMARY" >&2
status=0
"$ROOT/scripts/fuzz.sh" || status=$?
echo "summary written to $FUZZ_SUMMARY" >&2
exit $status
