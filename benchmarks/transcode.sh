#!/usr/bin/env bash
# Transcoding benchmark: Tributary's transcoder next to a GStreamer pipeline
# and the FFmpeg CLI doing the same work, on the same inputs, in one run.
#
#   benchmarks/transcode.sh              # 1080p and 720p, one run each
#   RUNS=3 benchmarks/transcode.sh       # best of 3 per tool (less noise)
#   INPUTS=1080p benchmarks/transcode.sh # only one input
#   PREV_REV=cb78a48 benchmarks/transcode.sh # and a row for that revision's build
#
# The work, for each input (30 s of 30 fps H.264 High with B-frames + AAC
# 48 kHz stereo, generated once into ~/.cache/tributary/bench/):
#   one H.264 decode → 3 scales (1280x720, 640x360, 320x180; GStreamer and
#   FFmpeg bilinear from the source, Tributary area-averaged, each layer
#   from the next larger one) →
#   3 x264 encodes (preset veryfast, tune zerolatency, baseline, no
#   B-frames, keyframe every 60 frames, CBR-like: maxrate = bitrate, 1 s
#   VBV; 1.9 Mbps / 671751 bps / 237500 bps, the default preset), and the
#   AAC decoded, resampled to 48 kHz stereo and encoded to Opus 96 kbps.
#   Everything runs as fast as possible (no real-time pacing); encoded
#   outputs are discarded.
#
# Threads: each tool keeps its own defaults, which is what a user gets:
#   Tributary: decoder 1 thread; x264 1 thread per layer, the layers
#     encoding in parallel (see transcode/video.go).
#   GStreamer: avdec_h264 max-threads=0 (auto), x264enc threads=0 (auto,
#     sliced because of tune=zerolatency).
#   FFmpeg: decoder threads auto (frame threads), libx264 threads auto
#     (sliced, zerolatency), filter threads auto.
#
# Measured per tool: CPU seconds (user+sys of the process and all its
# threads, from /usr/bin/time) per media second, and peak RSS.
#
# A fourth row, "floor", is the least any tool can spend on this work with
# these encoder settings: the H.264 decode alone (libavcodec, 1 thread) plus
# the three x264 encodes alone (1 thread each, the cheapest way to run x264)
# of pictures scaled beforehand (area, each layer from the next larger one,
# as Tributary does) and read from files in the page cache; no scaling, no
# audio, no pipeline. Its ratios to GStreamer and FFmpeg are the best ratios
# any transcoder using libavcodec's decoder and x264 with these settings can
# reach on this machine and content.
#
# LINKING=1 adds two rows that compare the two ways of linking FFmpeg, with
# the transcoding running in the tributary binary itself (transcodebench
# -isolate BIN: the work is done by BIN's transcode child, whose CPU is
# counted): tributary_dynamic, built here against the system's shared
# FFmpeg libraries, and tributary_static, the release file
# (dist/tributary-linux-amd64, built by scripts/release.sh when missing;
# RELEASE_BIN names another). Both -trimpath, stripped, same tags. Their
# runs alternate, RUNS rounds, best of each, so that both see the same
# machine; the ratio static/dynamic should stay within 0.95-1.05.
#
# Two last rows are not the same work and take no part in the ratios:
# Tributary with the layers LiveKit's dynacast would pause when every
# viewer watches LOW (tributary_low_only) or nobody watches
# (tributary_nobody).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RUNS="${RUNS:-1}"
INPUTS="${INPUTS:-1080p 720p}"
LINKING="${LINKING:-0}"

bench_init
(cd "$ROOT" && go build -o "$BIN/transcodebench" ./benchmarks/cmd/transcodebench)
if [ -n "${PREV_REV:-}" ]; then
  prev=$(mktemp -d)
  git -C "$ROOT" archive "$PREV_REV" | tar -x -C "$prev"
  (cd "$prev" && go build -o "$BIN/transcodebench-prev" ./benchmarks/cmd/transcodebench)
  rm -rf "$prev"
