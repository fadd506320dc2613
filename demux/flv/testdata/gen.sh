#!/bin/sh
# Regenerates the FLV fixtures of demux/flv from real encoders.
# Requires the ffmpeg CLI (5.1: libx264, libx265, libmp3lame, libvpx-vp9,
# libaom-av1) and gst-launch-1.0 (x264enc, voaacenc, flvmux).
#
# FFmpeg 5.1 cannot write Enhanced RTMP, so HEVC, VP9 and AV1 are written
# as elementary streams (Annex-B, IVF) and the tests wrap them in Enhanced
# RTMP tags themselves (enhanced_test.go).
set -eu
cd "$(dirname "$0")"
FF="ffmpeg -hide_banner -loglevel error -y -fflags +bitexact"
V="-f lavfi -i testsrc2=size=640x360:rate=30"
A="-f lavfi -i sine=frequency=440:sample_rate=44100"

# H.264 High with B-frames (x264 -bf 2) + AAC-LC 44.1 kHz.
$FF $V $A -t 1 -c:v libx264 -preset veryfast -profile:v high -bf 2 -g 15 -b:v 300k \
	-c:a aac -ar 44100 -b:a 64k -map_metadata -1 -flags +bitexact h264_high_bf2_aac.flv
# H.264 Baseline (no B-frames) + AAC-LC 48 kHz mono.
$FF $V $A -t 1 -c:v libx264 -preset veryfast -profile:v baseline -g 15 -b:v 300k \
	-c:a aac -ar 48000 -ac 1 -b:a 48k -map_metadata -1 -flags +bitexact h264_baseline_aac.flv
# H.264 Main + MP3 44.1 kHz stereo.
$FF $V $A -t 1 -s 320x180 -c:v libx264 -preset veryfast -profile:v main -bf 1 -g 15 -b:v 150k \
	-c:a libmp3lame -ar 44100 -ac 2 -b:a 64k -map_metadata -1 -flags +bitexact h264_main_mp3.flv
# GStreamer: x264enc (High, its default B-frames; constant quantizer and threads=1 for reproducible output) + voaacenc through flvmux.
gst-launch-1.0 -q videotestsrc num-buffers=30 ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 \
	! x264enc threads=1 pass=quant quantizer=36 key-int-max=15 ! flvmux name=m ! filesink location=gst_x264_voaac.flv \
	audiotestsrc num-buffers=25 ! audio/x-raw,rate=44100,channels=2 ! voaacenc ! m.

# Elementary streams for the Enhanced RTMP tests: 320x180, 15 frames at 30 fps.
SV="-f lavfi -i testsrc2=size=320x180:rate=30 -frames:v 15"
$FF $SV -c:v libx265 -preset veryfast -x265-params log-level=error:aud=1:bframes=0:keyint=15 -b:v 150k hevc.h265
$FF $SV -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 15 -b:v 150k vp9.ivf
$FF $SV -c:v libaom-av1 -cpu-used 8 -usage realtime -g 15 -b:v 150k av1.ivf
