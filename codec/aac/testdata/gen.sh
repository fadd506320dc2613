#!/bin/sh
# Regenerates the LATM fixtures with the ffmpeg CLI (5.1): the same 0.2 s
# AAC-LC encode (48 kHz stereo) as LOAS and as ADTS, so the frames the
# LATM reader takes out can be compared with ADTS's.
set -eu
cd "$(dirname "$0")"
FF="ffmpeg -hide_banner -loglevel error -y -fflags +bitexact"
A="-f lavfi -i sine=frequency=440:sample_rate=48000 -t 0.2 -ac 2 -c:a aac -b:a 64k -flags +bitexact"
$FF $A -f latm tone.loas
$FF $A -f adts tone.adts