fi
if [ "$LINKING" = 1 ]; then
  (cd "$ROOT" && go build -trimpath -tags netgo,osusergo -ldflags "-s -w" -o "$BIN/tributary-dynamic" ./cmd/tributary)
  RELEASE_BIN="${RELEASE_BIN:-$ROOT/dist/tributary-linux-amd64}"
  if [ ! -x "$RELEASE_BIN" ]; then
    (cd "$ROOT" && scripts/release.sh >&2)
  fi
fi

# Default preset layers (simulcast.ResolveVideo(nil)), for 16:9 sources.
L_W=(1280 640 320)
L_H=(720 360 180)
L_BR=(1900000 671751 237500)
KEYINT=60

# measure NAME CMD...: runs CMD under /usr/bin/time, prints
# "cpu_seconds max_rss_kib wall_seconds".
measure() {
  local tf
  tf=$(mktemp)
  /usr/bin/time -f "%U %S %M %e" -o "$tf" "$@" >/dev/null 2>"$tf.err" || {
    echo "FAILED: $*" >&2
    cat "$tf.err" >&2
    rm -f "$tf" "$tf.err"
    return 1
  }
  awk '{printf "%.3f %d %.2f\n", $1+$2, $3, $4}' "$tf"
  rm -f "$tf" "$tf.err"
}

run_tributary() {
  measure "$BIN/transcodebench" -i "$1"
}

# The same work with PREV_REV's build (PREV_REV set).
run_tributary_prev() {
  measure "$BIN/transcodebench-prev" -i "$1"
}

# Not the same work, shown for what it saves: Tributary when LiveKit's
# dynacast reports that every viewer watches the LOW layer (the 720p and
# 360p encoders paused), and when nobody watches (decode and Opus only).
run_tributary_low_only() {
  measure "$BIN/transcodebench" -i "$1" -pause 1,2
}
run_tributary_nobody() {
  measure "$BIN/transcodebench" -i "$1" -pause 0,1,2
}

# The same transcoding in a tributary binary's transcode child: the
# dynamic build and the static release file (LINKING=1).
run_tributary_dynamic() {
  measure "$BIN/transcodebench" -i "$1" -isolate "$BIN/tributary-dynamic"
}
run_tributary_static() {
  measure "$BIN/transcodebench" -i "$1" -isolate "$RELEASE_BIN"
}

run_gstreamer() {
  local src=$1
  local p="filesrc location=$src ! flvdemux name=d d.video ! queue ! h264parse ! avdec_h264 ! tee name=t"
  local i
  for i in 0 1 2; do
    # x264enc: bitrate in kbit/s, vbv-buf-capacity in ms.
    p+=" t. ! queue ! videoscale method=bilinear ! video/x-raw,width=${L_W[$i]},height=${L_H[$i]}"
    p+=" ! x264enc speed-preset=veryfast tune=zerolatency bitrate=$((L_BR[i] / 1000)) vbv-buf-capacity=1000"
    p+=" key-int-max=$KEYINT bframes=0 ! video/x-h264,profile=constrained-baseline ! fakesink sync=false"
  done
  p+=" d.audio ! queue ! aacparse ! avdec_aac ! audioconvert ! audioresample"
  p+=" ! audio/x-raw,rate=48000,channels=2 ! opusenc bitrate=96000 ! fakesink sync=false"
  # shellcheck disable=SC2086
  measure gst-launch-1.0 -q $p
}

run_ffmpeg() {
  local src=$1
  local fc="[0:v]split=3[s0][s1][s2]"
  local args=()
  local i
  for i in 0 1 2; do
    fc+=";[s$i]scale=${L_W[$i]}:${L_H[$i]}:flags=bilinear[o$i]"
    args+=(-map "[o$i]" -c:v libx264 -preset veryfast -tune zerolatency -profile:v baseline
      -b:v "${L_BR[$i]}" -maxrate "${L_BR[$i]}" -bufsize "${L_BR[$i]}"
      -g $KEYINT -keyint_min $KEYINT -sc_threshold 0 -bf 0 -f null -)
  done
  args+=(-map 0:a -c:a libopus -b:a 96k -ar 48000 -ac 2 -f null -)
  measure ffmpeg -hide_banner -loglevel error -nostdin -i "$src" -filter_complex "$fc" "${args[@]}"
}

