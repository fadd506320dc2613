package hls

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/demux/ts"
	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// httpFetcher is the Fetcher of the tests: net/http against the test
// server (ingest/url has the production one).
type httpFetcher struct{ c *http.Client }

func (f httpFetcher) Get(ctx context.Context, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.c.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		resp.Body.Close()
		return nil, &StatusError{Code: resp.StatusCode}
	}
	return resp.Body, nil
}

// server serves testdata/ and the playlists of the test cases.
type server struct {
	*httptest.Server
	mu        sync.Mutex
	playlists map[string]func(n int) string
	hits      map[string]int
}

func newServer(t *testing.T) *server {
	s := &server{playlists: map[string]func(int) string{}, hits: map[string]int{}}
	files := http.FileServer(http.Dir("testdata"))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		n := s.hits[r.URL.Path]
		s.hits[r.URL.Path]++
		gen := s.playlists[r.URL.Path]
		s.mu.Unlock()
		if gen != nil {
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			io.WriteString(w, gen(n))
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) static(path, body string) {
	s.playlists[path] = func(int) string { return body }
}

// demuxed is everything a Demuxer emitted.
type demuxed struct {
	demuxtest.Collector
	variants []Variant
	stats    Stats
}

// collect sets the callbacks of d to collect into r.
func (r *demuxed) collect(d *Demuxer) *Demuxer {
	d.OnVariant = func(v Variant) error { r.variants = append(r.variants, v); return nil }
	d.OnTrack = r.OnTrack
	d.OnFrame = r.OnFrame
	return d
}

func newDemuxer(s *server, path string, r *demuxed) *Demuxer {
	return r.collect(&Demuxer{URL: s.URL + path, Fetcher: httpFetcher{s.Client()}, RetryDelay: time.Millisecond})
}

// play fetches the first playlist and runs d on it.
func play(t *testing.T, d *Demuxer, r *demuxed) error {
	t.Helper()
	require.NoError(t, d.Initialize())
	body, err := d.Fetcher.Get(t.Context(), d.URL)
	require.NoError(t, err)
	defer body.Close()
	err = d.Run(t.Context(), body)
	r.stats = d.Stats()
	return err
}

// Dump renders the golden text dump of r.
func (r *demuxed) Dump() string {
	var b strings.Builder
	for _, v := range r.variants {
		fmt.Fprintf(&b, "variant %s bandwidth=%d resolution=%s codecs=%s\n", v.URL[strings.LastIndex(v.URL, "/")+1:], v.Bandwidth, v.Resolution, v.Codecs)
	}
	for _, t := range r.Tracks {
		demuxtest.WriteTrack(&b, t, demuxtest.ConfigHex)
	}
	for _, f := range r.Frames {
		demuxtest.WriteFrame(&b, f, demuxtest.LabelKindID)
	}
	s := r.stats
	fmt.Fprintf(&b, "stats segments=%d playlists=%d retries=%d discontinuities=%d skipped=%d\n",
		s.Segments, s.PlaylistFetches, s.Retries, s.Discontinuities, s.SkippedSegments)
	return b.String()
}

// checkMonotonic checks that every track's DTS increases and that each
// track's first frame is announced.
func checkMonotonic(t *testing.T, r *demuxed) {
	t.Helper()
	last := map[int]int64{}
	for i, f := range r.Frames {
		if prev, ok := last[f.Track.ID]; ok {
			require.Greater(t, f.DTS, prev, "frame %d (track %d): DTS goes back", i, f.Track.ID)
		}
		last[f.Track.ID] = f.DTS
	}
}

// ffprobeCounts returns the number of video and audio packets ffprobe
// reads from a playlist in testdata.
func ffprobeCounts(t *testing.T, playlist string) (video, audio int) {
	t.Helper()
	for _, rec := range demuxtest.FFprobe(t, playlist, "", "packet=codec_type") {
		switch rec[0] {
		case "video":
			video++
		case "audio":
			audio++
		}
	}
	return video, audio
}

// cases are the VOD presentations of testdata/gen.sh.
var cases = []struct {
	name, path   string
	maxBandwidth int
	// probe is the media playlist ffprobe counts the frames of.
	probe         string
	width, height int
}{
	{"ts_master_highest", "/ts/master.m3u8", 0, "ts/v0.m3u8", 320, 180},
	{"ts_master_max_150k", "/ts/master.m3u8", 150000, "ts/v1.m3u8", 160, 90},
	{"fmp4", "/fmp4/index.m3u8", 0, "fmp4/index.m3u8", 320, 180},
}

func TestVOD(t *testing.T) {
	for _, ca := range cases {
		t.Run(ca.name, func(t *testing.T) {
			s := newServer(t)
			r := &demuxed{}
			d := newDemuxer(s, ca.path, r)
			d.MaxBandwidth = ca.maxBandwidth
			require.NoError(t, play(t, d, r))
			demuxtest.CheckGolden(t, ca.name, r.Dump())
			checkMonotonic(t, r)

			// The checks every demuxer's file cases get (RunFileCases):
			// the tracks, frame counts (ffprobe's, over the presentation's
			// media playlist), a keyframe first, reordering (gen.sh encodes
			// with 2 B-frames), DTS never going back.
			v, a := ffprobeCounts(t, ca.probe)
			demuxtest.CheckTracks(t, r.Collected(), []demuxtest.Track{
				demuxtest.Video(media.CodecH264, ca.width, ca.height, v, true),
				demuxtest.Audio(media.CodecAAC, 48000, 1, a),
			})
			video, audio := r.KindFrames(media.KindVideo), r.KindFrames(media.KindAudio)
			require.Zero(t, min(video[0].DTS, audio[0].DTS))
		})
	}
}

// livePlaylist returns a sliding live playlist over the segments of
// ts/v1.m3u8 that grows by one segment per request, and ends with
// EXT-X-ENDLIST once all are in.
func livePlaylist(segs []string, window int) func(n int) string {
	return func(n int) string {
		last := min(n, len(segs)-1)
		first := max(0, last-window+1)
		var b strings.Builder
		fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:%d\n", first)
		for i := first; i <= last; i++ {
			fmt.Fprintf(&b, "#EXTINF:1.0,\n%s\n", segs[i])
		}
		if n >= len(segs) {
			b.WriteString("#EXT-X-ENDLIST\n")
		}
		return b.String()
	}
}

func TestLive(t *testing.T) {
	s := newServer(t)
	segs := []string{"ts/v1_0.ts", "ts/v1_1.ts", "ts/v1_2.ts"}
	s.playlists["/live.m3u8"] = livePlaylist(segs, 2)
	r := &demuxed{}
	d := newDemuxer(s, "/live.m3u8", r)
	d.RefreshInterval = 20 * time.Millisecond
	require.NoError(t, play(t, d, r))

	// Same frames as the VOD playlist of the same segments.
	vod := &demuxed{}
	require.NoError(t, play(t, newDemuxer(s, "/ts/v1.m3u8", vod), vod))
	require.Equal(t, len(vod.Frames), len(r.Frames))
	for i := range vod.Frames {
		require.Equal(t, vod.Frames[i].DTS, r.Frames[i].DTS, "frame %d", i)
		require.Equal(t, vod.Frames[i].PTS, r.Frames[i].PTS, "frame %d", i)
	}
	require.Equal(t, uint64(3), r.stats.Segments)
	require.Equal(t, uint64(3), r.stats.PlaylistFetches, "refreshes until ENDLIST")
	require.Zero(t, r.stats.SkippedSegments)
}

// TestLiveCancel stops a live playlist that never ends through ctx.
func TestLiveCancel(t *testing.T) {
	s := newServer(t)
	segs := []string{"ts/v1_0.ts"}
	s.playlists["/stuck.m3u8"] = func(int) string { return livePlaylist(segs, 2)(0) }
	r := &demuxed{}
	d := newDemuxer(s, "/stuck.m3u8", r)
	d.RefreshInterval = 10 * time.Millisecond
	require.NoError(t, d.Initialize())
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	body, err := d.Fetcher.Get(ctx, d.URL)
	require.NoError(t, err)
	defer body.Close()
	require.ErrorIs(t, d.Run(ctx, body), context.DeadlineExceeded)
	require.NotEmpty(t, r.Frames)
}

func TestSegment404(t *testing.T) {
	s := newServer(t)
	s.static("/404.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nts/v1_0.ts\n#EXTINF:1,\nts/missing.ts\n#EXT-X-ENDLIST\n")
	r := &demuxed{}
	d := newDemuxer(s, "/404.m3u8", r)
	d.MaxRetries = 2
	err := play(t, d, r)
	var fe *FetchError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "HTTP 404 fetching segment "+s.URL+"/ts/missing.ts", err.Error())
	require.Equal(t, uint64(2), r.stats.Retries)
	require.NotEmpty(t, r.Frames, "the first segment played")
}

