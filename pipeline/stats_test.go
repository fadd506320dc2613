package pipeline

import (
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/room"
)

// TestStatsLatencySamples: every output track is sampled at most every
// 500 ms, labelled as the official worker labels its outputs.
func TestStatsLatencySamples(t *testing.T) {
	s := &Stats{}
	s.videoLayers([]room.VideoLayer{{Quality: livekit.VideoQuality_LOW}, {Quality: livekit.VideoQuality_MEDIUM}, {Quality: livekit.VideoQuality_HIGH}})
	video := &media.Track{Kind: media.KindVideo, ClockRate: 90000}
	audio := &media.Track{Kind: media.KindAudio, ClockRate: 48000}
	frame := func(tr *media.Track, age time.Duration) *media.Frame {
		return &media.Frame{Track: tr, Wall: time.Now().Add(-age), Data: [][]byte{{1, 2, 3}}}
	}
	drain := func() map[string][]time.Duration {
		out := map[string][]time.Duration{}
		s.DrainLatency(func(track string, d time.Duration) { out[track] = append(out[track], d) })
		return out
	}

	s.output(2, frame(video, 300*time.Millisecond))
	s.output(2, frame(video, 300*time.Millisecond)) // within 500 ms: not sampled
	s.output(0, frame(video, 200*time.Millisecond))
	s.output(-1, frame(audio, 100*time.Millisecond))
	s.output(1, &media.Frame{Track: video, Data: [][]byte{{1}}}) // no arrival time: no sample
	got := drain()
	require.Len(t, got, 3)
	require.Len(t, got["output.video.HIGH"], 1)
	require.InDelta(t, 0.3, got["output.video.HIGH"][0].Seconds(), 0.1)
	require.InDelta(t, 0.2, got["output.video.LOW"][0].Seconds(), 0.1)
	require.InDelta(t, 0.1, got["output.audio"][0].Seconds(), 0.1)
	require.Empty(t, drain(), "drained")

	// 500 ms later the same output is sampled again.
	s.sampledAt[3].Store(time.Now().Add(-latencySampleInterval).UnixNano())
	s.output(2, frame(video, 50*time.Millisecond))
	require.Len(t, drain()["output.video.HIGH"], 1)

	// Bounded when nobody drains.
	for i := range maxLatencySamples + 10 {
		s.sampleLatency(-1, time.Now().Add(time.Duration(i+1)*time.Second), time.Duration(i))
	}
	n := 0
	var last time.Duration
	s.DrainLatency(func(_ string, d time.Duration) { n++; last = d })
	require.Equal(t, maxLatencySamples, n)
	require.Equal(t, time.Duration(maxLatencySamples+9), last, "the newest are kept")

	var none *Stats
	none.output(0, frame(video, time.Millisecond))
	none.DrainLatency(func(string, time.Duration) { t.Fatal("a nil Stats has no samples") })
}