# run_floor SRC: decode alone + the three x264 encodes alone, summed (see the
# header). The scaled pictures are made first, unmeasured, into a temporary
# directory (≈ 1.6 GB for a 1080p source), and removed afterwards.
run_floor() {
  local src=$1 tmp i total=0 rss=0 wall=0 c m w
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/tributary-floor.XXXXXX")
  ffmpeg -hide_banner -loglevel error -nostdin -y -i "$src" -an -filter_complex \
    "[0:v]scale=${L_W[0]}:${L_H[0]}:flags=area,split=2[a][b];[b]scale=${L_W[1]}:${L_H[1]}:flags=area,split=2[c][d];[d]scale=${L_W[2]}:${L_H[2]}:flags=area[e]" \
    -map "[a]" -f rawvideo -pix_fmt yuv420p "$tmp/l0.yuv" \
    -map "[c]" -f rawvideo -pix_fmt yuv420p "$tmp/l1.yuv" \
    -map "[e]" -f rawvideo -pix_fmt yuv420p "$tmp/l2.yuv"
  read -r c m w < <(measure ffmpeg -hide_banner -loglevel error -nostdin -threads 1 -i "$src" -an -f null -)
  total=$c rss=$m wall=$w
  for i in 0 1 2; do
    read -r c m w < <(measure ffmpeg -hide_banner -loglevel error -nostdin \
      -f rawvideo -pix_fmt yuv420p -s "${L_W[$i]}x${L_H[$i]}" -r 30 -i "$tmp/l$i.yuv" \
      -c:v libx264 -threads 1 -preset veryfast -tune zerolatency -profile:v baseline \
      -b:v "${L_BR[$i]}" -maxrate "${L_BR[$i]}" -bufsize "${L_BR[$i]}" \
      -g $KEYINT -keyint_min $KEYINT -sc_threshold 0 -bf 0 -f null -)
    total=$(awk -v a="$total" -v b="$c" 'BEGIN{printf "%.3f", a+b}')
    wall=$(awk -v a="$wall" -v b="$w" 'BEGIN{printf "%.2f", a+b}')
    [ "$m" -gt "$rss" ] && rss=$m
  done
  rm -rf "$tmp"
  echo "$total $rss $wall"
}

echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tools:   $(ffmpeg -version | head -1 | cut -d' ' -f1-3), $(gst-launch-1.0 --version | sed -n 2p), $(go version | cut -d' ' -f3)"
echo "runs:    best of $RUNS per tool; media ${BENCH_SECONDS}s per input"
if [ "$LINKING" = 1 ]; then
  echo "linking: dynamic $(ldd "$BIN/tributary-dynamic" | wc -l) objects loaded; static $RELEASE_BIN ($(ldd "$RELEASE_BIN" | wc -l) objects)"
