#!/usr/bin/env bash
# Builds the static FFmpeg libraries the full release binary links
# (scripts/release.sh) and caches them outside the checkout. Prints the
# installation prefix on its last line; PKG_CONFIG_PATH=<prefix>/lib/pkgconfig
# then makes the ffi package link them.
#
# What is built:
#   - FFmpeg from Debian's source package, version FFMPEG_DEBIAN_VERSION below
#     (apt verifies the .dsc against the archive's signed index and
#     dpkg-source the tarballs against the .dsc; the .dsc's SHA-256 is also
#     pinned here), configured with scripts/ffmpeg-configure.txt;
#   - beside it, copies of Debian's libx264.a, libvpx.a and libopus.a with
#     pkg-config files pointing at them, so a link finds these archives and
#     never the shared libraries.
#
# The cache directory is named after a hash of everything that goes in (the
# pin, the configure options, the -dev package versions): a build is reused
# as long as they match, and a change starts a new one. Cold it costs about
# 4.5 CPU-minutes (configure and make -j on 2 cores): 10 minutes measured on
# a 2-core machine busy with other builds, less on an idle one.
#
#   build-ffmpeg.sh            # build (or reuse), print the prefix
#   build-ffmpeg.sh --print    # print the configure line and the cache key
set -euo pipefail
cd "$(dirname "$0")/.."

# The pin: Debian bookworm's FFmpeg (the version libavcodec-dev has here).
# When Debian publishes a new security release the archive drops this one:
# update both lines from `apt-cache showsrc ffmpeg` and the new .dsc.
FFMPEG_DEBIAN_VERSION="7:5.1.9-0+deb12u1"
FFMPEG_DSC_SHA256="055f82fca9a92f1d47216be2c2488d09373c7ca154806fbc36b0127c191d5104"

CACHE="${TRIBUTARY_CACHE:-$HOME/.cache/tributary}"
CONFIGURE_FILE=scripts/ffmpeg-configure.txt
STATIC_DEPS=(libx264-dev libvpx-dev libopus-dev)
MULTIARCH=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
SYSLIB=/usr/lib/$MULTIARCH

# The configure options, comments and blank lines removed.
mapfile -t OPTIONS < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$CONFIGURE_FILE")
CONFIGURE_LINE="./configure ${OPTIONS[*]}"

dep_versions() {
  for p in "${STATIC_DEPS[@]}"; do
    dpkg-query -W -f='${Package}=${Version}\n' "$p"
  done
}

