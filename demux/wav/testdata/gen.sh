#!/bin/sh
# Regenerates the WAV fixtures with the ffmpeg CLI (5.1): 0.1 s of a 440 Hz
# tone in every sample format the demuxer reads.
set -eu
cd "$(dirname "$0")"
FF="ffmpeg -hide_banner -loglevel error -y -fflags +bitexact"
A="-f lavfi -i sine=frequency=440:sample_rate=44100 -t 0.1 -map_metadata -1 -flags +bitexact"
$FF $A -ac 2 -c:a pcm_s16le s16_stereo.wav
$FF $A -ac 1 -c:a pcm_u8 u8.wav
$FF $A -ac 2 -c:a pcm_s24le s24.wav
$FF $A -ac 1 -c:a pcm_f32le f32.wav
$FF $A -ac 1 -ar 8000 -c:a pcm_alaw alaw.wav
$FF $A -ac 1 -ar 8000 -c:a pcm_mulaw mulaw.wav
# WAVE_FORMAT_EXTENSIBLE (more than two channels), and a WAV written to a
# pipe (sizes unknown).
$FF $A -ac 6 -c:a pcm_s16le surround.wav
$FF $A -ac 1 -c:a pcm_s16le -f wav - > piped.wav
# Refused: ADPCM.
$FF $A -ac 1 -c:a adpcm_ms adpcm.wav
