package hls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
)

// The bounds the tests of hostile playlists hold the demuxer to: the heap
// it keeps in use on top of what there was before, and the time it takes.
// A 4 MiB playlist is read twice (HTTP body, then parser) and the decoder
// takes about 160 bytes per segment: tens of MiB at most.
const (
	heapBound = 64 << 20
	timeBound = 5 * time.Second

	// heapCeiling ends the test binary when the heap passes it: the
	// demuxer cannot be stopped while it builds its queue, and a
	// regression must fail the test rather than use up the machine's
	// memory.
	heapCeiling = 1 << 30
)

// heapUse is what a call cost.
type heapUse struct {
	// peak is the highest HeapInuse above the one before the call,
	// sampled every millisecond and at the end.
	peak uint64
	// alloc is the TotalAlloc delta: everything allocated during the
	// call, by the test's HTTP server too.
	alloc uint64
	took  time.Duration
}

func (u heapUse) String() string {
	return fmt.Sprintf("heap in use +%d MiB at the peak, %d MiB allocated, %v", u.peak>>20, u.alloc>>20, u.took.Round(time.Millisecond))
}

// measure runs fn and samples the heap while it runs.
func measure(fn func()) heapUse {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var mu sync.Mutex
	var u heapUse
	start := time.Now()
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		defer mu.Unlock()
		if m.HeapInuse > before.HeapInuse {
			u.peak = max(u.peak, m.HeapInuse-before.HeapInuse)
		}
		u.alloc = m.TotalAlloc - before.TotalAlloc
		if u.peak > heapCeiling {
			panic(fmt.Sprintf("heap in use grew by %d MiB in %v, past %d MiB: stopping before the machine runs out of memory",
				u.peak>>20, time.Since(start).Round(time.Millisecond), heapCeiling>>20))
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				sample()
			}
		}
	})
	fn()
	took := time.Since(start)
	close(done)
	wg.Wait()
	sample()
	u.took = took
	return u
}

// requireBounded checks a heapUse against heapBound and timeBound.
func requireBounded(t *testing.T, u heapUse) {
	t.Helper()
	t.Log(u)
	require.Less(t, u.peak, uint64(heapBound), "heap in use: %v", u)
	require.Less(t, u.took, timeBound, "time: %v", u)
}

// segmentLines returns a media playlist header followed by as many
// one-byte segments ("#EXTINF:1,\na\n") as fit in size bytes.
func segmentLines(header string, size int) string {
	const seg = "#EXTINF:1,\na\n"
	return header + strings.Repeat(seg, (size-len(header))/len(seg))
}

// longDir returns a path of n bytes (ending in "/") under which a test
// server serves the playlists of a case.
func longDir(n int) string {
	return "/" + strings.Repeat("d", n-2) + "/"
}

