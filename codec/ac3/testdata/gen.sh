#!/bin/sh
# Regenerates the AC-3 and E-AC-3 elementary streams with the ffmpeg CLI
# (5.1): stereo AC-3 at 48 kHz, 5.1 AC-3 at 44.1 kHz, stereo and 5.1
# E-AC-3 at 48 kHz.
set -eu
cd "$(dirname "$0")"
FF="ffmpeg -hide_banner -loglevel error -y -fflags +bitexact"
A="-f lavfi -i sine=frequency=440:sample_rate=48000"
$FF $A -t 0.2 -c:a ac3 -ac 2 -b:a 96k -flags +bitexact -f ac3 stereo.ac3
$FF -f lavfi -i sine=frequency=440:sample_rate=44100 -t 0.2 -c:a ac3 -ac 6 -b:a 384k -flags +bitexact -f ac3 surround_44k.ac3
$FF $A -t 0.2 -c:a eac3 -ac 2 -b:a 96k -flags +bitexact -f eac3 stereo.eac3
$FF $A -t 0.2 -c:a eac3 -ac 6 -b:a 256k -flags +bitexact -f eac3 surround.eac3