fi
echo
printf "%-6s %-18s %12s %10s %10s %10s\n" input tool "cpu/media-s" "rss MiB" "wall s" "cpu s"
for inp in $INPUTS; do
  case $inp in
    1080p) src="$BENCH_CACHE/src-1080p30-high.flv"; gen_source "$src" 1920 1080 6M high 3 ;;
    720p) src="$BENCH_CACHE/src-720p30-high.flv"; gen_source "$src" 1280 720 3500k high 3 ;;
    *) echo "unknown input $inp (1080p or 720p)" >&2; exit 2 ;;
  esac
  declare -A cpu=() rss=() bestline=()
  tools=(tributary gstreamer ffmpeg floor tributary_low_only tributary_nobody)
  [ -n "${PREV_REV:-}" ] && tools+=(tributary_prev)
  # Rounds: every tool once per round, RUNS rounds, the least CPU of each
  # tool kept — so that a noisy minute on a shared machine hits every tool
  # alike instead of the one that happened to run then.
  for _ in $(seq "$RUNS"); do
    for tool in "${tools[@]}"; do
      line=$("run_$tool" "$src")
      prev=${bestline[$tool]:-}
      if [ -z "$prev" ] || awk -v a="$line" -v b="$prev" 'BEGIN{split(a,x," ");split(b,y," ");exit !(x[1]<y[1])}'; then
        bestline[$tool]=$line
      fi
    done
  done
  for tool in "${tools[@]}"; do
    read -r c m w <<<"${bestline[$tool]}"
    cpu[$tool]=$(awk -v c="$c" -v s="$BENCH_SECONDS" 'BEGIN{printf "%.3f", c/s}')
    rss[$tool]=$(awk -v m="$m" 'BEGIN{printf "%.1f", m/1024}')
    printf "%-6s %-18s %12s %10s %10s %10s\n" "$inp" "$tool" "${cpu[$tool]}" "${rss[$tool]}" "$w" "$c"
  done
  if [ -n "${PREV_REV:-}" ]; then
    awk -v t="${cpu[tributary]}" -v p="${cpu[tributary_prev]}" -v inp="$inp" -v rev="$PREV_REV" 'BEGIN{
      printf "%-6s previous   cpu this tree / %s %.3f\n", inp, rev, t/p }'
  fi
  if [ "$LINKING" = 1 ]; then
    # Alternating rounds: dynamic, static, dynamic, static, ...
    best_d="" best_s=""
    for _ in $(seq "$RUNS"); do
      for kind in dynamic static; do
        line=$("run_tributary_$kind" "$src")
        if [ "$kind" = dynamic ]; then prev=$best_d; else prev=$best_s; fi
        if [ -z "$prev" ] || awk -v a="$line" -v b="$prev" 'BEGIN{split(a,x," ");split(b,y," ");exit !(x[1]<y[1])}'; then
          if [ "$kind" = dynamic ]; then best_d=$line; else best_s=$line; fi
        fi
      done
    done
    for kind in dynamic static; do
      if [ "$kind" = dynamic ]; then line=$best_d; else line=$best_s; fi
      read -r c m w <<<"$line"
      cpu[tributary_$kind]=$(awk -v c="$c" -v s="$BENCH_SECONDS" 'BEGIN{printf "%.3f", c/s}')
      rss[tributary_$kind]=$(awk -v m="$m" 'BEGIN{printf "%.1f", m/1024}')
      printf "%-6s %-18s %12s %10s %10s %10s\n" "$inp" "tributary_$kind" "${cpu[tributary_$kind]}" "${rss[tributary_$kind]}" "$w" "$c"
    done
    awk -v d="${cpu[tributary_dynamic]}" -v s="${cpu[tributary_static]}" -v inp="$inp" 'BEGIN{
      printf "%-6s linking    cpu static/dynamic %.3f (target 0.95-1.05)\n", inp, s/d }'
  fi
  awk -v t="${cpu[tributary]}" -v g="${cpu[gstreamer]}" -v f="${cpu[ffmpeg]}" -v fl="${cpu[floor]}" \
    -v tr="${rss[tributary]}" -v gr="${rss[gstreamer]}" -v fr="${rss[ffmpeg]}" -v inp="$inp" 'BEGIN{
      printf "%-6s ratios     cpu Tributary/GStreamer %.2f (target <= 0.65)  Tributary/FFmpeg %.2f (target <= 0.80)\n", inp, t/g, t/f
      printf "%-6s            rss Tributary/GStreamer %.2f  Tributary/FFmpeg %.2f\n", inp, tr/gr, tr/fr
      printf "%-6s            floor (decode + x264 alone) / GStreamer %.2f  / FFmpeg %.2f  Tributary/floor %.2f\n", inp, fl/g, fl/f, t/fl
    }'
done
