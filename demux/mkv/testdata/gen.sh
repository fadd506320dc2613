#!/bin/sh
# Regenerates the Matroska/WebM fixtures of demux/mkv from real encoders.
# Requires the ffmpeg CLI 5.1 (libvpx, libvpx-vp9, libaom-av1, libx264,
# libx265, libopus, libvorbis, aac, libmp3lame) and gst-launch-1.0
# (vp8enc, opusenc, webmmux).
#
# Neither muxer laces frames; lacing (Xiph, EBML, fixed) is tested with
# blocks the tests build from the Opus packets of vp8_opus.webm.
set -eu
cd "$(dirname "$0")"
FF="ffmpeg -hide_banner -loglevel error -y -fflags +bitexact"
V="-f lavfi -i testsrc2=size=320x180:rate=30"
A="-f lavfi -i sine=frequency=440:sample_rate=48000"
X="-map_metadata -1 -flags +bitexact"

# WebM VP8 + Opus.
$FF $V $A -t 1 -c:v libvpx -deadline realtime -cpu-used 8 -g 15 -b:v 150k -c:a libopus -b:a 32k $X vp8_opus.webm
# WebM VP9 + Vorbis.
$FF $V $A -t 1 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 15 -b:v 150k -c:a libvorbis -ac 1 -q:a 0 $X vp9_vorbis.webm
# Matroska H.264 High with B-frames + AAC.
$FF $V $A -t 1 -c:v libx264 -preset veryfast -profile:v high -bf 2 -g 15 -b:v 150k -c:a aac -ac 1 -b:a 32k $X h264_bf2_aac.mkv
# Matroska HEVC + MP3.
$FF $V $A -t 0.5 -c:v libx265 -preset veryfast -x265-params log-level=error:bframes=0:keyint=15 -b:v 100k \
	-c:a libmp3lame -b:a 32k $X hevc_mp3.mkv
# Matroska AV1 + Opus (ffmpeg 5.1 cannot write AV1 in Matroska to a
# pipe; live WebM with unknown sizes comes from GStreamer below). Without
# the bitexact flags, which make libaom fail in 5.1.
ffmpeg -hide_banner -loglevel error -y $V $A -t 0.5 -c:v libaom-av1 -cpu-used 8 -usage realtime -g 15 -b:v 100k \
	-c:a libopus -b:a 32k -map_metadata -1 av1_opus.mkv
# Matroska H.264 with the audio of broadcast and production files: 24-bit
# PCM, AC-3 5.1, MP2.
H264="-c:v libx264 -preset veryfast -g 15 -b:v 100k"
$FF $V $A -t 0.2 $H264 -c:a pcm_s24le -ac 2 $X h264_pcm.mkv
$FF $V $A -t 0.5 $H264 -c:a ac3 -ac 6 -b:a 192k $X h264_ac3.mkv
$FF $V $A -t 0.5 $H264 -c:a mp2 -ac 2 -b:a 128k $X h264_mp2.mkv
# GStreamer: vp8enc + opusenc through webmmux (streamable: unknown sizes).
gst-launch-1.0 -q videotestsrc num-buffers=30 ! video/x-raw,width=320,height=180,framerate=30/1 \
	! vp8enc deadline=1 target-bitrate=150000 keyframe-max-dist=15 ! webmmux name=m streamable=true ! filesink location=gst_vp8_opus.webm \
	audiotestsrc num-buffers=50 samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=2 ! opusenc ! m.
