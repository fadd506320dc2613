# Shared helpers of the benchmark scripts (sourced, not run).

BENCH_CACHE="${BENCH_CACHE:-$HOME/.cache/tributary/bench}"
BENCH_SECONDS="${BENCH_SECONDS:-30}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# bench_init [livekit] [tributary] [e2e]: the set-up every benchmark
# script shares, then the working directory is the checkout ($ROOT). Always:
# PATH and TRIBUTARY_CACHE as scripts/test.sh sets them, the system
# dependencies (scripts/install-system-deps.sh), and $BIN
# ($BENCH_CACHE/bin) for what the script builds. With livekit: a
# livekit-server binary in LIVEKIT_SERVER_BIN, exported (the one named by
# $LIVEKIT_SERVER_BIN, else the pinned one scripts/install-livekit-server.sh
# builds once). With tributary: the tributary and tributary-dev binaries
# of this tree in $BIN. With e2e: TRIBUTARY_E2E_REQUIRED=1, so that the e2e
# test a script runs fails rather than skips when a tool is missing.
bench_init() {
  export PATH="$PATH:/usr/local/go/bin:$HOME/go/bin"
  export TRIBUTARY_CACHE="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}"
  cd "$ROOT"
  bash scripts/install-system-deps.sh >/dev/null
  BIN="$BENCH_CACHE/bin"
  mkdir -p "$BIN"
  local what
  for what in "$@"; do
    case $what in
    livekit)
      LIVEKIT_SERVER_BIN=$(bash scripts/install-livekit-server.sh | tail -n 1)
      export LIVEKIT_SERVER_BIN
      ;;
    tributary) go build -o "$BIN/tributary" ./cmd/tributary && go build -o "$BIN/tributary-dev" ./cmd/tributary-dev ;;
    e2e) export TRIBUTARY_E2E_REQUIRED=1 ;;
    *)
      echo "bench_init: unknown $what" >&2
      return 1
      ;;
    esac
  done
}

# bench_workdir: a scratch directory WORK and a list PIDS of the processes
# a script starts; on exit the processes are killed and waited for, the
# function bench_on_exit runs if the script defines one (to keep a log),
# and WORK is removed.
bench_workdir() {
  WORK=$(mktemp -d)
  PIDS=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if declare -F bench_on_exit >/dev/null; then bench_on_exit || true; fi
  rm -rf "$WORK"
}

# gen_source OUT WIDTH HEIGHT BITRATE PROFILE BFRAMES: a BENCH_SECONDS long
# 30 fps H.264 + AAC 48 kHz stereo FLV with motion and noise (so encoders
# have real work), made once and cached.
gen_source() {
  local out=$1 w=$2 h=$3 br=$4 profile=$5 bf=$6
  if [ -s "$out" ]; then return 0; fi
  mkdir -p "$(dirname "$out")"
  echo "generating $out (${w}x${h} $profile bf=$bf $br, ${BENCH_SECONDS}s)" >&2
  ffmpeg -hide_banner -loglevel error -nostdin -y \
    -f lavfi -i "testsrc2=size=${w}x${h}:rate=30,noise=alls=12:allf=t+u" \
    -f lavfi -i "aevalsrc=0.3*sin(440*2*PI*t)+0.05*(random(0)-0.5)|0.3*sin(660*2*PI*t)+0.05*(random(1)-0.5):s=48000" \
    -t "$BENCH_SECONDS" \
    -c:v libx264 -preset veryfast -profile:v "$profile" -bf "$bf" -g 60 -keyint_min 60 -sc_threshold 0 \
    -b:v "$br" -maxrate "$br" -bufsize "$br" -pix_fmt yuv420p \
    -c:a aac -b:a 128k -ar 48000 -ac 2 \
    -f flv "$out.tmp" && mv "$out.tmp" "$out"
}

# free_ports N: N loopback ports that were free a moment ago, space-separated.
free_ports() {
  python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

# start_livekit BIN DIR PORT TCP UDP: a livekit-server --dev on loopback
# (ICE on 127.0.0.1 only, keys devkey/secret), config and log in DIR; its
# PID is in LIVEKIT_PID once it answers.
start_livekit() {
  local bin=$1 dir=$2 port=$3 tcp=$4 udp=$5
  cat >"$dir/livekit.yaml" <<YAML
port: $port
bind_addresses: [127.0.0.1]
rtc:
  tcp_port: $tcp
  udp_port: $udp
  node_ip: 127.0.0.1
  use_external_ip: false
  enable_loopback_candidate: true
  ips:
    includes: [127.0.0.1/32]
keys:
  devkey: secret
logging:
  level: warn
YAML
  "$bin" --dev --config "$dir/livekit.yaml" >"$dir/livekit.log" 2>&1 &
  LIVEKIT_PID=$!
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  kill "$LIVEKIT_PID" 2>/dev/null || true
  echo "livekit-server did not answer on port $port: see $dir/livekit.log" >&2
  return 1
}

# viewer_rmem: the viewers of load.sh and density.sh are the measuring
# instrument: each is a pion peer connection in the test process reading
# Mbps on its own UDP socket, and with the kernel's default 208 KiB receive
# buffer they drop datagrams whenever a keyframe burst meets a busy
# scheduler (every drop measured on 2026-12-06 was at a viewer's socket;
# none at Tributary's or livekit-server's). As root, sockets get 4 MiB by
# default for the run (restored on exit), as LiveKit recommends for a
# media server's host; KEEP_RMEM=1 leaves the kernel's settings alone.
viewer_rmem() {
  if [ "$(id -u)" = 0 ] && [ "${KEEP_RMEM:-}" = "" ]; then
    rmem_default=$(sysctl -n net.core.rmem_default)
    rmem_max=$(sysctl -n net.core.rmem_max)
    trap 'sysctl -qw net.core.rmem_default="$rmem_default" net.core.rmem_max="$rmem_max"' EXIT
    sysctl -qw net.core.rmem_max=$((rmem_max > 4194304 ? rmem_max : 4194304)) net.core.rmem_default=4194304
  fi
}
