package h264

// BFrameDetector tells, from the frames themselves, whether a stream uses
// B-frames, i.e. whether frames arrive in an order other than their
// presentation order. It complements SPS.MayHaveBFrames, which can only say
// "maybe" for Main and High profile streams without a VUI bitstream
// restriction.
//
// The zero value is ready to use. It does not allocate.
type BFrameDetector struct {
	detected bool
	started  bool
	maxPTS   int64
}

// Observe feeds one access unit in decode order with its presentation
// time and reports whether B-frames have been detected so far. It detects
//   - a coded slice whose slice_type is B, and
//   - a PTS lower than one already seen (presentation order differs from
//     decode order).
//
// A constant PTS−DTS offset, which some muxers write, is not reordering and
// is not flagged.
func (d *BFrameDetector) Observe(au [][]byte, pts int64) bool {
	if d.detected {
		return true
	}
	if d.started && pts < d.maxPTS {
		d.detected = true
		return true
	}
	if !d.started || pts > d.maxPTS {
		d.maxPTS = pts
	}
	d.started = true
	for _, nalu := range au {
		if Type(nalu) == NALUTypeNonIDR {
			if st, err := ParseSliceType(nalu); err == nil && st == SliceB {
				d.detected = true
				break
			}
		}
	}
	return d.detected
}

// Detected reports whether B-frames have been detected.
func (d *BFrameDetector) Detected() bool {
	return d.detected
}
