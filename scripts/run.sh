#!/usr/bin/env bash
# The run command: a local LiveKit dev server, Tributary next to it in
# standalone mode, and an ingress ready to publish to. Ctrl-C stops all.
#
# Environment:
#   LIVEKIT_SERVER_BIN  use this livekit-server instead of building the pinned one
#   INPUT               rtmp (default) or whip
#   ROOM                room name (default demo)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$HOME/go/bin"
export TRIBUTARY_CACHE="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}"
STATE="$TRIBUTARY_CACHE/run"
mkdir -p "$STATE" bin

bash scripts/install-system-deps.sh --run
if [ -z "${LIVEKIT_SERVER_BIN:-}" ] && command -v livekit-server >/dev/null; then
  export LIVEKIT_SERVER_BIN=$(command -v livekit-server)
fi
LIVEKIT_SERVER_BIN=$(bash scripts/install-livekit-server.sh | tail -n 1)
go build -o bin/tributary ./cmd/tributary
go build -o bin/tributary-dev ./cmd/tributary-dev

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if port_busy 7880; then
  echo "A LiveKit server already answers on 127.0.0.1:7880; using it (keys devkey/secret expected)."
else
  "$LIVEKIT_SERVER_BIN" --dev --bind 127.0.0.1 >"$STATE/livekit-server.log" 2>&1 &
  pids+=($!)
  echo "livekit-server --dev started (log: $STATE/livekit-server.log)"
fi

cat >"$STATE/config.yaml" <<YAML
api_key: devkey
api_secret: secret
development: true
ws_url: ws://127.0.0.1:7880
api_port: 7890
health_port: 7891
store_path: $STATE/ingress.db
rtmp_base_url: rtmp://127.0.0.1:1935/live
whip_base_url: http://127.0.0.1:8080/w
YAML
bin/tributary --config "$STATE/config.yaml" >"$STATE/tributary.log" 2>&1 &
trib=$!
pids+=($trib)
echo "tributary started (config: $STATE/config.yaml, log: $STATE/tributary.log)"

bin/tributary-dev -api http://127.0.0.1:7890 -health http://127.0.0.1:7891 \
  -room "${ROOM:-demo}" -input "${INPUT:-rtmp}"

echo
echo "LiveKit: ws://127.0.0.1:7880 (devkey / secret). Following Tributary's log; Ctrl-C stops everything."
tail -n +1 -f "$STATE/tributary.log" &
pids+=($!)
wait "$trib"
