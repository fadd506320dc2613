package e2e_test

import (
	"context"
	"crypto/sha1"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// passthroughLatencyP95 is the target for the latency Tributary adds in
// passthrough, source send to viewer receive, on loopback (issue 5).
const passthroughLatencyP95 = 100 * time.Millisecond

// TestRTMPPassthroughLatency measures the latency a forwarded frame takes
// from the encoder to a viewer: a Go RTMP publisher sends a 720p30
// baseline FLV file tag by tag at real-time pace, recording the wall time
// each video tag is written; the subscriber records when each H.264 slice
// arrives. Slices are forwarded unchanged, so the same slice is matched by
// its SHA-1 on both sides. It reports p50/p95/max and asserts the p95.
func TestRTMPPassthroughLatency(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const seconds = 20
	src := encodeFile(t, "latency.flv", seconds, "-vf", "scale=1280:720", "-c:v", "libx264", "-preset", "ultrafast",
		"-tune", "zerolatency", "-profile:v", "baseline", "-bf", "0", "-g", "60", "-pix_fmt", "yuv420p")
	tags, err := e2e.ReadFLVTags(src)
	require.NoError(t, err)
	slicesOf := videoTagSlices(t, tags)

	transcode := false
	info, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_RTMP_INPUT, RoomName: "latency", ParticipantIdentity: "latency",
		EnableTranscoding: &transcode,
	})
	require.NoError(t, err)
	sub := e2e.NewSubscriber(t, lk, "latency")

	// The send time of every slice: the wall time its tag was written.
	var mu sync.Mutex
	sent := map[[sha1.Size]byte]time.Time{}
	ambiguous := map[[sha1.Size]byte]bool{}
	onSend := func(tag e2e.FLVTag, at time.Time) {
		if tag.Type != e2e.FLVTagVideo {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, h := range slicesOf(tag) {
			if _, dup := sent[h]; dup {
				ambiguous[h] = true
			}
			sent[h] = at
		}
	}
	pctx, pcancel := tr.WithExit(ctx)
	defer pcancel()
	require.NoError(t, e2e.PublishFLV(pctx, fmt.Sprintf("127.0.0.1:%d", tr.RTMPPort), "live", info.StreamKey, tags, onSend))

	// Once the publisher is gone the session ends and the participant
	// leaves: everything forwarded has arrived by then.
	_, err = sub.WaitParticipant(pctx, func(p e2e.Participant) bool { return p.Identity == "latency" && !p.Connected })
	require.NoError(t, err, "the ingress participant leaves after the publisher disconnects")
	var vt e2e.TrackStats
	for _, st := range sub.Stats() {
		if st.ParticipantIdentity == "latency" && st.MimeType == "video/H264" {
			vt = st
		}
	}
	require.NotEmpty(t, vt.TrackSID, "a video track was received; tracks: %v", sub.Stats())
	arrivals := sub.SliceArrivals(vt.TrackSID)

	mu.Lock()
	defer mu.Unlock()
	type sample struct {
		sent time.Time
		lat  time.Duration
	}
	var samples []sample
	unmatched := 0
	for h, at := range arrivals {
		s, ok := sent[h]
		if !ok {
			unmatched++
			continue
		}
		if ambiguous[h] {
			continue
		}
		samples = append(samples, sample{sent: s, lat: at.Sub(s)})
	}
	// Bit-exact forwarding is TestRTMPPassthrough's subject; here a slice
	// that matches nothing is only counted.
	if unmatched > 0 {
		t.Logf("%d of %d received slices match no source slice", unmatched, len(arrivals))
	}
	require.LessOrEqual(t, unmatched, len(arrivals)/50, "received slices that match no source slice")
	slices.SortFunc(samples, func(a, b sample) int { return a.sent.Compare(b.sent) })
	require.Greater(t, len(samples), seconds*30/2, "most of the %d s of video arrived (%d slices matched)", seconds, len(samples))

	lats := make([]time.Duration, len(samples))
	for i, s := range samples {
		lats[i] = s.lat
	}
	p50, p95, mx := percentile(lats, 50), percentile(lats, 95), percentile(lats, 100)
	t.Logf("passthrough latency, source send → subscriber receive, %d slices: p50 %v, p95 %v, max %v, min %v",
		len(lats), p50.Round(100*time.Microsecond), p95.Round(100*time.Microsecond), mx.Round(100*time.Microsecond),
		percentile(lats, 0).Round(100*time.Microsecond))
	// The latency over the run, one line per second of source, shows
	// whether it is a constant offset or grows.
	t0 := samples[0].sent
	for sec := 0; ; sec++ {
		var win []time.Duration
		for _, s := range samples {
			if d := s.sent.Sub(t0); d >= time.Duration(sec)*time.Second && d < time.Duration(sec+1)*time.Second {
				win = append(win, s.lat)
			}
		}
		if len(win) == 0 {
			break
		}
		t.Logf("  second %2d: %2d slices, p50 %v, max %v", sec, len(win),
			percentile(win, 50).Round(100*time.Microsecond), percentile(win, 100).Round(100*time.Microsecond))
	}
	require.LessOrEqual(t, p95, passthroughLatencyP95, "p95 of the passthrough latency")
}

// videoTagSlices returns a function giving the SHA-1 of each H.264 slice
// NAL unit in an FLV video tag (AVC NALU packets; length-prefixed NAL
// units with the size from the sequence header).
func videoTagSlices(t *testing.T, tags []e2e.FLVTag) func(e2e.FLVTag) [][sha1.Size]byte {
	t.Helper()
	lengthSize := 0
	for _, tag := range tags {
		if tag.Type == e2e.FLVTagVideo && len(tag.Body) > 5+4 && tag.Body[0]&0x0f == 7 && tag.Body[1] == 0 {
			lengthSize = int(tag.Body[5+4]&0x03) + 1 // avcC lengthSizeMinusOne
			break
		}
	}
	require.NotZero(t, lengthSize, "the file has an AVC sequence header")
	return func(tag e2e.FLVTag) [][sha1.Size]byte {
		b := tag.Body
		if len(b) < 5 || b[0]&0x0f != 7 || b[1] != 1 {
			return nil
		}
		var out [][sha1.Size]byte
		for p := b[5:]; len(p) >= lengthSize; {
			var n int
			for _, x := range p[:lengthSize] {
				n = n<<8 | int(x)
			}
			p = p[lengthSize:]
			if n > len(p) || n == 0 {
				break
			}
			if typ := p[0] & 0x1f; typ >= 1 && typ <= 5 {
				out = append(out, sha1.Sum(p[:n]))
			}
			p = p[n:]
		}
		return out
	}
}

// percentile returns the p-th percentile (nearest rank) of ds; p 0 is the
// minimum and 100 the maximum.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	idx := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(idx, 0), len(s)-1)]
}
