#!/bin/sh
# Regenerates the MP3 fixtures of demux/mp3 from real encoders, and the
# ffprobe packet lists (*.packets.csv) the tests compare against.
# Requires the ffmpeg/ffprobe CLIs (5.1, libmp3lame) and gst-launch-1.0
# (lamemp3enc, id3v2mux).
set -eu
cd "$(dirname "$0")"
FF="ffmpeg -hide_banner -loglevel error -y -fflags +bitexact -flags +bitexact"
A="-f lavfi -i sine=frequency=440:sample_rate=48000"

# CBR 128 kb/s, 44.1 kHz stereo, ID3v2.3 tag with a title, Info frame.
$FF $A -t 1 -c:a libmp3lame -ar 44100 -ac 2 -b:a 128k -metadata title=x -id3v2_version 3 cbr_44k.mp3
# VBR (-q:a 4), 48 kHz mono, ID3v2.4 tag, Xing frame.
$FF $A -t 1 -c:a libmp3lame -ar 48000 -ac 1 -q:a 4 -metadata title=vbr -metadata artist=tributary vbr_48k.mp3
# MPEG-2 Layer III (LSF), 22.05 kHz, no tag and no Xing frame.
$FF $A -t 1 -c:a libmp3lame -ar 22050 -ac 1 -b:a 32k -id3v2_version 0 -write_xing 0 lsf_22k.mp3
# MPEG-1 Layer II, refused.
$FF $A -t 0.2 -c:a mp2 -b:a 128k -f mp2 layer2.mp3
# GStreamer: lamemp3enc (CBR 96 kb/s; it picks 32 kHz) with an ID3v2 tag from id3v2mux.
gst-launch-1.0 -q audiotestsrc num-buffers=20 ! audio/x-raw,rate=44100,channels=2 \
	! lamemp3enc target=bitrate bitrate=96 cbr=true ! taginject tags="title=gst" ! id3v2mux ! filesink location=gst_lame.mp3

# ffprobe's view of every packet: stream,time_base then pts,dts,size,flags.
for f in cbr_44k.mp3 vbr_48k.mp3 lsf_22k.mp3 gst_lame.mp3; do
	ffprobe -v error -show_entries stream=index,time_base -of csv=p=0 "$f" | sed 's/^/stream,/' > "$f.packets.csv"
	ffprobe -v error -show_entries packet=stream_index,pts,dts,size,flags,duration -of csv=p=0 "$f" >> "$f.packets.csv"
done