upstream=${FFMPEG_DEBIAN_VERSION#*:}
upstream=${upstream%%-*}
key=$(printf '%s\n' "$FFMPEG_DEBIAN_VERSION" "$FFMPEG_DSC_SHA256" "$CONFIGURE_LINE" "$(dep_versions)" | sha256sum | cut -c1-12)
PREFIX="$CACHE/ffmpeg-$upstream-$key"

if [ "${1:-}" = "--print" ]; then
  echo "FFmpeg $FFMPEG_DEBIAN_VERSION (Debian source package)"
  echo "$CONFIGURE_LINE"
  echo "$PREFIX"
  exit 0
fi

# A finished build holds the configure line it was made with; anything else
# (an interrupted build) is started over.
if [ -f "$PREFIX/configure-line" ] && [ "$(cat "$PREFIX/configure-line")" = "$CONFIGURE_LINE" ]; then
  echo "$PREFIX"
  exit 0
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/ffmpeg.lock"
flock 9
# Someone else may have finished it while we waited.
if [ -f "$PREFIX/configure-line" ] && [ "$(cat "$PREFIX/configure-line")" = "$CONFIGURE_LINE" ]; then
  echo "$PREFIX"
  exit 0
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

# has_source tells whether apt knows the pinned source package (not grep -q
# on a pipe: with pipefail, apt-cache's SIGPIPE would fail the test).
has_source() {
  local v
  v=$(apt-cache showsrc ffmpeg 2>/dev/null || true)
  grep -qx "Version: $FFMPEG_DEBIAN_VERSION" <<<"$v"
}

# Debian's source packages need a deb-src entry; add one for the suites
# the binary packages come from.
if ! has_source; then
  src=/etc/apt/sources.list.d/tributary-deb-src.sources
  if [ ! -f "$src" ]; then
    echo "adding $src (Debian source packages)" >&2
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    $SUDO tee "$src" >/dev/null <<EOF
# Added by Tributary's scripts/build-ffmpeg.sh: FFmpeg is built from
# Debian's source package.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $codename-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  fi
  $SUDO apt-get update -q >&2
  if ! has_source; then
    echo "Debian's archive no longer has ffmpeg $FFMPEG_DEBIAN_VERSION; it has:" >&2
    apt-cache showsrc ffmpeg | grep '^Version:' >&2 || true
    echo "update FFMPEG_DEBIAN_VERSION and FFMPEG_DSC_SHA256 in $0" >&2
    exit 1
  fi
fi

echo "building FFmpeg $FFMPEG_DEBIAN_VERSION (static, minimal; first time only) into $PREFIX" >&2
start=$(date +%s)
work=$(mktemp -d)
stage="$PREFIX.tmp.$$"
trap 'rm -rf "$work" "$stage"' EXIT
(
  cd "$work"
  # apt-get verifies the .dsc against the signed Sources index.
  apt-get source -q --download-only "ffmpeg=$FFMPEG_DEBIAN_VERSION" >&2
  dsc=$(ls ./*.dsc)
  echo "$FFMPEG_DSC_SHA256  $dsc" | sha256sum -c --quiet - >&2 ||
    { echo "$dsc does not match the pinned SHA-256" >&2; exit 1; }
  # dpkg-source checks every file against the .dsc's checksums and applies
  # Debian's patches. Its "cannot verify inline signature" warning only
  # means debian-keyring is not installed: the .dsc is trusted through
  # apt's signed index and the pin above.
  dpkg-source -x "$dsc" src >&2
)

# The static archives of the external libraries, with .pc files that point
# at these copies: configure and the Go link then both use them.
mkdir -p "$stage/lib/pkgconfig"
for lib in x264 vpx opus; do
  cp "$SYSLIB/lib$lib.a" "$stage/lib/"
  sed "s|^libdir=.*|libdir=$PREFIX/lib|" "$SYSLIB/pkgconfig/$lib.pc" >"$stage/lib/pkgconfig/$lib.pc"
done
# configure runs against the staged copies; the final .pc files name $PREFIX.
sed -i "s|^libdir=.*|libdir=$stage/lib|" "$stage/lib/pkgconfig/"{x264,vpx,opus}.pc

(
  cd "$work/src"
  PKG_CONFIG_PATH="$stage/lib/pkgconfig" ./configure --prefix="$stage" "${OPTIONS[@]}" >"$work/configure.log" 2>&1 ||
    { tail -n 40 "$work/configure.log" >&2; tail -n 40 ffbuild/config.log >&2; exit 1; }
  make -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -n 60 "$work/make.log" >&2; exit 1; }
  make install >>"$work/make.log" 2>&1 || { tail -n 30 "$work/make.log" >&2; exit 1; }
)

# The installed .pc files name the staging directory: point them at the
# final place.
sed -i "s|$stage|$PREFIX|g" "$stage/lib/pkgconfig/"*.pc
{
  echo "source: Debian ffmpeg $FFMPEG_DEBIAN_VERSION (.dsc sha256 $FFMPEG_DSC_SHA256)"
  echo "static archives: $(dep_versions | tr '\n' ' ')"
  echo "built: $(date -u +%FT%TZ) in $(($(date +%s) - start)) s on $(nproc) cores"
} >"$stage/BUILDINFO"
echo "$CONFIGURE_LINE" >"$stage/configure-line"
rm -rf "$PREFIX"
mv "$stage" "$PREFIX"
echo "FFmpeg built in $(($(date +%s) - start)) s" >&2
echo "$PREFIX"
