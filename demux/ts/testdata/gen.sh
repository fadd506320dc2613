#!/bin/sh
# Regenerates the MPEG-TS fixtures of demux/ts from real encoders.
# Requires the ffmpeg CLI 5.1 (libx264, libx265, libmp3lame, libopus, ac3)
# and gst-launch-1.0 (x264enc, voaacenc, mpegtsmux).
#
# SCTE-35: ffmpeg cannot create SCTE-35, so scte35_test.go builds the
# splice_info_sections itself and muxes them into h264_bf2_aac.ts.
set -eu
cd "$(dirname "$0")"
FF="ffmpeg -hide_banner -loglevel error -y -fflags +bitexact"
V="-f lavfi -i testsrc2=size=320x180:rate=30"
A="-f lavfi -i sine=frequency=440:sample_rate=44100"

# H.264 High with B-frames + AAC-LC 44.1 kHz mono.
$FF $V $A -t 1 -c:v libx264 -preset veryfast -profile:v high -bf 2 -g 15 -b:v 200k \
	-c:a aac -ar 44100 -ac 1 -b:a 48k -map_metadata -1 -flags +bitexact h264_bf2_aac.ts
# HEVC + MP3 48 kHz stereo.
$FF $V $A -t 1 -c:v libx265 -preset veryfast -x265-params log-level=error:bframes=0:keyint=15 -b:v 150k \
	-c:a libmp3lame -ar 48000 -ac 2 -b:a 64k -map_metadata -1 -flags +bitexact hevc_mp3.ts
# H.264 Baseline + Opus 48 kHz stereo.
$FF $V $A -t 1 -c:v libx264 -preset veryfast -profile:v baseline -g 15 -b:v 150k \
	-c:a libopus -ar 48000 -ac 2 -b:a 48k -map_metadata -1 -flags +bitexact h264_opus.ts
# 33-bit wrap: timestamps start 1 s before 2^33 ticks (95443.717 s).
$FF $V $A -t 2 -c:v libx264 -preset veryfast -profile:v main -bf 1 -g 30 -b:v 100k \
	-c:a aac -ar 48000 -ac 1 -b:a 32k -output_ts_offset 95441.5 -map_metadata -1 -flags +bitexact wrap.ts
# AC-3 audio (stream type 0x81).
$FF $V $A -t 0.3 -c:v libx264 -preset veryfast -b:v 100k -c:a ac3 -b:a 96k -map_metadata -1 -flags +bitexact ac3.ts
# Broadcast: MPEG-2 video with B-frames + MP2 48 kHz stereo.
$FF $V $A -t 0.5 -c:v mpeg2video -bf 2 -g 12 -q:v 20 -c:a mp2 -ar 48000 -ac 2 -b:a 128k \
	-map_metadata -1 -flags +bitexact mpeg2_mp2.ts
# DVB: E-AC-3 5.1 as a private stream with its descriptor (system B).
$FF $V $A -t 0.3 -c:v libx264 -preset veryfast -b:v 100k -c:a eac3 -ar 48000 -ac 6 -b:a 192k \
	-mpegts_flags system_b -map_metadata -1 -flags +bitexact eac3_dvb.ts
# AAC in LATM with LOAS framing (stream type 0x11).
$FF $V $A -t 0.3 -c:v libx264 -preset veryfast -b:v 100k -c:a aac -ar 48000 -ac 2 -b:a 64k \
	-mpegts_flags latm -map_metadata -1 -flags +bitexact latm.ts
# MPEG-4 Part 2 video, which the demuxer refuses by name.
$FF $V -t 0.2 -c:v mpeg4 -q:v 20 -map_metadata -1 -flags +bitexact mpeg4video.ts
# GStreamer: x264enc (B-frames) + voaacenc through mpegtsmux.
gst-launch-1.0 -q videotestsrc num-buffers=30 ! video/x-raw,format=I420,width=240,height=160,framerate=30/1 \
	! x264enc threads=1 pass=quant quantizer=42 key-int-max=15 ! h264parse ! mpegtsmux name=m ! filesink location=gst_x264_voaac.ts \
	audiotestsrc num-buffers=25 ! audio/x-raw,rate=44100,channels=2 ! voaacenc ! aacparse ! m.
# MPEG-2 Layer III (LSF: 576 samples a frame, 72·bitrate/rate bytes) at
# each of its three rates, audio only.
for rate in 16000 22050 24000; do
	$FF -f lavfi -i sine=frequency=440:sample_rate=$rate -t 0.5 -c:a libmp3lame -ar $rate -ac 1 -b:a 32k \
		-map_metadata -1 -flags +bitexact mp3_lsf_$rate.ts
done
