package mkv

import (
	"github.com/tributary-ingress/tributary/codec/aac"
	"github.com/tributary-ingress/tributary/codec/ac3"
	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/mp3"
	"github.com/tributary-ingress/tributary/media"
)

// Block header flags. Specification: RFC 9559, sections 10.2 (Block) and
// 10.3 (SimpleBlock).
const (
	flagKeyframe = 0x80
	flagLacing   = 0x06
	lacingNone   = 0x00
	lacingXiph   = 0x02
	lacingFixed  = 0x04
	lacingEBML   = 0x06
)

// block is a Block or SimpleBlock split into its frames.
type block struct {
	track    uint64
	relTime  int16
	keyframe bool
	frames   [][]byte
}

// parseBlock decodes a block body; frames alias b.
//
// Specification: RFC 9559, section 10 (Block structure, lacing).
func parseBlock(b []byte, simple bool) (block, error) {
	var blk block
	tn, n, err := bufVint(b, false)
	if err != nil {
		return blk, err
	}
	b = b[n:]
	if len(b) < 3 {
		return blk, errs.Malformed("block header truncated")
	}
	blk.track = tn
	blk.relTime = int16(uint16(b[0])<<8 | uint16(b[1]))
	flags := b[2]
	b = b[3:]
	blk.keyframe = simple && flags&flagKeyframe != 0
	if flags&flagLacing == lacingNone {
		blk.frames = [][]byte{b}
		return blk, nil
	}
	if len(b) < 1 {
		return blk, errs.Malformed("lacing header truncated")
	}
	count := int(b[0]) + 1
	b = b[1:]
	var sizes []int
	switch flags & flagLacing {
	case lacingXiph:
		sizes, b, err = xiphSizes(b, count)
	case lacingEBML:
		sizes, b, err = ebmlSizes(b, count)
	case lacingFixed:
		if len(b)%count != 0 {
			return blk, errs.Malformed("fixed lacing: %d bytes for %d frames", len(b), count)
		}
		sizes = make([]int, count)
		for i := range sizes {
			sizes[i] = len(b) / count
		}
	}
	if err != nil {
		return blk, err
	}
	blk.frames, err = splitSizes(b, sizes)
	return blk, err
}

// xiphSizes reads the sizes of the first count-1 frames of Xiph lacing
// (each a run of 255s and a last byte); the last frame takes the rest.
func xiphSizes(b []byte, count int) ([]int, []byte, error) {
	sizes := make([]int, count)
	total := 0
	for i := range count - 1 {
		for {
			if len(b) < 1 {
				return nil, nil, errs.Malformed("Xiph lacing truncated")
			}
			c := b[0]
			b = b[1:]
			sizes[i] += int(c)
			if c != 0xff {
				break
			}
		}
		total += sizes[i]
		if total > len(b) {
			return nil, nil, errs.Malformed("Xiph lacing: frames larger than the block")
		}
	}
	sizes[count-1] = len(b) - total
	return sizes, b, nil
}

// ebmlSizes reads EBML lacing: the first size as a VINT, the next ones as
// signed VINT differences to the previous; the last frame takes the rest.
func ebmlSizes(b []byte, count int) ([]int, []byte, error) {
	sizes := make([]int, count)
	total := 0
	for i := range count - 1 {
		v, n, err := bufVint(b, false)
		if err != nil {
			return nil, nil, err
		}
		b = b[n:]
		if i == 0 {
			if v > uint64(MaxBlockSize) {
				return nil, nil, errs.Malformed("EBML lacing size %d", v)
			}
			sizes[0] = int(v)
		} else {
			bias := int64(1)<<(7*n-1) - 1
			d := int64(v) - bias
			s := int64(sizes[i-1]) + d
			if v > 1<<56 || s < 0 || s > MaxBlockSize {
				return nil, nil, errs.Malformed("EBML lacing size %d", s)
			}
			sizes[i] = int(s)
		}
		total += sizes[i]
	}
	if total > len(b) {
		return nil, nil, errs.Malformed("EBML lacing: frames larger than the block")
	}
	sizes[count-1] = len(b) - total
	return sizes, b, nil
}

func splitSizes(b []byte, sizes []int) ([][]byte, error) {
	out := make([][]byte, len(sizes))
	for i, s := range sizes {
		if s > len(b) || s < 0 {
			return nil, errs.Malformed("laced frame of %d bytes, %d left", s, len(b))
		}
		out[i] = b[:s:s]
		b = b[s:]
	}
	return out, nil
}

// frameDuration returns the duration of one laced audio frame in track
// ticks, 0 when unknown.
func frameDuration(t *trackState, frame []byte) int64 {
	rate := int64(t.track.ClockRate)
	if t.defDurNs > 0 {
		return int64(media.MulDiv(int64(min(t.defDurNs, 1e10)), rate, 1e9))
	}
	switch t.track.Codec {
	case media.CodecAAC:
		return aac.SamplesPerFrame
	case media.CodecOpus:
		return int64(opusSamples(frame))
	case media.CodecMP3, media.CodecMP2:
		if h, err := mp3.ParseFrameHeader(frame); err == nil {
			return media.Rescale(int64(h.SamplesPerFrame), h.SampleRate, int(rate))
		}
	case media.CodecAC3, media.CodecEAC3:
		if h, err := ac3.ParseFrameHeader(frame); err == nil {
			return media.Rescale(int64(h.Samples), h.SampleRate, int(rate))
		}
	case media.CodecPCM:
		// Converted to 16 bits by then (see Demuxer.emit).
		return int64(len(frame) / (2 * t.track.Channels))
	}
	return 0
}

// opusSamples returns the duration of an Opus packet in 48 kHz samples.
//
// Specification: RFC 6716, section 3.1.
func opusSamples(p []byte) int {
	if len(p) < 1 {
		return 0
	}
	config := int(p[0] >> 3)
	var frame int
	switch {
	case config < 12:
		frame = []int{480, 960, 1920, 2880}[config&3]
	case config < 16:
		frame = []int{480, 960}[config&1]
	default:
		frame = []int{120, 240, 480, 960}[config&3]
	}
	switch p[0] & 3 {
	case 0:
		return frame
	case 1, 2:
		return 2 * frame
	}
	if len(p) < 2 {
		return 0
	}
	return int(p[1]&0x3f) * frame
}

// videoData splits a video frame into what media.Frame carries: NAL
// units for H.264/H.265, the frame itself otherwise.
func videoData(t *trackState, frame []byte) ([][]byte, error) {
	if t.lengthSize == 0 {
		return [][]byte{frame}, nil
	}
	au, err := h264.SplitAVCC(frame, t.lengthSize)
	if err != nil {
		return nil, errs.Malformed("track %d: %v", t.track.ID, err)
	}
	n := 0
	for _, u := range au {
		if len(u) > 0 {
			au[n] = u
			n++
		}
	}
	return au[:n], nil
}
