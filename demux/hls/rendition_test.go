package hls

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// audioStart is where the audio of testdata/alt_* starts after the video's
// first decode time on their shared timeline: -itsoffset 0.5 plus the
// AAC encoder's priming as ffmpeg places it (ffprobe: video DTS 1.400,
// audio PTS 1.945 in the TS segments).
const audioStart = 545 * time.Millisecond

// frameNs is a frame's decode time in nanoseconds.
func frameNs(f *media.Frame) int64 { return int64(media.Duration(f.DTS, f.Track.ClockRate)) }

// checkInterleaved checks that the frames of the two tracks come in decode
// time order across tracks, to the rounding of a tick, and returns the
// largest lead one track's frame had over the other's latest.
func checkInterleaved(t *testing.T, r *demuxed) {
	t.Helper()
	last := int64(-1 << 62)
	for i, f := range r.Frames {
		ns := frameNs(f)
		require.GreaterOrEqual(t, ns, last-int64(time.Millisecond), "frame %d (track %d) at %v comes after one at %v",
			i, f.Track.ID, time.Duration(ns), time.Duration(last))
		last = max(last, ns)
	}
}

// TestAlternativeAudio plays master playlists whose variant leaves its
// audio to a rendition of its own (ffmpeg's hls muxer with agroup), TS and
// fMP4: the video of the variant and the audio of the rendition come out
// on one timeline, interleaved by time, with the track IDs apart.
func TestAlternativeAudio(t *testing.T) {
	for _, dir := range []string{"alt_ts", "alt_fmp4"} {
		t.Run(dir, func(t *testing.T) {
			s := newServer(t)
			r := &demuxed{}
			require.NoError(t, play(t, newDemuxer(s, "/"+dir+"/master.m3u8", r), r))
			require.Len(t, r.variants, 1)
			require.Equal(t, s.URL+"/"+dir+"/a.m3u8", r.variants[0].AudioURL)
			require.Equal(t, 1, r.variants[0].AudioRenditions)

			video, audio := r.KindFrames(media.KindVideo), r.KindFrames(media.KindAudio)
			v, _ := ffprobeCounts(t, dir+"/v.m3u8")
			_, a := ffprobeCounts(t, dir+"/a.m3u8")
			require.Len(t, video, v)
			require.Len(t, audio, a)
			require.Len(t, r.Tracks, 2)
			require.Equal(t, media.KindVideo, r.Tracks[0].Kind, "the rendition's track is announced with its first frame, after the video's")
			require.GreaterOrEqual(t, audio[0].Track.ID, RenditionTrackIDOffset)
			require.Less(t, video[0].Track.ID, RenditionTrackIDOffset)
			require.Equal(t, media.CodecAAC, audio[0].Track.Codec)
			require.Equal(t, 320, video[0].Track.Width)

			require.Zero(t, video[0].DTS)
			require.InDelta(t, audioStart, frameNs(audio[0]), float64(5*time.Millisecond), "audio starts after the video as in the source")
			checkMonotonic(t, r)
			checkInterleaved(t, r)
			require.Equal(t, uint64(segmentCount(t, dir+"/v.m3u8")+segmentCount(t, dir+"/a.m3u8")), r.stats.Segments)
		})
	}
}

