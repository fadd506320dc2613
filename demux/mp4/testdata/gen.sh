#!/bin/sh
# Regenerates the MP4/MOV/M4A fixtures of demux/mp4 from real encoders, and
# the ffprobe packet lists (*.packets.csv) the tests compare against.
# Requires the ffmpeg/ffprobe CLIs (5.1: libx264, libx265, libaom-av1,
# libvpx-vp9, libopus, libmp3lame) and gst-launch-1.0 (x264enc, voaacenc,
# mp4mux).
set -eu
cd "$(dirname "$0")"
FF="ffmpeg -hide_banner -loglevel error -y -fflags +bitexact"
V="-f lavfi -i testsrc2=size=320x180:rate=30"
A="-f lavfi -i sine=frequency=440:sample_rate=44100"
X264="-c:v libx264 -preset veryfast -profile:v high -bf 2 -g 15 -b:v 150k"
AAC="-c:a aac -ar 44100 -ac 1 -b:a 48k"
BE="-map_metadata -1 -flags +bitexact"

# H.264 High with B-frames + AAC, moov at the front and at the end.
$FF $V $A -t 1 $X264 $AAC $BE -movflags +faststart h264_aac_faststart.mp4
$FF $V $A -t 2 $X264 $AAC $BE h264_aac_moov_end.mp4
# QuickTime: H.264 + AAC (a version-1 sound description with a 'wave' atom).
$FF $V $A -t 1 $X264 $AAC $BE h264_aac.mov
# M4A: AAC only, 48 kHz stereo.
$FF $A -t 1 -c:a aac -ar 48000 -ac 2 -b:a 64k $BE aac_48k.m4a
# Fragmented MP4 as ffmpeg writes it for live: empty moov, a fragment per
# keyframe, absolute base data offsets.
$FF $V $A -t 2 $X264 $AAC $BE -movflags frag_keyframe+empty_moov h264_aac_frag.mp4
# Fragmented MP4 as in HLS/CMAF: default-base-is-moof.
$FF $V $A -t 1 $X264 -c:a libopus -ar 48000 -ac 2 -b:a 32k $BE \
	-movflags frag_keyframe+empty_moov+default_base_moof h264_opus_cmaf.mp4
# HEVC (x265) + Opus, AV1 + MP3, VP9 + Opus.
$FF $V $A -t 1 -c:v libx265 -preset veryfast -x265-params log-level=error:keyint=15:bframes=2 -b:v 100k \
	-tag:v hvc1 -c:a libopus -ar 48000 -ac 1 -b:a 24k $BE hevc_opus.mp4
$FF $V $A -t 1 -c:v libaom-av1 -cpu-used 8 -usage realtime -g 15 -b:v 100k \
	-c:a libmp3lame -ar 44100 -ac 2 -b:a 64k $BE av1_mp3.mp4
$FF $V $A -t 1 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -g 15 -b:v 100k \
	-c:a libopus -ar 48000 -ac 2 -b:a 24k $BE vp9_opus.mp4
# AC-3 in MP4; PCM in MOV: 16-bit little-endian ('sowt'), 24-bit
# big-endian ('in24'), 32-bit float little-endian ('fl32' with 'enda'),
# µ-law ('ulaw'), and next to H.264.
$FF $A -t 0.2 -c:a ac3 -b:a 96k $BE ac3.mp4
$FF $A -t 0.1 -c:a pcm_s16le $BE pcm.mov
$FF $A -t 0.1 -c:a pcm_s24be $BE pcm_s24be.mov
$FF $A -t 0.1 -c:a pcm_f32le $BE pcm_f32le.mov
$FF $A -t 0.1 -ar 8000 -c:a pcm_mulaw $BE mulaw.mov
$FF -f lavfi -i testsrc2=size=320x180:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 -t 0.2 \
	-c:v libx264 -preset veryfast -g 15 -b:v 100k -c:a pcm_s16le -ac 2 $BE h264_pcm.mov
# Refused: ALAC.
$FF $A -t 0.1 -c:a alac $BE alac.m4a
# GStreamer: x264enc + voaacenc through mp4mux (constant quantizer and
# threads=1 for reproducible output).
gst-launch-1.0 -q videotestsrc num-buffers=30 ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 \
	! x264enc threads=1 pass=quant quantizer=36 key-int-max=15 ! h264parse ! mp4mux name=m ! filesink location=gst_x264_voaac.mp4 \
	audiotestsrc num-buffers=25 ! audio/x-raw,rate=44100,channels=2 ! voaacenc ! aacparse ! m.

# ffprobe's view of every packet: stream,time_base,pts,dts,size,flags.
for f in *.mp4 *.mov *.m4a; do
	case $f in ac3.mp4|alac.m4a|pcm*.mov|mulaw.mov|h264_pcm.mov) continue ;; esac
	ffprobe -v error -show_entries stream=index,time_base -of csv=p=0 "$f" | sed 's/^/stream,/' > "$f.packets.csv"
	ffprobe -v error -show_entries packet=stream_index,pts,dts,size,flags -of csv=p=0 "$f" >> "$f.packets.csv"
done
