package mp4

import (
	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/media"
)

// inlineParts is how many Data elements a frame holds without a separate
// allocation: x264/x265 access units carry 1–4 NAL units, others one part.
const inlineParts = 4

// frameAlloc puts a frame and its Data backing array in one allocation.
type frameAlloc struct {
	frame media.Frame
	parts [inlineParts][]byte
}

// newFrame builds the frame of a sample: H.264/H.265 samples are split
// into NAL units, others are one part. With copyData the bytes are copied
// into a buffer of the frame's own.
func newFrame(t *track, data []byte, copyData bool) (*media.Frame, error) {
	if copyData {
		data = append([]byte(nil), data...)
	}
	fa := &frameAlloc{}
	f := &fa.frame
	f.Track = t.t
	switch t.t.Codec {
	case media.CodecH264, media.CodecH265:
		var err error
		f.Data, err = h264.AppendAVCC(fa.parts[:0], data, t.lengthSize)
		if err != nil {
			return nil, errs.Malformed("track %d: %v", t.id, err)
		}
	default:
		fa.parts[0] = data
		f.Data = fa.parts[:1:1]
	}
	return f, nil
}
