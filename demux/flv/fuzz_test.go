package flv

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// fuzzSeedSize bounds the seeds. The fuzzer minimizes every input that
// finds new coverage, and minimizing the 50 KB files kept both workers busy
// for the whole run; small seeds let it explore.
const fuzzSeedSize = 4 * 1024

// shrinkAVCC keeps the first keep bytes of every length-prefixed NAL unit.
func shrinkAVCC(au []byte, keep int) []byte {
	var out []byte
	for len(au) >= 4 {
		n := int(be32(au))
		if n > len(au)-4 {
			return nil
		}
		u := au[4 : 4+min(n, keep)]
		out = append(out, byte(len(u)>>24), byte(len(u)>>16), byte(len(u)>>8), byte(len(u)))
		out = append(out, u...)
		au = au[4+n:]
	}
	return out
}

// shrinkTag returns a tag body with the same structure and headers but
// short payloads: NAL units keep their header and first bytes, other
// frames their first bytes. Packet layouts it does not know stay as they
// are.
func shrinkTag(typ uint8, body []byte) []byte {
	const keep = 24
	switch {
	case typ == tagTypeAudio && len(body) > 64:
		return body[:64]
	case typ != tagTypeVideo || len(body) < 5:
		return body
	case body[0]&0x80 == 0 && body[1] == avcPacketNALU:
		return append(append([]byte(nil), body[:5]...), shrinkAVCC(body[5:], keep)...)
	case body[0]&0x80 == 0:
		return body
	}
	pt, fcc := body[0]&0x0f, be32(body[1:])
	switch {
	case pt == videoPacketCodedFrames && (fcc == fourCCHEVC || fcc == fourCCAVC) && len(body) >= 8:
		return append(append([]byte(nil), body[:8]...), shrinkAVCC(body[8:], keep)...)
	case pt == videoPacketCodedFramesX && (fcc == fourCCHEVC || fcc == fourCCAVC):
		return append(append([]byte(nil), body[:5]...), shrinkAVCC(body[5:], keep)...)
	case (pt == videoPacketCodedFrames || pt == videoPacketCodedFramesX) && len(body) > 64:
		return body[:64]
	}
	return body
}

// fuzzSeed shrinks every tag of an FLV stream and keeps what fits in
// fuzzSeedSize.
func fuzzSeed(in []byte) []byte {
	out := append([]byte(nil), in[:13]...)
	for p := 13; p+11 <= len(in); {
		n := int(in[p+1])<<16 | int(in[p+2])<<8 | int(in[p+3])
		if p+11+n > len(in) {
			break
		}
		body := shrinkTag(in[p]&0x1f, in[p+11:p+11+n])
		if len(out)+11+len(body)+4 > fuzzSeedSize {
			break
		}
		m := len(body)
		out = append(out, in[p], byte(m>>16), byte(m>>8), byte(m))
		out = append(out, in[p+4:p+11]...)
		out = append(out, body...)
		out = append(out, byte((11+m)>>24), byte((11+m)>>16), byte((11+m)>>8), byte(11+m))
		p += 11 + n + 4
	}
	return out
}

