#!/usr/bin/env bash
# Idle-session benchmark: the CPU a transcoding RTMP session costs while
# nobody in the room receives its video (every layer paused by LiveKit's
# dynacast: Tributary then does not even decode the source; the audio is
# still transcoded), in CPU-s per media second. With PREV_REV set (a git
# revision), the same run is made with that revision's build first, so the
# saving is measured against it in one run. Two reference rows follow:
# the FFmpeg CLI receiving the same pushed stream as an RTMP server and
# transcoding its audio to Opus, and receiving it alone.
#
#   benchmarks/idle.sh
#   PREV_REV=54fd66b benchmarks/idle.sh
#   PROFILE=/tmp/idle.pprof benchmarks/idle.sh   # and a CPU profile of the measured 18 s
#
# Input: 30 s of 1080p30 H.264 high profile, 3 B-frames, 6 Mbps +
# AAC 48 kHz stereo (the source of benchmarks/transcode.sh, cached),
# pushed in real time; a real livekit-server (--dev, loopback) with nobody
# in the room (looped to 60 s). Tributary's CPU is utime+stime from
# /proc/<pid>/stat over 18 s, from 2 s after dynacast paused the last layer.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init livekit tributary
BINS=("$BIN/tributary")
NAMES=("this tree")
if [ -n "${PREV_REV:-}" ]; then
  prev=$(mktemp -d)
  git -C "$ROOT" archive "$PREV_REV" | tar -x -C "$prev"
  (cd "$prev" && go build -o "$BIN/tributary-prev" ./cmd/tributary)
  rm -rf "$prev"
  BINS=("$BIN/tributary-prev" "$BIN/tributary")
  NAMES=("$PREV_REV" "this tree")
fi

SRC="$BENCH_CACHE/src-1080p30-high.flv"
gen_source "$SRC" 1920 1080 6M high 3

bench_workdir

read -r LK_PORT LK_TCP LK_UDP API_PORT HEALTH_PORT RTMP_PORT WHIP_PORT WHIP_UDP DEBUG_PORT < <(free_ports 9)
start_livekit "$LIVEKIT_SERVER_BIN" "$WORK" "$LK_PORT" "$LK_TCP" "$LK_UDP"
PIDS+=($LIVEKIT_PID)

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
results=()
for n in "${!BINS[@]}"; do
  rm -f "$WORK/ingress.db"
  cat >"$WORK/tributary.yaml" <<YAML
api_key: devkey
api_secret: secret
development: true
ws_url: ws://127.0.0.1:$LK_PORT
api_port: $API_PORT
health_port: $HEALTH_PORT
rtmp_port: $RTMP_PORT
whip_port: $WHIP_PORT
rtc_config:
  udp_port: $WHIP_UDP
store_path: $WORK/ingress.db
rtmp_base_url: rtmp://127.0.0.1:$RTMP_PORT/live
whip_base_url: http://127.0.0.1:$WHIP_PORT/w
debug_handler_port: $DEBUG_PORT
logging:
  level: debug
YAML
  "${BINS[$n]}" --config "$WORK/tributary.yaml" >"$WORK/tributary-$n.log" 2>&1 &
  pid=$!
  PIDS+=($pid)
  "$BIN/tributary-dev" -api "http://127.0.0.1:$API_PORT" -health "http://127.0.0.1:$HEALTH_PORT" \
    -room "idle-$n" -input rtmp >"$WORK/dev.out"
  URL=$(awk '/URL:/{print $2}' "$WORK/dev.out")
  KEY=$(awk '/Stream key:/{print $3}' "$WORK/dev.out")
  ffmpeg -hide_banner -loglevel error -nostdin -re -stream_loop -1 -i "$SRC" -t 60 -c copy -f flv "$URL/$KEY" &
  ff=$!
  PIDS+=($ff)
  # Wait for dynacast to pause the three layers (nobody subscribes), then
  # two more seconds for the queues to drain.
  start=$(date +%s.%N)
  for _ in $(seq 400); do
    [ "$(grep -c "video layer paused" "$WORK/tributary-$n.log" || true)" -ge 3 ] && break
    sleep 0.1
  done
  paused_after=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  sleep 2
  t0=$(ticks "$pid")
  s0=$(date +%s.%N)
  if [ -n "${PROFILE:-}" ] && [ "$n" = $((${#BINS[@]} - 1)) ]; then
    curl -fsS -o "$PROFILE" "http://127.0.0.1:$DEBUG_PORT/debug/pprof/profile?seconds=18"
  else
    sleep 18
  fi
  t1=$(ticks "$pid")
  s1=$(date +%s.%N)
  kill "$ff" 2>/dev/null || true
  wait "$ff" 2>/dev/null || true
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  paused=$(grep -c "video layer paused" "$WORK/tributary-$n.log" || true)
  cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v s0="$s0" -v s1="$s1" 'BEGIN{printf "%.3f", (b-a)/hz/(s1-s0)}')
  results+=("$cpu $paused $paused_after")
  cp "$WORK/tributary-$n.log" "$BENCH_CACHE/idle-tributary-$n.log"
done

# References, measured the same way on the same pushed stream: what the
# FFmpeg CLI spends receiving it as an RTMP server and transcoding only
# its audio to Opus (video copied to nowhere), and receiving it alone.
# They are the cost of the work an idle session cannot skip, in C.
ffmpeg_ref() {
  local port=$1; shift
  ffmpeg -hide_banner -loglevel error -nostdin -listen 1 -i "rtmp://127.0.0.1:$port/live/ref" "$@" >"$WORK/ffmpeg-ref.log" 2>&1 &
  local rp=$!
  PIDS+=($rp)
  sleep 1
  ffmpeg -hide_banner -loglevel error -nostdin -re -stream_loop -1 -i "$SRC" -t 34 -c copy -f flv "rtmp://127.0.0.1:$port/live/ref" &
  local pp=$!
  PIDS+=($pp)
  sleep 12
  local t0 t1 s0 s1
  t0=$(ticks "$rp"); s0=$(date +%s.%N)
  sleep 18
  t1=$(ticks "$rp"); s1=$(date +%s.%N)
  wait "$pp" 2>/dev/null || true
  kill "$rp" 2>/dev/null || true
  wait "$rp" 2>/dev/null || true
  awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v s0="$s0" -v s1="$s1" 'BEGIN{printf "%.3f", (b-a)/hz/(s1-s0)}'
}
read -r REF_PORT < <(free_ports 1)
ref_audio=$(ffmpeg_ref "$REF_PORT" -map 0:v -c:v copy -f null - -map 0:a -c:a libopus -b:a 96k -ar 48000 -ac 2 -f null -)
read -r REF_PORT < <(free_ports 1)
ref_recv=$(ffmpeg_ref "$REF_PORT" -map 0:a -c:a copy -f null -)

echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input:   $SRC (1080p30 high, B-frames, pushed with ffmpeg -re -c copy), nobody in the room, 18 s measured"
echo
printf "%-28s %14s %16s %22s\n" build "cpu/media-s" "layers paused" "paused after (s)"
for n in "${!BINS[@]}"; do
  read -r cpu paused after <<<"${results[$n]}"
  printf "%-28s %14s %16s %22s\n" "${NAMES[$n]}" "$cpu" "$paused" "$after"
done
printf "%-28s %14s\n" "ffmpeg: receive + AAC->Opus" "$ref_audio"
printf "%-28s %14s\n" "ffmpeg: receive only" "$ref_recv"
echo "target: <= 0.03 cpu/media-s with nobody watching video"
