#!/usr/bin/env bash
# Installs the Debian packages Tributary's build and tests need. Idempotent:
# packages already present are skipped without touching apt.
#
#   install-system-deps.sh            # everything the tests need
#   install-system-deps.sh --run      # only what scripts/run.sh needs
#   install-system-deps.sh --release  # only what scripts/release.sh needs
set -euo pipefail

RUN_PKGS=(
  pkg-config gcc libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
  libx264-dev libopus-dev libvpx-dev ffmpeg ca-certificates curl
)
# The release build compiles a minimal static FFmpeg from Debian's source
# package (scripts/build-ffmpeg.sh) and links Debian's static libx264,
# libvpx and libopus (in their -dev packages).
RELEASE_PKGS=(
  pkg-config gcc make nasm dpkg-dev xz-utils binutils
  libx264-dev libopus-dev libvpx-dev
)
PKGS=(
  # build: cgo binding to the FFmpeg libraries (ffi/)
  pkg-config gcc libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
  libx264-dev libopus-dev libvpx-dev
  # the release build and its test (scripts/release.sh, e2e/release_test.go)
  make nasm dpkg-dev xz-utils binutils util-linux
  # lk CLI build (portaudio_system tag)
  portaudio19-dev
  # real clients and servers used by the tests
  ffmpeg gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  redis-server srt-tools chromium chromium-driver
  # misc
  ca-certificates curl jq psmisc time
)

[ "${1:-}" = "--run" ] && PKGS=("${RUN_PKGS[@]}")
[ "${1:-}" = "--release" ] && PKGS=("${RELEASE_PKGS[@]}")

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