// FuzzDemuxer feeds whole FLV streams through Reader and Demuxer, seeded
// with every case of the table (real encoder output and the Enhanced RTMP
// streams built from it), shrunk by fuzzSeed.
func FuzzDemuxer(f *testing.F) {
	demuxtest.SeedFuzz(f, cases, fuzzSeed)
	f.Fuzz(func(t *testing.T, in []byte) {
		r := demuxtest.FuzzOne(t, in, demuxBytes)
		for _, tr := range r.Tracks {
			switch tr.Kind {
			case media.KindVideo:
				require.Equal(t, VideoTrackID, tr.ID)
				require.Equal(t, VideoClockRate, tr.ClockRate)
				require.GreaterOrEqual(t, tr.Width, 0)
				require.LessOrEqual(t, tr.Width, 16384)
				require.LessOrEqual(t, tr.Height, 16384)
			case media.KindAudio:
				require.Equal(t, AudioTrackID, tr.ID)
				require.Positive(t, tr.ClockRate)
			default:
				t.Fatalf("track of kind %v", tr.Kind)
			}
			require.Equal(t, tr.Kind, tr.Codec.Kind())
		}
		var lastMs int64
		for i, fr := range r.Frames {
			require.NotEmpty(t, fr.Data, "frame %d", i)
			size := 0
			for _, u := range fr.Data {
				require.NotEmpty(t, u, "frame %d", i)
				size += len(u)
			}
			require.LessOrEqual(t, size, MaxTagSize)
			// PTS = DTS + a signed 24-bit ms composition offset.
			require.LessOrEqual(t, fr.PTS-fr.DTS, int64(1<<23)*90)
			require.GreaterOrEqual(t, fr.PTS-fr.DTS, -int64(1<<23)*90)
			ms := media.Rescale(fr.DTS, fr.Track.ClockRate, 1000)
			if i > 0 {
				// Jumps beyond MaxTimestampJump are removed (+1 ms rounding).
				require.LessOrEqual(t, ms-lastMs, int64(MaxTimestampJump+1), "frame %d", i)
				require.GreaterOrEqual(t, ms-lastMs, int64(-MaxTimestampJump-1), "frame %d", i)
			}
			lastMs = ms
			if fr.Track.Kind == media.KindAudio {
				require.True(t, fr.Key)
			}
		}
	})
}

// BenchmarkDemuxVideo measures WriteVideo for one H.264 access unit: the
// allocations are the frame's own (frame + NAL unit headers in one, the
// payload in the other).
func BenchmarkDemuxVideo(b *testing.B) {
	seq, frame := firstVideoTags(b, "h264_high_bf2_aac.flv")
	d := &Demuxer{
		OnTrack: demuxtest.DiscardTrack,
		OnFrame: demuxtest.DiscardFrame,
	}
	require.NoError(b, d.Initialize())
	require.NoError(b, d.WriteVideo(0, seq))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	ts := uint32(0)
	for b.Loop() {
		ts += 33
		if err := d.WriteVideo(ts, frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDemuxAudio measures WriteAudio for one AAC frame.
func BenchmarkDemuxAudio(b *testing.B) {
	d := &Demuxer{
		OnTrack: demuxtest.DiscardTrack,
		OnFrame: demuxtest.DiscardFrame,
	}
	require.NoError(b, d.Initialize())
	require.NoError(b, d.WriteAudio(0, []byte{0xaf, 0, 0x12, 0x10}))
	body := append([]byte{0xaf, 1}, make([]byte, 300)...)
	b.ReportAllocs()
	ts := uint32(0)
	for b.Loop() {
		ts += 23
		if err := d.WriteAudio(ts, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReader measures a whole file through Reader.
func BenchmarkReader(b *testing.B) {
	demuxtest.BenchmarkFile(b, "h264_high_bf2_aac.flv", func(in []byte) error {
		d := &Demuxer{OnTrack: demuxtest.DiscardTrack, OnFrame: demuxtest.DiscardFrame}
		r := &Reader{R: bytes.NewReader(in), Demuxer: d}
		if err := r.Initialize(); err != nil {
			return err
		}
		return r.ReadAll()
	})
}

// TestFuzzSeeds checks the shrunk seeds still demux without error and
// reach frames of both kinds, so the fuzzer starts from valid streams.
func TestFuzzSeeds(t *testing.T) {
	for _, ca := range cases {
		t.Run(ca.Name, func(t *testing.T) {
			seed := fuzzSeed(ca.Read(t))
			require.LessOrEqual(t, len(seed), fuzzSeedSize)
			r, err := demuxBytes(seed)
			require.NoError(t, err)
			require.NotEmpty(t, r.video())
			require.NotEmpty(t, r.audio())
		})
	}
}
