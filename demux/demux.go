// Package demux holds the error vocabulary the demuxers under demux/
// share, so that an input (or a test) tells what went wrong the same way
// whatever the container: errors.Is(err, demux.ErrUnsupportedCodec) holds
// for an unsupported codec of FLV, Matroska, MP4, MPEG-TS, Ogg or WAV
// alike, and errors.As(err, &*demux.Error) gives the container, the track
// and the codec.
//
// Each demuxer names its container once (const errs =
// demux.Container("MPEG-TS")) and builds its errors with errs.Malformed,
// errs.Truncated, errs.OverLimit, errs.NoTracks and errs.UnsupportedCodec.
package demux

import (
	"errors"
	"fmt"

	"github.com/tributary-ingress/tributary/media"
)

// The reasons a demuxer refuses its input. Every error a demuxer returns
// about its input matches (errors.Is) exactly one of them, except that an
// ErrOverLimit error matches ErrMalformed too: an input beyond one of the
// documented bounds is refused as malformed, and ErrOverLimit tells the
// bound apart for whoever wants to.
var (
	// ErrMalformed is matched by errors about input that is not of the
	// container format or is inconsistent.
	ErrMalformed = errors.New("malformed")
	// ErrTruncated is matched by errors about input that ends in the
	// middle of a packet, a box, an element or a header.
	ErrTruncated = errors.New("truncated")
	// ErrOverLimit is matched by errors about input beyond one of the
	// bounds a demuxer documents (MaxPESSize, MaxTracks, …).
	ErrOverLimit = errors.New("over a limit")
	// ErrNoTracks is matched by errors about input without any audio or
	// video track the demuxer can demux.
	ErrNoTracks = errors.New("no supported audio or video track")
	// ErrUnsupportedCodec is matched by errors about a track of a codec
	// the demuxer cannot demux; the error names the codec.
	ErrUnsupportedCodec = errors.New("unsupported codec")
)

// Reason returns a sentinel error with its own text that matches base
// (one of the reasons above) with errors.Is: for an input that is not a
// container but refuses media for the same reasons — an RTP payload format
// no frame can be made of is an unsupported codec, an RTSP stream without
// a playable track has no tracks — so that callers need one vocabulary.
func Reason(text string, base error) error { return &reasonError{text, base} }

type reasonError struct {
	text string
	base error
}

func (e *reasonError) Error() string { return e.text }
func (e *reasonError) Unwrap() error { return e.base }

// Error is the error of a demuxer about its input.
type Error struct {
	// Reason is ErrMalformed, ErrTruncated, ErrOverLimit, ErrNoTracks or
	// ErrUnsupportedCodec.
	Reason error
	// Container names the container format, e.g. "MPEG-TS".
	Container Container
	// Kind is the kind of the track of an unsupported codec.
	Kind media.Kind
	// Codec names an unsupported codec as the input signals it, e.g.
	// "AC-3 (stream type 0x81)".
	Codec string
	// Track identifies the track in the container's terms, e.g. "PID
	// 256" or "track 2"; empty when the container has no such name.
	Track string
	// Err says what is wrong (and may wrap a cause); nil for an
	// unsupported codec.
	Err error
}

func (e *Error) Error() string {
	var s string
	switch e.Reason {
	case ErrUnsupportedCodec:
		s = fmt.Sprintf("unsupported %s codec in %s: %s", e.Kind, e.Container, e.Codec)
		if e.Track != "" {
			s += " on " + e.Track
		}
	case ErrMalformed, ErrTruncated:
		s = fmt.Sprintf("%v %s", e.Reason, e.Container)
	default:
		s = fmt.Sprintf("%s: %v", e.Container, e.Reason)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the reason and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Reason}
	}
	return []error{e.Reason, e.Err}
}

// Is makes an ErrOverLimit error match ErrMalformed too.
func (e *Error) Is(target error) bool {
	return e.Reason == ErrOverLimit && target == ErrMalformed
}

// Container names a container format in errors and builds them.
type Container string

func (c Container) new(reason error, format string, args []any) error {
	return &Error{Reason: reason, Container: c, Err: fmt.Errorf(format, args...)}
}

// Malformed returns an ErrMalformed error; format and args (which may use
// %w) say what is wrong.
func (c Container) Malformed(format string, args ...any) error {
	return c.new(ErrMalformed, format, args)
}

// Truncated returns an ErrTruncated error.
func (c Container) Truncated(format string, args ...any) error {
	return c.new(ErrTruncated, format, args)
}

// OverLimit returns an ErrOverLimit error (which matches ErrMalformed
// too); format and args name the bound.
func (c Container) OverLimit(format string, args ...any) error {
	return c.new(ErrOverLimit, format, args)
}

// NoTracks returns an ErrNoTracks error.
func (c Container) NoTracks(format string, args ...any) error {
	return c.new(ErrNoTracks, format, args)
}

// UnsupportedCodec returns an ErrUnsupportedCodec error about a track of
// kind k whose codec the input signals as codec; track names the track
// in the container's terms, or is empty.
func (c Container) UnsupportedCodec(k media.Kind, codec, track string) error {
	return &Error{Reason: ErrUnsupportedCodec, Container: c, Kind: k, Codec: codec, Track: track}
}

// IsInputError reports whether err is (or wraps) an *Error: a demuxer's
// refusal of its input, as opposed to an error of a callback, of the
// reader or of the context.
func IsInputError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
