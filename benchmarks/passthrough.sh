#!/usr/bin/env bash
# RTMP passthrough benchmark: the CPU Tributary spends on one RTMP session
# whose H.264 is forwarded unchanged (enable_transcoding: false; the AAC is
# transcoded to Opus), next to an `ffmpeg -listen 1 … -c copy -f null -`
# listener fed the same stream the same way.
#
#   benchmarks/passthrough.sh
#
# Input: 30 s of 1080p30 H.264 constrained baseline (no B-frames) at
# 4.5 Mbps + AAC 48 kHz stereo, generated once into ~/.cache/tributary/bench/,
# pushed in real time with `ffmpeg -re -i f.flv -c copy -f flv rtmp://…`.
# A real livekit-server (--dev, loopback, free ports) receives the room's
# tracks: $LIVEKIT_SERVER_BIN or the one scripts/install-livekit-server.sh
# caches. Tributary's CPU is utime+stime from /proc/<pid>/stat before and
# after the push; the listener's comes from /usr/bin/time.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init livekit tributary

SRC="$BENCH_CACHE/src-1080p30-baseline.flv"
gen_source "$SRC" 1920 1080 4500k baseline 0

bench_on_exit() { cp "$WORK/tributary.log" "$BENCH_CACHE/passthrough-tributary.log" 2>/dev/null; }
bench_workdir

read -r LK_PORT LK_TCP LK_UDP API_PORT HEALTH_PORT RTMP_PORT WHIP_PORT LISTEN_PORT WHIP_UDP < <(free_ports 9)
start_livekit "$LIVEKIT_SERVER_BIN" "$WORK" "$LK_PORT" "$LK_TCP" "$LK_UDP"
PIDS+=($LIVEKIT_PID)

cat >"$WORK/tributary.yaml" <<EOF
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
logging:
  level: info
EOF
"$BIN/tributary" --config "$WORK/tributary.yaml" >"$WORK/tributary.log" 2>&1 &
TRIB_PID=$!
PIDS+=($TRIB_PID)

"$BIN/tributary-dev" -api "http://127.0.0.1:$API_PORT" -health "http://127.0.0.1:$HEALTH_PORT" \
  -room bench -input rtmp -transcode=false >"$WORK/dev.out"
URL=$(awk '/URL:/{print $2}' "$WORK/dev.out")
KEY=$(awk '/Stream key:/{print $3}' "$WORK/dev.out")

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

push() {
  ffmpeg -hide_banner -loglevel error -nostdin -re -i "$SRC" -c copy -f flv "$1"
}

# Tributary.
sleep 1
t0=$(ticks "$TRIB_PID")
push "$URL/$KEY"
sleep 1 # let the session drain and leave
t1=$(ticks "$TRIB_PID")
trib_cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" 'BEGIN{printf "%.3f", (b-a)/hz}')
trib_rss=$(awk '/VmHWM/{printf "%.1f", $2/1024}' "/proc/$TRIB_PID/status")
if ! grep -q '"ingressState"\|PUBLISHING\|publishing' "$WORK/tributary.log"; then
  echo "warning: no sign of a publishing session in the Tributary log:" >&2
  tail -20 "$WORK/tributary.log" >&2
fi

# ffmpeg listener.
/usr/bin/time -f "%U %S %M" -o "$WORK/listen.time" \
  ffmpeg -hide_banner -loglevel error -nostdin -listen 1 -i "rtmp://127.0.0.1:$LISTEN_PORT/live/x" -c copy -f null - 2>"$WORK/listen.err" &
LPID=$!
PIDS+=($LPID)
sleep 1
push "rtmp://127.0.0.1:$LISTEN_PORT/live/x"
wait "$LPID" || true
read -r lu ls lm <"$WORK/listen.time"
ff_cpu=$(awk -v u="$lu" -v s="$ls" 'BEGIN{printf "%.3f", u+s}')

echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input:   $SRC (${BENCH_SECONDS}s, pushed with ffmpeg -re -c copy)"
echo
printf "%-28s %12s %10s %10s\n" tool "cpu/media-s" "cpu s" "rss MiB"
printf "%-28s %12s %10s %10s\n" "tributary (passthrough)" \
  "$(awk -v c="$trib_cpu" -v s="$BENCH_SECONDS" 'BEGIN{printf "%.3f", c/s}')" "$trib_cpu" "$trib_rss"
printf "%-28s %12s %10s %10s\n" "ffmpeg -listen -c copy" \
  "$(awk -v c="$ff_cpu" -v s="$BENCH_SECONDS" 'BEGIN{printf "%.3f", c/s}')" "$ff_cpu" "$(awk -v m="$lm" 'BEGIN{printf "%.1f", m/1024}')"
echo "target: tributary <= 0.10 cpu/media-s (its rss is the whole server's peak)"
