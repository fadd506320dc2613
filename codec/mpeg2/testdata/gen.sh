#!/bin/sh
# Regenerates the MPEG video elementary streams with the ffmpeg CLI (5.1):
# MPEG-2 at 720x576 25 fps with B-frames, and MPEG-1 at 352x288 30000/1001.
set -eu
cd "$(dirname "$0")"
FF="ffmpeg -hide_banner -loglevel error -y -fflags +bitexact"
$FF -f lavfi -i testsrc2=size=720x576:rate=25 -t 0.4 -c:v mpeg2video -g 6 -bf 2 -q:v 31 -flags +bitexact -f mpeg2video pal.m2v
$FF -f lavfi -i testsrc2=size=352x288:rate=30000/1001 -t 0.3 -c:v mpeg1video -g 6 -q:v 31 -flags +bitexact -f mpeg1video cif.m1v
