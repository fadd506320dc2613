# Shared helpers of the benchmark scripts (sourced, not run).

BENCH_CACHE="${BENCH_CACHE:-$HOME/.cache/tributary/bench}"
BENCH_SECONDS="${BENCH_SECONDS:-30}"

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