// TestAmplifiedVariantURL plays the reported case: a master playlist
// whose variant has a 16 KiB path, and a 4 MiB media playlist of one-byte
// segment URIs, which resolved against that path would take gigabytes.
// The variant URI is refused before its playlist is fetched.
func TestAmplifiedVariantURL(t *testing.T) {
	s := newServer(t)
	dir := longDir(16 << 10)
	s.static("/master.m3u8", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n"+dir[1:]+"v.m3u8\n")
	s.static(dir+"v.m3u8", segmentLines("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:VOD\n", MaxPlaylistSize))
	r := &demuxed{}
	d := newDemuxer(s, "/master.m3u8", r)
	var err error
	u := measure(func() { err = play(t, d, r) })
	requireBounded(t, u)
	require.ErrorIs(t, err, demux.ErrMalformed)
	require.ErrorContains(t, err, fmt.Sprintf("longer than MaxURILength (%d bytes)", MaxURILength))
}

// TestAmplifiedSegmentCount: with a variant path within MaxURILength, the
// 4 MiB media playlist of one-byte segment URIs (322638 segments) is
// refused for its segment count.
func TestAmplifiedSegmentCount(t *testing.T) {
	s := newServer(t)
	dir := longDir(8000)
	s.static("/master.m3u8", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n"+dir[1:]+"v.m3u8\n")
	s.static(dir+"v.m3u8", segmentLines("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:VOD\n", MaxPlaylistSize))
	r := &demuxed{}
	d := newDemuxer(s, "/master.m3u8", r)
	var err error
	u := measure(func() { err = play(t, d, r) })
	requireBounded(t, u)
	require.ErrorIs(t, err, demux.ErrMalformed)
	require.ErrorContains(t, err, fmt.Sprintf("more than MaxSegments (%d)", MaxSegments))
}

// TestLazyResolution plays a media playlist of MaxSegments fMP4 segments
// under an EXT-X-MAP, 8000 bytes deep: the playlist is accepted, and the
// demuxer gets to its first segment (missing here) with a queue that
// holds the URIs as the playlist has them, not 2×65536 resolved URLs of
// 8 KB.
func TestLazyResolution(t *testing.T) {
	s := newServer(t)
	dir := longDir(8000)
	s.static(dir+"init.mp4", string(demuxtest.ReadTestdata(t, "fmp4/init.mp4")))
	const header = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init.mp4\"\n"
	s.static(dir+"v.m3u8", segmentLines(header, len(header)+MaxSegments*len("#EXTINF:1,\na\n")))
	r := &demuxed{}
	d := newDemuxer(s, dir+"v.m3u8", r)
	d.MaxRetries = -1
	var err error
	u := measure(func() { err = play(t, d, r) })
	requireBounded(t, u)
	var fe *FetchError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "segment", fe.What)
	require.Equal(t, s.URL+dir+"a", fe.URL)
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Equal(t, 1, s.hits[dir+"init.mp4"], "the initialization section is fetched once")
}

// TestEndlessPlaylist serves a media playlist whose body never ends, as
// the first playlist and as the variant of a master playlist: it is
// refused at MaxPlaylistSize.
func TestEndlessPlaylist(t *testing.T) {
	chunk := []byte(strings.Repeat("#EXTINF:1,\na\n", 5000))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/master.m3u8" {
			io.WriteString(w, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nendless.m3u8\n")
			return
		}
		io.WriteString(w, "#EXTM3U\n#EXT-X-TARGETDURATION:1\n")
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	for _, c := range []struct {
		path string
		want string
	}{
		{"/endless.m3u8", fmt.Sprintf("playlist larger than %d bytes", MaxPlaylistSize)},
		{"/master.m3u8", fmt.Sprintf("fetching playlist %s/endless.m3u8: larger than %d bytes", srv.URL, MaxPlaylistSize)},
	} {
		t.Run(c.path[1:], func(t *testing.T) {
			r := &demuxed{}
			d := r.collect(&Demuxer{URL: srv.URL + c.path, Fetcher: httpFetcher{srv.Client()}, MaxRetries: 1, RetryDelay: time.Millisecond})
			var err error
			u := measure(func() { err = play(t, d, r) })
			requireBounded(t, u)
			require.ErrorContains(t, err, c.want)
		})
	}
}

// liveFetcher serves a live playlist that slides by perRefresh new
// segments with every request, refreshes times, then ends (EXT-X-ENDLIST)
// with no new segment; and empty segments.
type liveFetcher struct {
	playlist   string
	perRefresh int
	refreshes  int

	mu       sync.Mutex
	requests int
}

func (f *liveFetcher) Get(_ context.Context, url string) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if url != f.playlist {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	n := min(f.requests, f.refreshes)
	f.requests++
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:%d\n", n*f.perRefresh)
	for range f.perRefresh {
		b.WriteString("#EXTINF:1,\ns.ts\n")
	}
	if f.requests > f.refreshes+1 {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return io.NopCloser(strings.NewReader(b.String())), nil
}

// TestLiveManySegmentsPerRefresh refreshes a live playlist, 8000 bytes
// deep, that slides by 20000 segments each time: each refresh queues only
// the newest MaxLiveQueuedSegments (the older are counted as skipped),
// kept as the playlist has them.
func TestLiveManySegmentsPerRefresh(t *testing.T) {
	const perRefresh, refreshes = 20000, 2
	f := &liveFetcher{playlist: "http://live.example" + longDir(8000) + "live.m3u8", perRefresh: perRefresh, refreshes: refreshes}
	r := &demuxed{}
	d := r.collect(&Demuxer{URL: f.playlist, Fetcher: f, RefreshInterval: time.Microsecond})
	require.NoError(t, d.Initialize())
	body, err := f.Get(t.Context(), f.playlist)
	require.NoError(t, err)
	u := measure(func() { err = d.Run(t.Context(), body) })
	requireBounded(t, u)
	require.NoError(t, err)
	st := d.Stats()
	require.Equal(t, uint64(LiveStartSegments+refreshes*MaxLiveQueuedSegments), st.Segments)
	require.Equal(t, uint64(refreshes*(perRefresh-MaxLiveQueuedSegments)), st.SkippedSegments)
}

// TestMasterPaddedWithBlankLines: a master playlist with a few variants
// and renditions, padded to 1 MiB with empty lines; m3u8.Decode links the
// renditions to the variants again after every line (16 links a line
// here, hundreds of MiB).
func TestMasterPaddedWithBlankLines(t *testing.T) {
	var b strings.Builder
	b.WriteString("#EXTM3U\n")
	for i := range 4 {
		fmt.Fprintf(&b, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"%d\",URI=\"a%d.m3u8\"\n", i, i)
	}
	for i := range 4 {
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,AUDIO=\"a\"\nv%d.m3u8\n", 1000+i, i)
	}
	body := b.String() + strings.Repeat("\n", 1<<20)
	var pl playlist
	var err error
	u := measure(func() { pl, err = parsePlaylist(strings.NewReader(body)) })
	requireBounded(t, u)
	require.NoError(t, err)
	require.Len(t, pl.master.Variants, 4)
	require.Equal(t, 4, audioRenditions(pl.master, pl.master.Variants[0]))
}

// TestPlaylistLimits: the playlists refused by MaxURILength, MaxSegments,
// MaxVariants and MaxRenditions, and the largest accepted.
func TestPlaylistLimits(t *testing.T) {
	long := strings.Repeat("u", MaxURILength)
	segs := func(n int, uri string) string {
		return "#EXTM3U\n#EXT-X-TARGETDURATION:1\n" + strings.Repeat("#EXTINF:1,\n"+uri+"\n", n) + "#EXT-X-ENDLIST\n"
	}
	variants := func(n int) string {
		return "#EXTM3U\n" + strings.Repeat("#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n", n)
	}
	renditions := func(n int) string {
		return variants(1) + strings.Repeat("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x\"\n", n)
	}
	for _, c := range []struct {
		name string
		body string
		err  string // "" when accepted
	}{
		{"segment URI at the limit", segs(1, long), ""},
		{"segment URI over the limit", segs(1, long+"u"), "line 4: URI of 8193 bytes, longer than MaxURILength (8192 bytes)"},
		{"map URI over the limit", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:URI=\"" + long + "u\"\n#EXTINF:1,\na\n",
			"URI attribute on line 3: URI of 8193 bytes"},
		{"unquoted map URI over the limit", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:URI=" + long + "u\n#EXTINF:1,\na\n",
			"URI attribute on line 3: URI of 8193 bytes"},
		{"variant URI over the limit", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n" + long + "u\n", "line 3: URI of 8193 bytes"},
		{"rendition URI over the limit", renditions(0) + "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x\",URI=\"" + long + "u\"\n",
			"URI attribute on line 4: URI of 8193 bytes"},
		{"segments at the limit", segs(MaxSegments, "a"), ""},
		{"segments over the limit", segs(MaxSegments+1, "a"), "media playlist has 65537 segments, more than MaxSegments (65536)"},
		{"variants at the limit", variants(MaxVariants), ""},
		{"variants over the limit", variants(MaxVariants + 1), "master playlist has 1025 variants, more than MaxVariants (1024)"},
		{"renditions at the limit", renditions(MaxRenditions), ""},
		{"renditions over the limit", renditions(MaxRenditions + 1), "master playlist has 1025 renditions (EXT-X-MEDIA), more than MaxRenditions (1024)"},
		{"variants and segments", variants(1) + "#EXTINF:1,\na\n", "playlist has both variants"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parsePlaylist(strings.NewReader(c.body))
			if c.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, demux.ErrMalformed)
			require.ErrorContains(t, err, c.err)
		})
	}
}

