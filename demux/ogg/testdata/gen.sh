#!/bin/sh
# Regenerates the Ogg fixtures of demux/ogg from real encoders, and the
# ffprobe packet lists (*.packets.csv) the tests compare against.
# Requires the ffmpeg/ffprobe CLIs (5.1, libopus, libvorbis) and
# gst-launch-1.0 (opusenc, oggmux).
set -eu
cd "$(dirname "$0")"
FF="ffmpeg -hide_banner -loglevel error -y -fflags +bitexact -flags +bitexact"
A="-f lavfi -i sine=frequency=440:sample_rate=48000"

# Opus, 48 kHz stereo, 20 ms frames.
$FF $A -t 1 -c:a libopus -ac 2 -b:a 32k -metadata title=x opus_stereo.ogg
# Opus mono with 60 ms frames (several frames per packet: TOC code 3 or
# longer SILK/CELT frames).
$FF $A -t 1 -c:a libopus -ac 1 -b:a 16k -frame_duration 60 opus_mono_60ms.ogg
# Vorbis, 44.1 kHz stereo.
$FF $A -t 1 -c:a libvorbis -ar 44100 -ac 2 -q:a 2 vorbis_44k.ogg
# FLAC in Ogg, refused.
$FF $A -t 0.1 -c:a flac flac.ogg
# GStreamer: opusenc through oggmux.
gst-launch-1.0 -q audiotestsrc num-buffers=20 ! audio/x-raw,rate=48000,channels=2 ! opusenc ! oggmux ! filesink location=gst_opus.ogg

# ffprobe's view of every packet: stream,time_base then pts,dts,size.
for f in opus_stereo.ogg opus_mono_60ms.ogg vorbis_44k.ogg gst_opus.ogg; do
	ffprobe -v error -show_entries stream=index,time_base -of csv=p=0 "$f" | sed 's/^/stream,/' > "$f.packets.csv"
	ffprobe -v error -show_entries packet=stream_index,pts,dts,duration,size -of csv=p=0 "$f" >> "$f.packets.csv"
done
