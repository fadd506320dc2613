#!/usr/bin/env bash
# Top-layer reuse benchmark: the CPU of transcoding a 720p30 Constrained
# Baseline source (no B-frames, 2 Mbps, keyframe every 2 s) with the
# default 720p preset, with the top layer sent as the source's own frames
# (reuse on, the default) and with every layer encoded (reuse off, what
# Tributary did before), in one run.
#
#   benchmarks/reuse.sh                          # 30 s of media, best of 3
#   RUNS=5 benchmarks/reuse.sh                   # best of 5
#   BENCH_SECONDS=10 RUNS=1 benchmarks/reuse.sh  # a quick check
#   PREV_REV=<commit> benchmarks/reuse.sh        # adds the transcodebench of
#                                                # that commit (e.g. the main
#                                                # before reuse) as a row
#
# The work is transcodebench's (benchmarks/cmd/transcodebench: what a
# transcoding RTMP session does, as fast as possible, outputs discarded):
# decode, 3 layers of the default preset (1280x720, 640x360, 320x180),
# AAC to Opus. With reuse on, the 1280x720 layer is the source's frames
# after the first 2 s of measurement (transcode/reuse.go), so only 640x360
# and 320x180 are encoded. Runs alternate (off, on, [prev], off, on, ...)
# so that every mode sees the same machine; the best of RUNS is kept.
#
# Measured: CPU seconds (user+sys, every thread, getrusage) per media
# second, from transcodebench's JSON line. The target is on/off <= 0.60.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RUNS="${RUNS:-3}"
PREV_REV="${PREV_REV:-}"

bench_init
bench_workdir
go build -o "$BIN/transcodebench" ./benchmarks/cmd/transcodebench
modes="off on"
if [ -n "$PREV_REV" ]; then
  bench_on_exit() { git -C "$ROOT" worktree remove --force "$WORK/prev" >/dev/null 2>&1 || true; }
  git -C "$ROOT" worktree add --detach "$WORK/prev" "$PREV_REV" >/dev/null 2>&1
  (cd "$WORK/prev" && go build -o "$BIN/transcodebench-prev" ./benchmarks/cmd/transcodebench)
  modes="off on prev"
fi

src="$BENCH_CACHE/src-720p30-baseline-${BENCH_SECONDS}s.flv"
gen_source "$src" 1280 720 2M baseline 0

# run MODE: prints "cpu_per_media_second top_layer_bytes".
run() {
  local out
  case $1 in
    off) out=$("$BIN/transcodebench" -i "$src" -reuse=false 2>/dev/null) ;;
    on) out=$("$BIN/transcodebench" -i "$src" -reuse=true 2>/dev/null) ;;
    prev) out=$("$BIN/transcodebench-prev" -i "$src" 2>/dev/null) ;;
  esac
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("%.3f" % r["cpu_per_media_second"], r["layer_bytes"][-1])' "$out"
}

declare -A best=() top=()
for _ in $(seq "$RUNS"); do
  for m in $modes; do
    read -r c b < <(run "$m")
    if [ -z "${best[$m]:-}" ] || awk -v a="$c" -v b="${best[$m]}" 'BEGIN{exit !(a<b)}'; then
      best[$m]=$c
      top[$m]=$b
    fi
  done
done

echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runs:    best of $RUNS per mode, alternating; media ${BENCH_SECONDS}s; source $(basename "$src") ($(stat -c %s "$src") bytes)"
[ -n "$PREV_REV" ] && echo "prev:    transcodebench of $(git -C "$ROOT" rev-parse --short "$PREV_REV")"
echo
printf "%-6s %12s %16s\n" reuse "cpu/media-s" "1280x720 bytes"
for m in $modes; do
  printf "%-6s %12s %16s\n" "$m" "${best[$m]}" "${top[$m]}"
done
awk -v on="${best[on]}" -v off="${best[off]}" 'BEGIN{printf "ratio  cpu on/off %.2f (target <= 0.60)\n", on/off}'
if [ -n "$PREV_REV" ]; then
  awk -v on="${best[on]}" -v p="${best[prev]}" 'BEGIN{printf "ratio  cpu on/prev %.2f\n", on/p}'
fi
