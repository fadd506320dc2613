package simulcast

import (
	"errors"
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
)

func audioPreset(p livekit.IngressAudioEncodingPreset) *livekit.IngressAudioOptions {
	return &livekit.IngressAudioOptions{EncodingOptions: &livekit.IngressAudioOptions_Preset{Preset: p}}
}

func audioCustom(o *livekit.IngressAudioEncodingOptions) *livekit.IngressAudioOptions {
	return &livekit.IngressAudioOptions{EncodingOptions: &livekit.IngressAudioOptions_Options{Options: o}}
}

func TestResolveAudio(t *testing.T) {
	cases := []struct {
		name string
		in   *livekit.IngressAudioOptions
		want AudioPlan
	}{
		{"nil options", nil, AudioPlan{Channels: 2, Bitrate: 96_000}},
		{"no encoding options", &livekit.IngressAudioOptions{Source: livekit.TrackSource_MICROPHONE}, AudioPlan{Channels: 2, Bitrate: 96_000}},
		{"OPUS_STEREO_96KBPS", audioPreset(livekit.IngressAudioEncodingPreset_OPUS_STEREO_96KBPS), AudioPlan{Channels: 2, Bitrate: 96_000}},
		{"OPUS_MONO_64KBS", audioPreset(livekit.IngressAudioEncodingPreset_OPUS_MONO_64KBS), AudioPlan{Channels: 1, Bitrate: 64_000}},
		{"empty custom options: stereo 96 kbps", audioCustom(&livekit.IngressAudioEncodingOptions{}), AudioPlan{Channels: 2, Bitrate: 96_000}},
		{"custom mono defaults to 64 kbps", audioCustom(&livekit.IngressAudioEncodingOptions{Channels: 1}), AudioPlan{Channels: 1, Bitrate: 64_000}},
		{"custom stereo defaults to 96 kbps", audioCustom(&livekit.IngressAudioEncodingOptions{AudioCodec: livekit.AudioCodec_OPUS, Channels: 2}), AudioPlan{Channels: 2, Bitrate: 96_000}},
		{"custom bitrate and DTX off", audioCustom(&livekit.IngressAudioEncodingOptions{Bitrate: 128_000, DisableDtx: true}), AudioPlan{Channels: 2, Bitrate: 128_000, DisableDTX: true}},
		{"screen share audio", &livekit.IngressAudioOptions{Source: livekit.TrackSource_SCREEN_SHARE_AUDIO}, AudioPlan{Channels: 2, Bitrate: 96_000}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ResolveAudio(c.in)
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

func TestResolveAudioErrors(t *testing.T) {
	cases := []struct {
		name  string
		in    *livekit.IngressAudioOptions
		field string
		msg   string
	}{
		{
			"video source on audio",
			&livekit.IngressAudioOptions{Source: livekit.TrackSource_CAMERA},
			"audio.source", "audio.source: CAMERA is not an audio source (want MICROPHONE or SCREEN_SHARE_AUDIO)",
		},
		{"unknown preset", audioPreset(7), "audio.preset", "audio.preset: unknown audio preset 7"},
		{"nil custom options", audioCustom(nil), "audio.options", "audio.options: must not be empty"},
		{
			"AAC",
			audioCustom(&livekit.IngressAudioEncodingOptions{AudioCodec: livekit.AudioCodec_AAC}),
			"audio.options.audio_codec", "audio.options.audio_codec: unsupported codec AAC (want OPUS)",
		},
		{
			"MP3",
			audioCustom(&livekit.IngressAudioEncodingOptions{AudioCodec: livekit.AudioCodec_AC_MP3}),
			"audio.options.audio_codec", "audio.options.audio_codec: unsupported codec AC_MP3 (want OPUS)",
		},
		{
			"6 channels",
			audioCustom(&livekit.IngressAudioEncodingOptions{Channels: 6}),
			"audio.options.channels", "audio.options.channels: must be 1 or 2, or 0 for the default 2 (got 6)",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ResolveAudio(c.in)
			require.ErrorIs(t, err, ErrInvalidOptions)
			var fe *FieldError
			require.True(t, errors.As(err, &fe))
			require.Equal(t, c.field, fe.Field)
			require.EqualError(t, err, c.msg)
		})
	}
}
