package ingress

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/livekit/protocol/livekit"

	"github.com/tributary-ingress/tributary/simulcast"
)

// ArgumentError is an invalid request field; the API answers it with
// Twirp invalid_argument and the field named in the message.
type ArgumentError struct {
	Field  string
	Reason string
}

func (e *ArgumentError) Error() string { return e.Field + ": " + e.Reason }

func argErr(field, format string, args ...any) *ArgumentError {
	return &ArgumentError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// URL schemes a URL ingress may pull from. http, https and srt as LiveKit;
// rtsp and rtsps (RTSP over TLS) are Tributary's extension.
var urlSchemes = map[string]bool{"http": true, "https": true, "srt": true, "rtsp": true, "rtsps": true}

// validation holds the rules of validateInfo that depend on the config.
type validation struct {
	// AllowUDP allows udp:// URL pulls (enable_udp_url_pull).
	AllowUDP bool
}

// validateInfo checks a record about to be stored, as LiveKit's
// ValidateForSerialization does, with Tributary's own rule on transcoding:
// enable_transcoding=false is allowed for every input (passthrough of a
// WebRTC-ready source), while LiveKit allows it for WHIP only.
func validateInfo(info *livekit.IngressInfo, rules validation) error {
	switch info.InputType {
	case livekit.IngressInput_RTMP_INPUT, livekit.IngressInput_WHIP_INPUT:
	case livekit.IngressInput_URL_INPUT:
		if info.Url == "" {
			return argErr("url", "required for URL input")
		}
		// The messages do not repeat the URL: they are logged, and its
		// query string may be a signed token.
		u, err := url.Parse(info.Url)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return argErr("url", "not a URL: %v", err)
		}
		switch {
		case u.Scheme == "udp" && !rules.AllowUDP:
			// As livekit-server's ingress.enable_udp_url_pull: the
			// ingress binds a port the creator chooses and takes media
			// from whoever sends to it.
			return argErr("url", "udp:// URL pulls are off on this server (enable_udp_url_pull)")
		case u.Scheme != "udp" && !urlSchemes[u.Scheme]:
			return argErr("url", "unsupported scheme %q (want http, https, srt, rtsp or rtsps)", u.Scheme)
		}
		if u.Host == "" {
			return argErr("url", "has no host")
		}
		if info.RoomName == "" {
			return argErr("room_name", "required for URL input (it starts at once)")
		}
		if info.Enabled != nil && !*info.Enabled {
			return argErr("enabled", "a URL ingress cannot be created disabled: it starts at once and is not reusable")
		}
	default:
		return argErr("input_type", "unsupported input type %d (want RTMP_INPUT, WHIP_INPUT or URL_INPUT)", info.InputType)
	}
	if info.ParticipantIdentity == "" {
		return argErr("participant_identity", "required")
	}

	transcoding := transcodingEnabled(info)
	if !transcoding {
		if info.Video != nil && info.Video.EncodingOptions != nil {
			return argErr("video", "encoding options (preset or options) must be empty when transcoding is disabled")
		}
		if info.Audio != nil && info.Audio.EncodingOptions != nil {
			return argErr("audio", "encoding options (preset or options) must be empty when transcoding is disabled")
		}
	}
	if _, err := simulcast.ResolveVideo(info.Video); err != nil {
		return fromSimulcast(err)
	}
	if _, err := simulcast.ResolveAudio(info.Audio); err != nil {
		return fromSimulcast(err)
	}
	return nil
}

func fromSimulcast(err error) error {
	var fe *simulcast.FieldError
	if errors.As(err, &fe) {
		return &ArgumentError{Field: fe.Field, Reason: fe.Reason}
	}
	return err
}

// transcodingEnabled applies LiveKit's defaults: an explicit
// enable_transcoding wins; else bypass_transcoding (deprecated) turns it
// off; else WHIP forwards and every other input transcodes.
func transcodingEnabled(info *livekit.IngressInfo) bool {
	if info.EnableTranscoding != nil {
		return *info.EnableTranscoding
	}
	if info.BypassTranscoding {
		return false
	}
	return info.InputType != livekit.IngressInput_WHIP_INPUT
}

// settleTranscoding stores the resolved choice in both fields, as LiveKit
// does for old clients that read bypass_transcoding.
func settleTranscoding(info *livekit.IngressInfo) {
	on := transcodingEnabled(info)
	info.EnableTranscoding = &on
	info.BypassTranscoding = !on
}