// segmentCount counts the segments of a media playlist of testdata.
func segmentCount(t *testing.T, name string) int {
	n := 0
	for l := range strings.Lines(string(demuxtest.ReadTestdata(t, name))) {
		if !strings.HasPrefix(l, "#") && strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n
}

// altPlaylist is a media playlist of the segments of testdata/<dir>, with
// discontinuities before the segments whose index is in disc.
func altPlaylist(segs []string, disc map[int]bool, mapURI string) string {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:VOD\n")
	if mapURI != "" {
		fmt.Fprintf(&b, "#EXT-X-MAP:URI=%q\n", mapURI)
	}
	for i, s := range segs {
		if disc[i] {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		fmt.Fprintf(&b, "#EXTINF:1,\n%s\n", s)
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	return b.String()
}

const altMaster = "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",DEFAULT=YES,URI=\"a.m3u8\"\n" +
	"#EXT-X-STREAM-INF:BANDWIDTH=145200,RESOLUTION=320x180,CODECS=\"avc1.64000d,mp4a.40.2\",AUDIO=\"aud\"\nv.m3u8\n"

// TestAlternativeAudioDiscontinuity: both playlists play their first two
// segments twice, with a discontinuity in between. Each stream continues
// after its own end, so the audio keeps its place next to the video.
func TestAlternativeAudioDiscontinuity(t *testing.T) {
	for _, c := range []struct{ dir, ext, vmap, amap string }{{"alt_ts", "ts", "", ""}, {"alt_fmp4", "m4s", "v_init.mp4", "a_init.mp4"}} {
		t.Run(c.dir, func(t *testing.T) {
			s := newServer(t)
			p := "/" + c.dir + "/d/"
			seg := func(k string, i int) string { return fmt.Sprintf("../%s_%d.%s", k, i, c.ext) }
			s.static(p+"master.m3u8", altMaster)
			s.static(p+"v.m3u8", altPlaylist([]string{seg("v", 0), seg("v", 1), seg("v", 0), seg("v", 1)}, map[int]bool{2: true}, "../"+c.vmap))
			s.static(p+"a.m3u8", altPlaylist([]string{seg("a", 0), seg("a", 1), seg("a", 0), seg("a", 1)}, map[int]bool{2: true}, "../"+c.amap))
			if c.vmap == "" {
				s.static(p+"v.m3u8", strings.ReplaceAll(s.playlists[p+"v.m3u8"](0), "#EXT-X-MAP:URI=\"../\"\n", ""))
				s.static(p+"a.m3u8", strings.ReplaceAll(s.playlists[p+"a.m3u8"](0), "#EXT-X-MAP:URI=\"../\"\n", ""))
			}
			r := &demuxed{}
			require.NoError(t, play(t, newDemuxer(s, p+"master.m3u8", r), r))
			checkMonotonic(t, r)
			checkInterleaved(t, r)
			require.Equal(t, uint64(2), r.stats.Discontinuities, "one per stream")
			video, audio := r.KindFrames(media.KindVideo), r.KindFrames(media.KindAudio)
			require.Len(t, video, 120)
			half := len(audio) / 2
			// The second half of each track is its first, moved behind it:
			// the audio starts as far after the video as the first time.
			before := frameNs(audio[0]) - frameNs(video[0])
			after := frameNs(audio[half]) - frameNs(video[60])
			require.InDelta(t, before, after, float64(30*time.Millisecond), "A/V offset %v, then %v", time.Duration(before), time.Duration(after))
			require.InDelta(t, 2*time.Second, frameNs(video[60]), float64(40*time.Millisecond))
		})
	}
}

// TestAlternativeAudioLive: live playlists of the variant and of the
// rendition, growing by a segment per refresh, play the frames of the VOD
// presentation.
func TestAlternativeAudioLive(t *testing.T) {
	s := newServer(t)
	s.static("/alt_ts/live/master.m3u8", altMaster)
	s.playlists["/alt_ts/live/v.m3u8"] = livePlaylist([]string{"../v_0.ts", "../v_1.ts", "../v_2.ts"}, 2)
	s.playlists["/alt_ts/live/a.m3u8"] = livePlaylist([]string{"../a_0.ts", "../a_1.ts", "../a_2.ts"}, 2)
	r := &demuxed{}
	d := newDemuxer(s, "/alt_ts/live/master.m3u8", r)
	d.RefreshInterval = 20 * time.Millisecond
	require.NoError(t, play(t, d, r))

	vod := &demuxed{}
	require.NoError(t, play(t, newDemuxer(s, "/alt_ts/master.m3u8", vod), vod))
	require.Equal(t, len(vod.Frames), len(r.Frames))
	for i := range vod.Frames {
		require.Equal(t, vod.Frames[i].Track.ID, r.Frames[i].Track.ID, "frame %d", i)
		require.Equal(t, vod.Frames[i].DTS, r.Frames[i].DTS, "frame %d", i)
		require.Equal(t, vod.Frames[i].PTS, r.Frames[i].PTS, "frame %d", i)
	}
	require.Equal(t, uint64(6), r.stats.Segments)
	require.Equal(t, uint64(4+4), r.stats.PlaylistFetches, "both playlists until ENDLIST")
}

// TestAlternativeAudioMissing: a rendition playlist that cannot be fetched
// fails the pull naming it.
func TestAlternativeAudioMissing(t *testing.T) {
	s := newServer(t)
	s.static("/alt_ts/m/master.m3u8", altMaster)
	s.static("/alt_ts/m/v.m3u8", altPlaylist([]string{"../v_0.ts"}, nil, ""))
	r := &demuxed{}
	d := newDemuxer(s, "/alt_ts/m/master.m3u8", r)
	d.MaxRetries = -1
	require.EqualError(t, play(t, d, r), "HTTP 404 fetching playlist "+s.URL+"/alt_ts/m/a.m3u8")

	// The rendition playlist is held to the limits of a media playlist.
	s.static("/alt_ts/m/a.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n"+strings.Repeat("#EXTINF:1,\na.ts\n", MaxSegments+1))
	r = &demuxed{}
	err := play(t, newDemuxer(s, "/alt_ts/m/master.m3u8", r), r)
	require.ErrorIs(t, err, demux.ErrMalformed)
	require.ErrorContains(t, err, "more than MaxSegments")
	require.Empty(t, r.Frames)
}

// TestAudioOnlyVariantWithRendition: an audio-only variant whose group
// names a rendition playlist (Apple's point to the same one) is played
// alone, not with a second copy of its audio.
func TestAudioOnlyVariantWithRendition(t *testing.T) {
	s := newServer(t)
	s.static("/alt_ts/ao/master.m3u8", "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",DEFAULT=YES,URI=\"../a.m3u8\"\n"+
		"#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"mp4a.40.2\",AUDIO=\"aud\"\n../a.m3u8\n")
	r := &demuxed{}
	require.NoError(t, play(t, newDemuxer(s, "/alt_ts/ao/master.m3u8", r), r))
	require.Empty(t, r.variants[0].AudioURL)
	_, a := ffprobeCounts(t, "alt_ts/a.m3u8")
	require.Len(t, r.KindFrames(media.KindAudio), a)
	require.Len(t, r.Frames, a)
}

// TestRenditionWithoutVideo: a variant whose segments hold no video, only
// the audio the rendition replaces, ends with an error naming it instead
// of holding the rendition's audio forever.
func TestRenditionWithoutVideo(t *testing.T) {
	s := newServer(t)
	s.static("/alt_ts/nv/master.m3u8", altMaster)
	s.static("/alt_ts/nv/v.m3u8", altPlaylist(slices.Repeat([]string{"../a_0.ts"}, maxEmptySegments+1), nil, ""))
	s.static("/alt_ts/nv/a.m3u8", altPlaylist([]string{"../a_0.ts"}, nil, ""))
	r := &demuxed{}
	err := play(t, newDemuxer(s, "/alt_ts/nv/master.m3u8", r), r)
	require.ErrorIs(t, err, ErrUnsupported)
	require.ErrorContains(t, err, "10 segments in a row of "+s.URL+"/alt_ts/nv/v.m3u8 without video")
}

// TestChooseAudioRendition: DEFAULT=YES, else AUTOSELECT=YES, else the
// first of the variant's group; none when the chosen one has no URI.
func TestChooseAudioRendition(t *testing.T) {
	for _, c := range []struct{ media, want string }{
		{"NAME=\"a\",URI=\"a.m3u8\"\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"g\",NAME=\"b\",DEFAULT=YES,URI=\"b.m3u8\"", "b.m3u8"},
		{"NAME=\"a\",URI=\"a.m3u8\"\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"g\",NAME=\"b\",AUTOSELECT=YES,URI=\"b.m3u8\"", "b.m3u8"},
		{"NAME=\"a\",URI=\"a.m3u8\"\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"g\",NAME=\"b\",URI=\"b.m3u8\"", "a.m3u8"},
		{"NAME=\"a\",DEFAULT=YES\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"g\",NAME=\"b\",URI=\"b.m3u8\"", ""},
		{"NAME=\"a\",DEFAULT=YES,URI=\"a.m3u8\"\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"other\",NAME=\"b\",DEFAULT=YES,URI=\"b.m3u8\"", "a.m3u8"},
	} {
		pl, err := parsePlaylist(strings.NewReader("#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"g\"," + c.media +
			"\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"g\"\nv.m3u8\n"))
		require.NoError(t, err)
		got := ""
		if a := chooseAudioRendition(pl.master, pl.master.Variants[0]); a != nil {
			got = a.URI
		}
		require.Equal(t, c.want, got, c.media)
	}
}
