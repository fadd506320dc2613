#!/usr/bin/env bash
# Builds Tributary's two release files, each one file to copy to a server:
#
#   dist/tributary-linux-amd64              transcoding included: FFmpeg's
#       libraries (a minimal static build, scripts/build-ffmpeg.sh), libx264,
#       libvpx and libopus linked in; it loads nothing but glibc.
#   dist/tributary-linux-amd64-passthrough  CGO_ENABLED=0, fully static, no
#       FFmpeg: WHIP and WebRTC-ready sources only (README "Deploy").
#
# and beside them SHA256SUMS and BUILD.txt (both files' --version, ldd, the
# FFmpeg configure line). Both are built with -trimpath, stripped
# (-ldflags "-s -w"), and with Go's own DNS resolver and user lookup
# (-tags netgo,osusergo), so that nothing is loaded behind ldd's back
# (glibc's NSS modules).
#
#   scripts/release.sh                   # into dist/
#   DIST=/tmp/out scripts/release.sh     # elsewhere
#   VERSION=v1.0.0 scripts/release.sh    # default: git describe
#
# The first run builds FFmpeg (minutes; cached in ~/.cache/tributary, see
# build-ffmpeg.sh); later runs take the time of two Go builds.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$HOME/go/bin"

DIST="${DIST:-dist}"
GOARCH=$(go env GOARCH)
FULL="$DIST/tributary-linux-$GOARCH"
PASS="$DIST/tributary-linux-$GOARCH-passthrough"
VERSION="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo devel)}"
if [ -z "${COMMIT:-}" ]; then
  COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
  [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && COMMIT="$COMMIT-dirty"
fi
LDFLAGS="-s -w -X main.version=$VERSION -X main.commit=$COMMIT"
TAGS=netgo,osusergo

step() { printf '\n=== %s (%s)\n' "$*" "$(date +%T)" >&2; }

step "system packages"
bash scripts/install-system-deps.sh --release >&2

step "FFmpeg (static, minimal)"
FFMPEG_PREFIX=$(bash scripts/build-ffmpeg.sh | tail -n 1)
echo "$FFMPEG_PREFIX" >&2

mkdir -p "$DIST"

step "$FULL"
# PKG_CONFIG_PATH selects the static FFmpeg for ffi's `#cgo pkg-config`
# lines. Go's build cache does not key packages on what pkg-config
# answers, so CGO_CFLAGS and CGO_LDFLAGS (which it does key on) name the
# same prefix: a package compiled against the system's shared libraries is
# never reused here, nor this one in an ordinary build.
PKG_CONFIG_PATH="$FFMPEG_PREFIX/lib/pkgconfig" CGO_ENABLED=1 \
  CGO_CFLAGS="-O2 -g -I$FFMPEG_PREFIX/include" CGO_LDFLAGS="-O2 -g -L$FFMPEG_PREFIX/lib" \
  go build -trimpath -tags "$TAGS" -ldflags "$LDFLAGS" -o "$FULL.tmp" ./cmd/tributary
# Only glibc may be left to load: libc, libm, libpthread, libdl, librt,
# the dynamic loader (and the kernel's vDSO).
allowed='^(linux-vdso\.so\.1|libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|/lib64/ld-linux-x86-64\.so\.2|/lib/ld-linux-aarch64\.so\.1)$'
extra=$(ldd "$FULL.tmp" | awk '{print $1}' | grep -Ev "$allowed" || true)
if [ -n "$extra" ]; then
  echo "$FULL loads more than glibc:" >&2
  ldd "$FULL.tmp" >&2
  exit 1
fi
report=$("$FULL.tmp" --version)
if ! grep -qx 'transcoding: yes, FFmpeg linked statically' <<<"$report"; then
  echo "$FULL does not report a static FFmpeg:" >&2
  "$FULL.tmp" --version >&2
  exit 1
fi
mv "$FULL.tmp" "$FULL"

step "$PASS"
CGO_ENABLED=0 go build -trimpath -tags "$TAGS" -ldflags "$LDFLAGS" -o "$PASS.tmp" ./cmd/tributary
# Static: no program interpreter, no shared library.
elf=$(readelf -l -d "$PASS.tmp" 2>&1 || true)
if grep -qE 'INTERP|NEEDED' <<<"$elf"; then
  echo "$PASS is not static" >&2
  exit 1
fi
mv "$PASS.tmp" "$PASS"

(cd "$DIST" && sha256sum "$(basename "$FULL")" "$(basename "$PASS")" >SHA256SUMS)

glibc=$(objdump -T "$FULL" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -uV | tail -n 1)
{
  echo "Tributary $VERSION ($COMMIT), built $(date -u +%FT%TZ) with $(go version | cut -d' ' -f3)"
  echo
  echo "== $(basename "$FULL") ($(stat -c %s "$FULL") bytes; needs glibc ${glibc#GLIBC_} or newer)"
  "$FULL" --version
  echo
  echo "ldd:"
  ldd "$FULL" | sed 's/ (0x[0-9a-f]*)//'
  echo
  echo "FFmpeg: $(sed -n 1p "$FFMPEG_PREFIX/BUILDINFO")"
  echo "        $(sed -n 2p "$FFMPEG_PREFIX/BUILDINFO")"
  echo "configure: $(cat "$FFMPEG_PREFIX/configure-line")"
  echo
  echo "== $(basename "$PASS") ($(stat -c %s "$PASS") bytes; static)"
  "$PASS" --version
} >"$DIST/BUILD.txt"

step "done"
cat "$DIST/BUILD.txt" >&2
echo >&2
ls -l "$FULL" "$PASS" >&2
cat "$DIST/SHA256SUMS" >&2
