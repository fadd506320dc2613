package mp4

import (
	"bytes"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/h265"
	"github.com/tributary-ingress/tributary/media"
)

var update = flag.Bool("update", false, "rewrite the golden dumps in testdata/golden")

// demuxed is everything a Demuxer emitted for one input.
type demuxed struct {
	tracks []*media.Track
	frames []*media.Frame
}

func (r *demuxed) track(k media.Kind) *media.Track {
	for _, t := range r.tracks {
		if t.Kind == k {
			return t
		}
	}
	return nil
}

func (r *demuxed) of(t *media.Track) []*media.Frame {
	var out []*media.Frame
	for _, f := range r.frames {
		if f.Track == t {
			out = append(out, f)
		}
	}
	return out
}

func newDemuxer(r *demuxed) *Demuxer {
	return &Demuxer{
		OnTrack: func(t *media.Track) error {
			for _, o := range r.tracks {
				if o == t {
					return fmt.Errorf("track %d announced twice", t.ID)
				}
			}
			r.tracks = append(r.tracks, t)
			return nil
		},
		OnFrame: func(f *media.Frame) error {
			found := false
			for _, t := range r.tracks {
				found = found || t == f.Track
			}
			if !found {
				return fmt.Errorf("frame of track %d before OnTrack", f.Track.ID)
			}
			r.frames = append(r.frames, f)
			return nil
		},
	}
}

// demuxBytes runs Run over a whole file in memory.
func demuxBytes(data []byte) (*demuxed, error) {
	r := &demuxed{}
	d := newDemuxer(r)
	if err := d.Initialize(); err != nil {
		return r, err
	}
	return r, d.Run(context.Background(), bytes.NewReader(data), int64(len(data)))
}

// demuxStream runs RunFragmented over a whole file in memory.
func demuxStream(data []byte) (*demuxed, error) {
	r := &demuxed{}
	d := newDemuxer(r)
	if err := d.Initialize(); err != nil {
		return r, err
	}
	return r, d.RunFragmented(context.Background(), bytes.NewReader(data))
}

// dump renders a golden text trace of tracks and frames.
func (r *demuxed) dump() string {
	var b strings.Builder
	for _, t := range r.tracks {
		fmt.Fprintf(&b, "track id=%d %s %s clock=%d size=%dx%d rate=%d channels=%d config=%x\n",
			t.ID, t.Kind, t.Codec, t.ClockRate, t.Width, t.Height, t.SampleRate, t.Channels, t.Config)
	}
	for _, f := range r.frames {
		key := "-"
		if f.Key {
			key = "K"
		}
		fmt.Fprintf(&b, "%d %s dts=%d pts=%d %s", f.Track.ID, f.Track.Codec, f.DTS, f.PTS, key)
		for _, u := range f.Data {
			switch f.Track.Codec {
			case media.CodecH264:
				fmt.Fprintf(&b, " %d:%d", h264.Type(u), len(u))
			case media.CodecH265:
				fmt.Fprintf(&b, " %d:%d", h265.Type(u), len(u))
			default:
				fmt.Fprintf(&b, " %d", len(u))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create the golden file")
	require.Equal(t, string(want), got)
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// probePacket is one line of ffprobe -show_packets (testdata/gen.sh).
type probePacket struct {
	stream   int
	pts, dts int64
	size     int
	key      bool
}

// probe is ffprobe's view of a file: stream time bases and packets.
type probe struct {
	timebase map[int]int64 // denominator of 1/N
	packets  []probePacket
}

func readProbe(t testing.TB, name string) *probe {
	t.Helper()
	cr := csv.NewReader(bytes.NewReader(readTestdata(t, name+".packets.csv")))
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	require.NoError(t, err)
	p := &probe{timebase: map[int]int64{}}
	atoi := func(s string) int64 {
		v, err := strconv.ParseInt(s, 10, 64)
		require.NoError(t, err, s)
		return v
	}
	for _, rec := range recs {
		switch {
		case rec[0] == "stream":
			den := strings.TrimPrefix(rec[2], "1/")
			p.timebase[int(atoi(rec[1]))] = atoi(den)
		case len(rec) >= 5:
			p.packets = append(p.packets, probePacket{
				stream: int(atoi(rec[0])), pts: atoi(rec[1]), dts: atoi(rec[2]),
				size: int(atoi(rec[3])), key: strings.HasPrefix(rec[4], "K"),
			})
		}
	}
	return p
}
