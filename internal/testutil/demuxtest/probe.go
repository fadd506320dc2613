package demuxtest

import (
	"bytes"
	"encoding/csv"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil"
)

// Packet is one packet of an ffprobe packet list. Fields whose column the
// list does not have are zero.
type Packet struct {
	Stream   int
	PTS, DTS int64
	Duration int64
	Size     int
	Key      bool
}

// Probe is ffprobe's view of a file: stream time bases and packets.
type Probe struct {
	Timebase map[int]int64 // stream index: N of the time base 1/N
	Packets  []Packet
}

// ReadProbe reads testdata/<file>.packets.csv as the gen.sh scripts write
// it: lines "stream,<index>,1/<N>", then one line per packet whose
// columns, in the order ffprobe prints them, are named by columns among
// stream_index, pts, dts, duration, size and flags (K: keyframe). Lines
// with fewer fields than columns are skipped.
func ReadProbe(t testing.TB, file string, columns ...string) *Probe {
	t.Helper()
	cr := csv.NewReader(bytes.NewReader(ReadTestdata(t, file+".packets.csv")))
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	require.NoError(t, err)
	atoi := func(s string) int64 {
		v, err := strconv.ParseInt(s, 10, 64)
		require.NoError(t, err, s)
		return v
	}
	p := &Probe{Timebase: map[int]int64{}}
	for _, rec := range recs {
		switch {
		case rec[0] == "stream":
			p.Timebase[int(atoi(rec[1]))] = atoi(strings.TrimPrefix(rec[2], "1/"))
		case len(rec) >= len(columns):
			var pk Packet
			for i, c := range columns {
				switch c {
				case "stream_index":
					pk.Stream = int(atoi(rec[i]))
				case "pts":
					pk.PTS = atoi(rec[i])
				case "dts":
					pk.DTS = atoi(rec[i])
				case "duration":
					pk.Duration = atoi(rec[i])
				case "size":
					pk.Size = int(atoi(rec[i]))
				case "flags":
					pk.Key = strings.HasPrefix(rec[i], "K")
				default:
					t.Fatalf("unknown ffprobe column %q", c)
				}
			}
			p.Packets = append(p.Packets, pk)
		}
	}
	return p
}

// FFprobe runs ffprobe on testdata/<file> and returns one record per
// packet: the comma-separated values of entries (for example
// "packet=pts,dts") of the streams sel selects (-select_streams; all when
// sel is ""). Blank and side data lines are left out. A missing ffprobe
// skips the test, or fails it under testutil.RequiredEnv.
func FFprobe(t testing.TB, file, sel, entries string) [][]string {
	t.Helper()
	bin := testutil.RequireTool(t, "", "", "run scripts/install-system-deps.sh", "ffprobe")
	args := []string{"-v", "error"}
	if sel != "" {
		args = append(args, "-select_streams", sel)
	}
	args = append(args, "-show_entries", entries, "-of", "csv=p=0", filepath.Join("testdata", file))
	out, err := exec.Command(bin, args...).Output()
	require.NoError(t, err)
	var recs [][]string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(strings.TrimSpace(line), ",")
		if f[0] == "" || f[0] == "side_data" {
			continue
		}
		recs = append(recs, f)
	}
	return recs
}