func TestDiscontinuityTS(t *testing.T) {
	s := newServer(t)
	s.static("/disc.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:VOD\n"+
		"#EXTINF:1,\nts/v1_0.ts\n#EXTINF:1,\nts/v1_1.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:1,\nts/v1_0.ts\n#EXTINF:1,\nts/v1_1.ts\n#EXT-X-ENDLIST\n")
	r := &demuxed{}
	require.NoError(t, play(t, newDemuxer(s, "/disc.m3u8", r), r))
	checkMonotonic(t, r)
	require.Equal(t, uint64(1), r.stats.Discontinuities)
	video := r.KindFrames(media.KindVideo)
	require.Len(t, video, 120)
	// The second half is the first, moved behind it.
	shift := video[60].DTS - video[0].DTS
	require.InDelta(t, 2*90000, shift, 6000)
	for i := range 60 {
		require.Equal(t, video[i].DTS+shift, video[60+i].DTS)
	}
}

func TestDiscontinuityFMP4(t *testing.T) {
	s := newServer(t)
	s.static("/fdisc.m3u8", "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:URI=\"fmp4/init.mp4\"\n"+
		"#EXTINF:1,\nfmp4/seg0.m4s\n#EXTINF:1,\nfmp4/seg1.m4s\n#EXT-X-DISCONTINUITY\n#EXTINF:1,\nfmp4/seg0.m4s\n#EXT-X-ENDLIST\n")
	r := &demuxed{}
	require.NoError(t, play(t, newDemuxer(s, "/fdisc.m3u8", r), r))
	checkMonotonic(t, r)
	require.Equal(t, uint64(3), r.stats.Segments)
	require.Equal(t, uint64(1), r.stats.Discontinuities)
	video := r.KindFrames(media.KindVideo)
	require.Len(t, video, 90)
	require.Greater(t, video[60].DTS, video[59].DTS)
	require.Less(t, video[60].DTS-video[59].DTS, int64(90000/5))
}

