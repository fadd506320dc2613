package hls

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/demux/ts"
	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// fixtureFiles serves the fixtures of testdata (gen.sh) from memory under
// http://fix/.
func fixtureFiles(t testing.TB) memFetcher {
	files := memFetcher{}
	for _, dir := range []string{"ts", "fmp4", "alt_ts", "alt_fmp4"} {
		ents, err := os.ReadDir(filepath.Join("testdata", dir))
		require.NoError(t, err)
		for _, e := range ents {
			files["http://fix/"+dir+"/"+e.Name()] = demuxtest.ReadTestdata(t, filepath.Join(dir, e.Name()))
		}
	}
	return files
}

// runPlaylist plays a playlist at http://fix/<dir>/x.m3u8 against the fixtures,
// with refreshes and retries cut short.
func runPlaylist(t testing.TB, files memFetcher, dir, body string) (*demuxed, error) {
	r := &demuxed{}
	d := r.collect(&Demuxer{URL: "http://fix/" + dir + "/x.m3u8", Fetcher: files, MaxRetries: -1, RefreshInterval: time.Microsecond})
	require.NoError(t, d.Initialize())
	files["http://fix/"+dir+"/x.m3u8"] = []byte(body)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := d.Run(ctx, strings.NewReader(body))
	r.stats = d.Stats()
	return r, err
}

// FuzzPlaylist plays fuzzed playlists (master and media, VOD and live)
// against the real segments of testdata, seeded with the playlists of
// testdata and of the tests.
func FuzzPlaylist(f *testing.F) {
	for _, p := range []string{"ts/master.m3u8", "ts/v0.m3u8", "fmp4/index.m3u8"} {
		f.Add(string(demuxtest.ReadTestdata(f, p)))
	}
	f.Add(livePlaylist([]string{"v1_0.ts", "v1_1.ts"}, 2)(0))
	f.Add("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nv1_0.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:1,\nv1_1.ts\n#EXT-X-ENDLIST\n")
	f.Add("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"mp4a.40.2\"\nv1.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=90000,RESOLUTION=1x1\nv0.m3u8\n")
	// Limits of scanPlaylist: a URI attribute one byte over MaxURILength,
	// variants and segments in one playlist.
	f.Add("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:URI=\"" + strings.Repeat("u", MaxURILength+1) + "\"\n#EXTINF:1,\nv1_0.ts\n#EXT-X-ENDLIST\n")
	f.Add("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv1.m3u8\n#EXTINF:1,\nv1_0.ts\n")
	// Alternative audio: a variant whose audio is in a rendition playlist
	// of its own, TS and fMP4 (testdata/alt_*), and a group with two.
	for _, dir := range []string{"alt_ts", "alt_fmp4"} {
		f.Add("#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",DEFAULT=YES,URI=\"../" + dir + "/a.m3u8\"\n" +
			"#EXT-X-STREAM-INF:BANDWIDTH=145200,RESOLUTION=320x180,AUDIO=\"a\"\n../" + dir + "/v.m3u8\n")
	}
	f.Add("#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",AUTOSELECT=YES,URI=\"../alt_ts/a.m3u8\"\n" +
		"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"fr\",URI=\"x.m3u8\"\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\nv0.m3u8\n")
	files := fixtureFiles(f)
	f.Fuzz(func(t *testing.T, body string) {
		if len(body) > 1<<14 {
			return
		}
		r, err := runPlaylist(t, files.clone(), "ts", body)
		if err != nil {
			var fe *FetchError
			require.True(t, errors.As(err, &fe) || demux.IsInputError(err) || errors.Is(err, ErrUnsupported) ||
				errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "has not grown"),
				"unexpected error: %v", err)
		}
		checkFrames(t, r)
	})
}

// FuzzDemuxer plays a VOD playlist whose second segment is fuzzed, seeded
// with the start of the real segments.
func FuzzDemuxer(f *testing.F) {
	files := fixtureFiles(f)
	for _, n := range []string{"ts/v1_1.ts", "ts/v0_2.ts"} {
		b := files["http://fix/"+n]
		f.Add(b[:min(len(b), 48*ts.PacketSize)])
	}
	const pl = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nv1_0.ts\n#EXTINF:1,\nfuzz.ts\n#EXT-X-ENDLIST\n"
	first, err := runPlaylist(f, files.clone(), "ts", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nv1_0.ts\n#EXT-X-ENDLIST\n")
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, seg []byte) {
		fs := files.clone()
		fs["http://fix/ts/fuzz.ts"] = seg
		r, err := runPlaylist(t, fs, "ts", pl)
		if err != nil {
			require.True(t, errors.Is(err, ErrUnsupported) || demux.IsInputError(err), "unexpected error: %v", err)
		}
		checkFrames(t, r)
		require.GreaterOrEqual(t, len(r.Frames), len(first.Frames), "the first segment played")
	})
}

func checkFrames(t *testing.T, r *demuxed) {
	announced := map[*media.Track]bool{}
	for _, tr := range r.Tracks {
		announced[tr] = true
	}
	for i, f := range r.Frames {
		require.True(t, announced[f.Track], "frame %d before its track", i)
		require.NotEmpty(t, f.Data)
	}
}

func (m memFetcher) clone() memFetcher {
	c := make(memFetcher, len(m)+1)
	for k, v := range m {
		c[k] = v
	}
	return c
}

// FuzzTimelineParsers feeds the box and PES walkers that place rendition
// segments on the timeline (initTracks, fragmentStart, pesTimes) with
// fuzzed bytes, seeded with the fixtures' init sections and segments:
// they must not panic or read out of bounds.
func FuzzTimelineParsers(f *testing.F) {
	for _, n := range []string{"alt_fmp4/v_init.mp4", "alt_fmp4/a_init.mp4", "alt_fmp4/a_0.m4s", "alt_ts/a_0.ts"} {
		b := demuxtest.ReadTestdata(f, n)
		f.Add(b[:min(len(b), 4096)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tracks := initTracks(b)
		tracks[1] = trackTime{scale: 90000, shift: 3}
		fragmentStart(b, tracks, map[int]bool{1: true, 2: true})
		pesTimes(b, map[int]bool{256: true, 257: true})
	})
}
