#!/bin/sh
# Regenerates the HLS fixtures of demux/hls with the ffmpeg CLI 5.1
# (libx264, aac). The tests serve these files from an httptest server; the
# live and discontinuity playlists are built by the tests from the same
# segments.
set -eu
cd "$(dirname "$0")"
rm -rf ts fmp4
mkdir -p ts fmp4
FF="ffmpeg -hide_banner -loglevel error -y -fflags +bitexact"
V="-f lavfi -i testsrc2=size=320x180:rate=30"
A="-f lavfi -i sine=frequency=440:sample_rate=48000"
ENC="-c:v libx264 -preset veryfast -g 30 -keyint_min 30 -sc_threshold 0 -bf 2 -c:a aac -ac 1 -b:a 32k -flags +bitexact -map_metadata -1"

# TS segments, two variants (320x180 at 150 kb/s, 160x90 at 60 kb/s) and
# a master playlist.
(cd ts && $FF $V $A -t 3 -filter_complex "[0:v]split=2[a][b];[b]scale=160:90[c]" \
	-map "[a]" -map "[c]" -map 1:a -map 1:a $ENC -b:v:0 150k -b:v:1 60k \
	-var_stream_map "v:0,a:0 v:1,a:1" -master_pl_name master.m3u8 \
	-f hls -hls_time 1 -hls_playlist_type vod -hls_segment_filename "v%v_%d.ts" "v%v.m3u8")
# fMP4 segments (EXT-X-MAP init.mp4 + .m4s fragments), one variant.
(cd fmp4 && $FF $V $A -t 2 $ENC -b:v 100k -f hls -hls_time 1 -hls_playlist_type vod \
	-hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 -hls_segment_filename "seg%d.m4s" index.m3u8)
# Alternative audio: the video variant and the audio rendition in media
# playlists of their own (EXT-X-MEDIA TYPE=AUDIO with a URI), TS and fMP4.
# The audio starts 0.5 s after the video (-itsoffset), so the rendition's
# first segment starts later than the variant's on the shared timeline.
ALT="-map 0:v -map 1:a $ENC -b:v 100k -master_pl_name master.m3u8"
VSM="v:0,agroup:aud,name:v a:0,agroup:aud,default:yes,name:a"
mkdir -p alt_ts alt_fmp4
(cd alt_ts && $FF $V -itsoffset 0.5 -f lavfi -i sine=frequency=440:sample_rate=48000 -t 3 $ALT -var_stream_map "$VSM" \
	-f hls -hls_time 1 -hls_playlist_type vod -hls_segment_filename "%v_%d.ts" "%v.m3u8")
(cd alt_fmp4 && $FF $V -itsoffset 0.5 -f lavfi -i sine=frequency=440:sample_rate=48000 -t 3 $ALT -var_stream_map "$VSM" \
	-f hls -hls_time 1 -hls_playlist_type vod -hls_segment_type fmp4 -hls_fmp4_init_filename "%v_init.mp4" \
	-hls_segment_filename "%v_%d.m4s" "%v.m3u8")