func TestSCTE35InSegment(t *testing.T) {
	// The SCTE-35 stream of demux/ts's tests is exercised there; here the
	// callback is wired through.
	d := &Demuxer{Fetcher: httpFetcher{http.DefaultClient}, OnTrack: func(*media.Track) error { return nil },
		OnFrame: func(*media.Frame) error { return nil }, OnSCTE35: func(ts.SpliceInsert) error { return nil }}
	require.NoError(t, d.Initialize())
	require.NotNil(t, d.ts.OnSCTE35)
}

func TestErrors(t *testing.T) {
	s := newServer(t)
	s.static("/enc.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n#EXTINF:1,\nts/v1_0.ts\n#EXT-X-ENDLIST\n")
	s.static("/empty_master.m3u8", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1x1\n")
	s.static("/text.m3u8", "hello world\n")
	s.static("/notts.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nts/v1.m3u8\n#EXT-X-ENDLIST\n")
	for path, want := range map[string]error{
		"/enc.m3u8":          ErrUnsupported,
		"/empty_master.m3u8": demux.ErrMalformed,
		"/text.m3u8":         demux.ErrMalformed,
		"/notts.m3u8":        ErrUnsupported,
	} {
		r := &demuxed{}
		require.ErrorIs(t, play(t, newDemuxer(s, path, r), r), want, path)
	}
	r := &demuxed{}
	d := newDemuxer(s, "/nothere.m3u8", r)
	d.MaxRetries = -1
	require.NoError(t, d.Initialize())
	require.EqualError(t, d.Run(t.Context(), strings.NewReader("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=5\nv9.m3u8\n")),
		"HTTP 404 fetching playlist "+s.URL+"/v9.m3u8")
}

func TestChooseVariant(t *testing.T) {
	master := "#EXTM3U\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"mp4a.40.2\"\naudio.m3u8\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.4d401e,mp4a.40.2\"\nmid.m3u8\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS=\"avc1.4d401f,mp4a.40.2\"\nhigh.m3u8\n" +
		"#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=9000000,URI=\"iframes.m3u8\"\n"
	pl, err := parsePlaylist(strings.NewReader(master))
	require.NoError(t, err)
	for _, c := range []struct {
		max       int
		audioOnly bool
		want      string
	}{
		{0, false, "high.m3u8"},
		{1000000, false, "mid.m3u8"},
		{100, false, "mid.m3u8"}, // nothing fits: the lowest
		{0, true, "audio.m3u8"},
	} {
		require.Equal(t, c.want, chooseVariant(pl.master, c.max, c.audioOnly).URI, "%+v", c)
	}
	only, err := parsePlaylist(strings.NewReader("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"mp4a.40.2\"\na.m3u8\n"))
	require.NoError(t, err)
	require.Equal(t, "a.m3u8", chooseVariant(only.master, 0, false).URI)
}

// TestAudioRenditions: a variant whose AUDIO group has renditions with
// their own playlists is told apart from one with muxed audio.
func TestAudioRenditions(t *testing.T) {
	master := "#EXTM3U\n" +
		"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",DEFAULT=YES,URI=\"audio_en.m3u8\"\n" +
		"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"fr\",URI=\"audio_fr.m3u8\"\n" +
		"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"muxed\",NAME=\"main\",DEFAULT=YES\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.4d401e,mp4a.40.2\",AUDIO=\"aud\"\nsep.m3u8\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=700000,RESOLUTION=640x360,CODECS=\"avc1.4d401e,mp4a.40.2\",AUDIO=\"muxed\"\nmux.m3u8\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=600000,RESOLUTION=640x360,CODECS=\"avc1.4d401e,mp4a.40.2\"\nplain.m3u8\n"
	pl, err := parsePlaylist(strings.NewReader(master))
	require.NoError(t, err)
	got := map[string]int{}
	for _, v := range pl.master.Variants {
		got[v.URI] = audioRenditions(pl.master, v)
	}
	require.Equal(t, map[string]int{"sep.m3u8": 2, "mux.m3u8": 0, "plain.m3u8": 0}, got)
}

// BenchmarkVODSegments measures the per-frame path of TS segments: fetch
// from memory, TS demux, frame hand-off.
func BenchmarkVODSegments(b *testing.B) {
	files := map[string][]byte{}
	for _, n := range []string{"ts/v0.m3u8", "ts/v0_0.ts", "ts/v0_1.ts", "ts/v0_2.ts"} {
		files["http://fix/"+n] = demuxtest.ReadTestdata(b, n)
	}
	b.ReportAllocs()
	for b.Loop() {
		d := &Demuxer{URL: "http://fix/ts/v0.m3u8", Fetcher: memFetcher(files),
			OnTrack: func(*media.Track) error { return nil }, OnFrame: func(*media.Frame) error { return nil }}
		if err := d.Initialize(); err != nil {
			b.Fatal(err)
		}
		if err := d.Run(context.Background(), bytes.NewReader(files["http://fix/ts/v0.m3u8"])); err != nil {
			b.Fatal(err)
		}
	}
}

type memFetcher map[string][]byte

func (m memFetcher) Get(_ context.Context, url string) (io.ReadCloser, error) {
	b, ok := m[url]
	if !ok {
		return nil, &StatusError{Code: http.StatusNotFound}
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// TestLiveStart joins a live playlist of five segments: playback starts
// LiveStartSegments from the live edge (RFC 8216, section 6.3.3), and a
// refresh that slid past unfetched segments counts them as skipped.
func TestLiveStart(t *testing.T) {
	s := newServer(t)
	segs := []string{"ts/v1_0.ts", "ts/v1_1.ts", "ts/v1_2.ts", "ts/v1_0.ts", "ts/v1_1.ts"}
	s.playlists["/join.m3u8"] = func(n int) string {
		b := "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:10\n"
		for _, u := range segs {
			b += "#EXTINF:1,\n" + u + "\n"
		}
		if n > 0 {
			b += "#EXT-X-ENDLIST\n"
		}
		return b
	}
	r := &demuxed{}
	d := newDemuxer(s, "/join.m3u8", r)
	d.RefreshInterval = time.Millisecond
	require.NoError(t, play(t, d, r))
	require.Equal(t, uint64(LiveStartSegments), r.stats.Segments)
	require.Zero(t, r.stats.SkippedSegments)

	s.playlists["/slide.m3u8"] = func(n int) string {
		return fmt.Sprintf("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:%d\n#EXTINF:1,\nts/v1_%d.ts\n%s",
			n*2, n, map[bool]string{true: "#EXT-X-ENDLIST\n"}[n == 2])
	}
	r = &demuxed{}
	d = newDemuxer(s, "/slide.m3u8", r)
	d.RefreshInterval = time.Millisecond
	require.NoError(t, play(t, d, r))
	require.Equal(t, uint64(3), r.stats.Segments)
	require.Equal(t, uint64(2), r.stats.SkippedSegments, "sequence numbers 1 and 3 were never seen")
}
