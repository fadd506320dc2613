package e2e

import (
	"crypto/sha1"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"
)

func TestNTPTime(t *testing.T) {
	// 2024-01-01T00:00:00.5Z: 3913056000 s since 1900, half a second.
	got := NTPTime(uint64(3913056000)<<32 | 1<<31)
	require.Equal(t, time.Date(2024, 1, 1, 0, 0, 0, 500_000_000, time.UTC), got.UTC())
}

func TestSenderClock(t *testing.T) {
	base := time.Unix(1000, 0)
	r1 := uint32(4_294_900_000) // near the wrap
	r2 := r1 + 270_000 + 10     // 3 s later, wrapped, with 10 ticks of drift
	srs := []SenderReport{{NTP: base, RTPTime: r1}, {NTP: base.Add(3 * time.Second), RTPTime: r2}}
	_, ok := SenderClock(nil, 1, 90000)
	require.False(t, ok)

	// Near the first report: mapped from it.
	w, ok := SenderClock(srs, r1+9000, 90000)
	require.True(t, ok)
	require.Equal(t, base.Add(100*time.Millisecond), w)
	// After the wrap, nearer the second: mapped from it, across the wrap.
	w, _ = SenderClock(srs, r2-9000, 90000)
	require.Equal(t, base.Add(2900*time.Millisecond), w)
}

// TestTrackRecorderTruncatedFUA: when a fragment is lost and the rest of a
// fragmented slice arrives, the truncated NAL unit pion reassembles is not
// taken for a slice of the stream; every whole slice gets its first
// arrival time.
func TestTrackRecorderTruncatedFUA(t *testing.T) {
	rec := newTrackRecorder(TrackStats{MimeType: webrtc.MimeTypeH264, Kind: webrtc.RTPCodecTypeVideo})
	pz := rtp.NewPacketizer(1200, 96, 1234, &codecs.H264Payloader{}, rtp.NewFixedSequencer(1), 90000)
	idr, p1 := fakeSlice(5, 3000), fakeSlice(1, 500)
	idr[1], p1[1] = 1, 2 // distinct contents
	t0 := time.Unix(2000, 0)
	pkts := pz.Packetize(annexB(idr), 3000)
	require.Len(t, pkts, 3)
	rec.handle(pkts[0], t0)
	rec.handle(pkts[2], t0.Add(time.Millisecond)) // pkts[1] lost
	later := pz.Packetize(annexB(p1), 3000)
	rec.handle(later[0], t0.Add(33*time.Millisecond))
	rec.handle(later[0], t0.Add(40*time.Millisecond)) // a duplicate keeps the first arrival

	require.Equal(t, map[[sha1.Size]byte]struct{}{sha1.Sum(p1): {}}, rec.slices)
	require.Equal(t, map[[sha1.Size]byte]time.Time{sha1.Sum(p1): t0.Add(33 * time.Millisecond)}, rec.sliceArrivals)
	require.Equal(t, uint64(2), rec.stats.Pictures, "the damaged IDR still counts as a picture")
}

func TestReadFLVTags(t *testing.T) {
	file := []byte{'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0}
	tag := func(typ byte, ts uint32, body []byte) {
		h := []byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body)),
			byte(ts >> 16), byte(ts >> 8), byte(ts), byte(ts >> 24), 0, 0, 0}
		file = append(append(file, h...), body...)
		file = binary.BigEndian.AppendUint32(file, uint32(11+len(body)))
	}
	tag(FLVTagScript, 0, []byte{2, 0, 1, 'x'})
	tag(FLVTagVideo, 0x01020304, []byte{0x17, 1, 0, 0, 0})
	tag(FLVTagAudio, 21, []byte{0xaf, 1, 9})
	path := filepath.Join(t.TempDir(), "a.flv")
	require.NoError(t, os.WriteFile(path, file, 0o600))

	tags, err := ReadFLVTags(path)
	require.NoError(t, err)
	require.Equal(t, []FLVTag{
		{Type: FLVTagScript, Timestamp: 0, Body: []byte{2, 0, 1, 'x'}},
		{Type: FLVTagVideo, Timestamp: 0x01020304, Body: []byte{0x17, 1, 0, 0, 0}},
		{Type: FLVTagAudio, Timestamp: 21, Body: []byte{0xaf, 1, 9}},
	}, tags)

	require.NoError(t, os.WriteFile(path, file[:len(file)-3], 0o600))
	_, err = ReadFLVTags(path)
	require.ErrorContains(t, err, "truncated")
}

// TestTrackRecorderLateFUA: a retransmitted fragment arriving in the
// middle of another fragmented slice is not glued to it.
func TestTrackRecorderLateFUA(t *testing.T) {
	rec := newTrackRecorder(TrackStats{MimeType: webrtc.MimeTypeH264, Kind: webrtc.RTPCodecTypeVideo})
	pz := rtp.NewPacketizer(1200, 96, 1234, &codecs.H264Payloader{}, rtp.NewFixedSequencer(1), 90000)
	a, b := fakeSlice(5, 3000), fakeSlice(1, 3000)
	a[1], b[1] = 1, 2
	pa, pb := pz.Packetize(annexB(a), 3000), pz.Packetize(annexB(b), 3000)
	now := time.Unix(3000, 0)
	for _, p := range pa {
		rec.handle(p, now)
	}
	rec.handle(pb[0], now)
	rec.handle(pa[0], now) // a late duplicate of a's start fragment
	rec.handle(pb[1], now)
	rec.handle(pb[2], now)
	require.Equal(t, map[[sha1.Size]byte]struct{}{sha1.Sum(a): {}}, rec.slices,
		"b lost its reassembly to the duplicate; nothing bogus is hashed")
}
