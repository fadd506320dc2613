package vp9

import (
	"errors"
	"fmt"
)

// MaxSuperframeFrames is how many frames a superframe holds at most.
const MaxSuperframeFrames = 8

// A superframe packs the frames of one picture (a hidden alt-ref frame and
// the shown one, or the spatial layers of a scalable stream) into one
// chunk: the frames one after the other, then an index of their sizes
// between two copies of a marker byte. mediacommon has no superframe
// code; this is our own.
//
// Specification: VP9 Bitstream & Decoding Process Specification v0.6,
// Annex B.

// superframeMarker returns the frame count and size bytes of an index
// whose last byte is c, or ok false when c is not a marker.
func superframeMarker(c byte) (frames, mag int, ok bool) {
	if c&0xe0 != 0xc0 {
		return 0, 0, false
	}
	return int(c&7) + 1, int(c>>3&3) + 1, true
}

// SplitSuperframe returns the frames of a superframe, in order, or nil
// when b is not one (a lone frame). The frames are sub-slices of b.
func SplitSuperframe(b []byte) [][]byte {
	if len(b) == 0 {
		return nil
	}
	last := b[len(b)-1]
	n, mag, ok := superframeMarker(last)
	if !ok {
		return nil
	}
	index := 2 + mag*n
	if len(b) < index || b[len(b)-index] != last {
		return nil
	}
	sizes := b[len(b)-index+1 : len(b)-1]
	body := b[:len(b)-index]
	frames := make([][]byte, 0, n)
	off := 0
	for i := range n {
		size := 0
		for k := range mag {
			size |= int(sizes[i*mag+k]) << (8 * k)
		}
		if size > len(body)-off {
			return nil
		}
		if size > 0 {
			frames = append(frames, body[off:off+size])
		}
		off += size
	}
	if len(frames) == 0 {
		return nil
	}
	return frames
}

// JoinSuperframe packs frames (1 to MaxSuperframeFrames, none empty) into
// one superframe; a single frame is returned as is. A frame that is a
// superframe itself is taken apart first, so that the frames of several
// chunks can be joined.
func JoinSuperframe(chunks [][]byte) ([]byte, error) {
	var frames [][]byte
	for _, c := range chunks {
		if len(c) == 0 {
			return nil, errors.New("VP9 superframe: empty frame")
		}
		if inner := SplitSuperframe(c); inner != nil {
			frames = append(frames, inner...)
		} else {
			frames = append(frames, c)
		}
	}
	switch {
	case len(frames) > MaxSuperframeFrames:
		return nil, fmt.Errorf("VP9 superframe: %d frames, at most %d", len(frames), MaxSuperframeFrames)
	case len(chunks) == 1:
		return chunks[0], nil
	}
	largest, total := 0, 0
	for _, f := range frames {
		largest = max(largest, len(f))
		total += len(f)
	}
	mag := 1
	for largest >= 1<<(8*mag) {
		mag++
	}
	if mag > 4 {
		return nil, fmt.Errorf("VP9 superframe: a frame of %d bytes", largest)
	}
	marker := byte(0xc0 | (mag-1)<<3 | (len(frames) - 1))
	out := make([]byte, 0, total+2+mag*len(frames))
	for _, f := range frames {
		out = append(out, f...)
	}
	out = append(out, marker)
	for _, f := range frames {
		for k := range mag {
			out = append(out, byte(len(f)>>(8*k)))
		}
	}
	return append(out, marker), nil
}
