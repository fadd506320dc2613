// Package isolate runs a session's transcoders in a child process of the
// same binary, so that a crash in a codec library (libavcodec, x264, opus)
// ends only that session: the parent keeps the connection, the ingest and
// the state reporting, and sees the child's death as an error of the
// transcoder, which fails the session with the reason.
//
// Parent and child exchange gob-encoded messages over the child's stdin
// and stdout: the compressed source frames go in, the encoded layers come
// out, so the pipe carries a few Mbit/s, not raw pictures. The child logs
// to stderr, which is the parent's.
package isolate

import (
	"reflect"

	"github.com/tributary-ingress/tributary/media"
)

// ChildCommand is the hidden subcommand that runs the child side.
const ChildCommand = "transcode-child"

type op int

const (
	opVideo       op = iota + 1 // parent → child: start a video transcoder
	opAudio                     // parent → child: start an audio transcoder
	opFrame                     // parent → child: a source frame
	opKeyframe                  // parent → child: a keyframe request for Layer
	opClose                     // parent → child: flush and close the stream
	opOut                       // child → parent: an encoded frame of Layer
	opErr                       // child → parent: the stream failed
	opClosed                    // child → parent: the stream is flushed and closed
	opLayerActive               // parent → child: resume (Active) or pause layer Layer
	opDropped                   // child → parent: the stream dropped a frame or picture for want of room
	opStale                     // child → parent: the stream skipped a picture as too old to encode
)

// message is one unit on the pipe; Stream identifies a transcoder.
type message struct {
	Op     op
	Stream int
	Layer  int
	Frame  *media.Frame
	Video  *videoInit
	Audio  *audioInit
	Err    string
	Active bool
}

type videoInit struct {
	Source    *media.Track
	Codec     media.CodecID
	FrameRate float64
	Layers    []layer
	Blocking  bool
	ReuseTop  bool
}

type layer struct {
	Width, Height, Bitrate int
}

type audioInit struct {
	Source   *media.Track
	Channels int
	Bitrate  int
	DTX      bool
}

// interner gives decoded frames of one stream the same *media.Track while
// the track does not change (gob decodes a new one per frame).
type interner struct {
	last *media.Track
}

func (in *interner) track(t *media.Track) *media.Track {
	if t == nil {
		return nil
	}
	if in.last != nil && reflect.DeepEqual(*in.last, *t) {
		return in.last
	}
	in.last = t
	return t
}
