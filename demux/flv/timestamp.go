package flv

// timeline unwraps 32-bit millisecond timestamps (RTMP and FLV extended
// timestamps both wrap after ~49.7 days) into an int64 timeline shared by
// all tracks, and removes jumps larger than MaxTimestampJump.
//
// The difference to the previous timestamp is taken as a signed 32-bit
// value, so a wrap (0xFFFFFFF0 → 0x10) is a small step forward and audio
// that trails video by a few hundred ms is a small step back.
type timeline struct {
	started bool
	last    uint32
	ext     int64
	// discontinuities counts removed jumps.
	discontinuities uint64
}

// unwrap returns the extended timestamp, in ms, of ts.
func (t *timeline) unwrap(ts uint32) int64 {
	if !t.started {
		t.started = true
		t.last = ts
		t.ext = int64(ts)
		return t.ext
	}
	diff := int64(int32(ts - t.last))
	if diff > MaxTimestampJump || diff < -MaxTimestampJump {
		t.discontinuities++
		diff = 0
	}
	t.last = ts
	t.ext += diff
	return t.ext
}