// TestResolvedURLLimit: URIs within MaxURILength that resolve to a longer
// URL, against the playlist URL (segment) or the master playlist URL
// (variant), are refused without being fetched.
func TestResolvedURLLimit(t *testing.T) {
	half := strings.Repeat("h", MaxURILength/2)
	files := memFetcher{}
	base := "http://fix/" + half + "/x.m3u8"
	for _, body := range []string{
		"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n" + half + ".ts\n#EXT-X-ENDLIST\n",
		"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:URI=\"" + half + ".mp4\"\n#EXTINF:1,\na.m4s\n#EXT-X-ENDLIST\n",
		"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n" + half + ".m3u8\n",
	} {
		r := &demuxed{}
		d := r.collect(&Demuxer{URL: base, Fetcher: files, MaxRetries: -1})
		require.NoError(t, d.Initialize())
		err := d.Run(t.Context(), strings.NewReader(body))
		require.ErrorIs(t, err, demux.ErrMalformed)
		require.ErrorContains(t, err, fmt.Sprintf("longer than MaxURILength (%d bytes)", MaxURILength))
		require.Less(t, len(err.Error()), 1024, "the error quotes the URL shortened")
		var fe *FetchError
		require.False(t, errors.As(err, &fe))
	}
}

// TestLiveBacklogDiscontinuity: when a refresh brings more than
// MaxLiveQueuedSegments new segments, the oldest are dropped, and a
// discontinuity among them moves to the first segment kept.
func TestLiveBacklogDiscontinuity(t *testing.T) {
	it := &segmentIter{d: &Demuxer{}, url: "http://fix/x.m3u8"}
	load := func(body string) {
		t.Helper()
		pl, err := parsePlaylist(strings.NewReader(body))
		require.NoError(t, err)
		require.NoError(t, it.load(pl.media))
	}
	load("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\ns0.ts\n")
	_, err := it.nextSegment(t.Context())
	require.NoError(t, err)

	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:1\n")
	for i := 1; i <= 300; i++ {
		if i == 10 {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		fmt.Fprintf(&b, "#EXTINF:1,\ns%d.ts\n", i)
	}
	load(b.String())
	require.Len(t, it.queue[it.head:], MaxLiveQueuedSegments)
	first := it.queue[it.head]
	require.Equal(t, segment{uri: "s45.ts", seq: 45, disc: true}, first)
	require.Equal(t, uint64(300-MaxLiveQueuedSegments), it.d.stats.SkippedSegments)
	require.False(t, it.queue[it.head+1].disc)
}
