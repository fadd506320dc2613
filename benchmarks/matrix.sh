#!/usr/bin/env bash
# The full media matrix: every combination of
#   input {RTMP, SRT push, URL (an MPEG-TS file over HTTP)} ×
#   media {audio+video, video only} ×
#   source frame rate {24, 25, 30, 50, 60, variable (~40)} ×
#   encoding {default preset (30 fps cap), H264_540P_25FPS_2_LAYERS,
#             custom options at 15 fps}
# plus audio-only over each input: 111 live cases of 16 s, each with three
# viewers in the room at once (one on HIGH, one on LOW, one switching every
# 4 s). Per viewer and whole second: frame rate (±10 %, ±20 % variable),
# resolution of every picture, latency growth; with audio, A/V sync as a
# receiver measures it (flash + beep every 2 s). CI runs a subset that
# covers each axis (e2e/matrix_test.go, matrixCI).
#
#   benchmarks/matrix.sh                    # ~35 min; table to stdout
#   OUT=table.md benchmarks/matrix.sh       # and into a file
#   MATRIX=ci benchmarks/matrix.sh          # only CI's subset (a check)
#
# Uses the same set-up as the test command (livekit-server from the cache,
# ffmpeg); builds Tributary with the race detector like the e2e tests.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_init livekit e2e
export TRIBUTARY_MATRIX="${MATRIX:-full}"
out="${OUT:-$(mktemp)}"
export TRIBUTARY_MATRIX_OUT="$out"
status=0
go test -race -count=1 -timeout 60m -run 'TestMediaMatrix$' ./e2e/ >"${out%.md}.log" 2>&1 || status=$?
cat "$out"
echo "(log: ${out%.md}.log; exit $status)"
exit $status
