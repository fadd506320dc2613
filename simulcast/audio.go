package simulcast

import (
	"github.com/livekit/protocol/livekit"
)

// Default custom audio bitrates, by channel count (upstream pkg/params).
const (
	defaultMonoBitrate   = 64_000
	defaultStereoBitrate = 96_000
)

// ResolveAudio validates the audio options of an ingress and returns its
// audio plan. nil options, or options without encoding options, mean
// DefaultAudioPreset (Opus stereo 96 kbps).
//
// Custom options get these defaults (upstream pkg/params/params.go): codec
// Opus, 2 channels, and bitrate 64 kbps for mono or 96 kbps for stereo. The
// bitrate is not bounded, as upstream; the Opus encoder clamps it.
//
// Every error is a *FieldError wrapping ErrInvalidOptions.
func ResolveAudio(o *livekit.IngressAudioOptions) (AudioPlan, error) {
	if o == nil {
		return audioPresets[DefaultAudioPreset], nil
	}

	switch o.Source {
	case livekit.TrackSource_UNKNOWN, livekit.TrackSource_MICROPHONE, livekit.TrackSource_SCREEN_SHARE_AUDIO:
	default:
		return AudioPlan{}, fieldErrorf("audio.source",
			"%s is not an audio source (want MICROPHONE or SCREEN_SHARE_AUDIO)", o.Source)
	}

	switch e := o.EncodingOptions.(type) {
	case nil:
		return audioPresets[DefaultAudioPreset], nil

	case *livekit.IngressAudioOptions_Preset:
		p, ok := audioPresets[e.Preset]
		if !ok {
			return AudioPlan{}, fieldErrorf("audio.preset", "unknown audio preset %d", int32(e.Preset))
		}
		return p, nil

	case *livekit.IngressAudioOptions_Options:
		return resolveAudioOptions(e.Options)

	default:
		// Unreachable with the generated oneof wrappers.
		return AudioPlan{}, fieldErrorf("audio", "unsupported encoding options %T", e)
	}
}

// resolveAudioOptions validates custom options (protocol
// ValidateAudioEncodingOptionsConsistency) and applies the defaults.
func resolveAudioOptions(o *livekit.IngressAudioEncodingOptions) (AudioPlan, error) {
	const field = "audio.options"
	if o == nil {
		return AudioPlan{}, fieldErrorf(field, "must not be empty")
	}

	switch o.AudioCodec {
	case livekit.AudioCodec_DEFAULT_AC, livekit.AudioCodec_OPUS:
	default:
		return AudioPlan{}, fieldErrorf(field+".audio_codec", "unsupported codec %s (want OPUS)", o.AudioCodec)
	}

	if o.Channels > 2 {
		return AudioPlan{}, fieldErrorf(field+".channels",
			"must be 1 or 2, or 0 for the default 2 (got %d)", o.Channels)
	}

	p := AudioPlan{Channels: o.Channels, Bitrate: o.Bitrate, DisableDTX: o.DisableDtx}
	if p.Channels == 0 {
		p.Channels = 2
	}
	if p.Bitrate == 0 {
		p.Bitrate = defaultStereoBitrate
		if p.Channels == 1 {
			p.Bitrate = defaultMonoBitrate
		}
	}
	return p, nil
}
