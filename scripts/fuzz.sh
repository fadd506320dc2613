#!/usr/bin/env bash
# Runs every Fuzz target of the project briefly (FUZZTIME each, default 5s),
# starting from the committed seed corpora. A crasher fails the run and is
# written under the package's testdata/fuzz/ by `go test`.
#
# For a longer campaign (benchmarks/fuzz-long.sh sets these):
#   FUZZTIME=10m      time per target (any `go test -fuzztime` value)
#   FUZZ_PARALLEL=N   passed as -parallel (unset: Go's default, GOMAXPROCS)
#   FUZZ_NICE=1       run go test under `nice -n 19`
#   FUZZ_SUMMARY=F    at the end print one line per target (target, wall
#                     time, execs and new corpus entries from go's last
#                     "fuzz: elapsed" line, result) and write it to file F
#                     ("-": print only)
#   FUZZ_DEADLINE=T   (with FUZZTIME in h/m/s) shorten the time of the
#                     remaining targets so that the run ends by T (`date -d`)
#   FUZZ_TARGETS=RE   only the targets whose "package/FuzzName" (e.g.
#                     demux/ts/FuzzSCTE35) matches the extended regexp RE
# Without them the run is the same as in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-5s}"
FUZZ_PARALLEL="${FUZZ_PARALLEL:-}"
FUZZ_NICE="${FUZZ_NICE:-}"
FUZZ_SUMMARY="${FUZZ_SUMMARY:-}"
FUZZ_DEADLINE="${FUZZ_DEADLINE:-}"
FUZZ_TARGETS="${FUZZ_TARGETS:-}"

extra=()
if [ -n "$FUZZ_PARALLEL" ]; then extra+=("-parallel=$FUZZ_PARALLEL"); fi
prefix=()
if [ "$FUZZ_NICE" = 1 ]; then prefix=(nice -n 19); fi

# seconds of a Go duration made of h, m and s ("" if it is not one, e.g. 1000x)
seconds() {
  local d=$1 total=0
  [[ $d =~ ^([0-9]+h)?([0-9]+m)?([0-9]+s)?$ && -n $d ]] || { echo ""; return; }
  [ -n "${BASH_REMATCH[1]}" ] && total=$((total + ${BASH_REMATCH[1]%h} * 3600))
  [ -n "${BASH_REMATCH[2]}" ] && total=$((total + ${BASH_REMATCH[2]%m} * 60))
  [ -n "${BASH_REMATCH[3]}" ] && total=$((total + ${BASH_REMATCH[3]%s}))
  echo "$total"
}

mapfile -t targets < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' . | sed 's|^\./||')
if [ -n "$FUZZ_TARGETS" ]; then
  mapfile -t targets < <(printf '%s\n' "${targets[@]}" |
    sed -E 's|^(.*)/[^/]*:[0-9]+:func (Fuzz[A-Za-z0-9_]+).*|\1/\2 &|' |
    grep -E "^[^ ]*(${FUZZ_TARGETS})[^ ]* " | cut -d' ' -f2- || true)
fi
deadline=""
if [ -n "$FUZZ_DEADLINE" ]; then deadline=$(date -d "$FUZZ_DEADLINE" +%s); fi
fuzzsecs=$(seconds "$FUZZTIME")
overhead=15 # build and baseline coverage per target, refined as targets run
done_n=0
summary=()
status=0
log=/tmp/fuzz.$$.log
for i in "${!targets[@]}"; do
  line=${targets[$i]}
  file=${line%%:*}
  name=$(sed -E 's/^.*func (Fuzz[A-Za-z0-9_]+).*/\1/' <<<"$line")
  pkg="./$(dirname "$file")"
  fuzztime=$FUZZTIME
  if [ -n "$deadline" ] && [ -n "$fuzzsecs" ]; then
    left=$(( ${#targets[@]} - i ))
    budget=$(( (deadline - $(date +%s)) / left - overhead ))
    if [ "$budget" -lt "$fuzzsecs" ]; then
      [ "$budget" -lt 5 ] && budget=5
      fuzztime="${budget}s"
    fi
  fi
  echo "fuzz $pkg $name ($fuzztime)"
  start=$(date +%s)
  ok=0
  result=FAIL
  for attempt in 1 2; do
    if "${prefix[@]}" go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" -fuzzminimizetime=1s "${extra[@]}" "$pkg" >"$log" 2>&1; then
      ok=1
      result=ok
      break
    fi
    # go test -fuzz sometimes ends a run at its time limit with a bare
    # "context deadline exceeded" and no failing input: a harness hiccup,
    # not a finding. A real finding writes its input under testdata/fuzz.
    if grep -q "Failing input written" "$log" || ! grep -q "context deadline exceeded" "$log"; then
      break
    fi
    echo "  (the fuzzing harness stopped at its deadline without a finding; running again)"
  done
  wall=$(( $(date +%s) - start ))
  if [ $ok -eq 0 ]; then
    cat "$log"
    status=1
    input=$(grep -o 'Failing input written to [^ ]*' "$log" | head -1 | sed 's/Failing input written to //' || true)
    [ -n "$input" ] && result="FAIL $input"
  elif [ "$attempt" -eq 2 ]; then
    result="ok (retried after a bare deadline error)"
  fi
  if [ -n "$fuzzsecs" ] && [ $ok -eq 1 ]; then
    done_n=$((done_n + 1))
    overhead=$(( (overhead * done_n + wall / attempt - $(seconds "$fuzztime")) / (done_n + 1) ))
    [ "$overhead" -lt 0 ] && overhead=0
  fi
  # last "fuzz: elapsed: 4m0s, execs: 123456 (514/sec), new interesting: 3 (total: 40)"
  last=$(grep -E '^fuzz: elapsed: .*execs: [0-9]+' "$log" | tail -1 || true)
  execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
  newc=$(sed -nE 's/.*new interesting: ([0-9]+) \(total: ([0-9]+)\).*/\1 (total \2)/p' <<<"$last")
  summary+=("$(printf '%-22s %-24s %-6s %6ss %12s  %-16s %s' "${pkg#./}" "$name" "$fuzztime" "$wall" "${execs:--}" "${newc:--}" "$result")")
done
rm -f "$log"
if [ -n "$FUZZ_SUMMARY" ]; then
  {
    printf '%-22s %-24s %-6s %7s %12s  %-16s %s\n' package target fuzztime wall execs "new corpus" result
    printf '%s\n' "${summary[@]}"
  } | if [ "$FUZZ_SUMMARY" = - ]; then cat; else tee "$FUZZ_SUMMARY"; fi
fi
exit $status
