package e2e_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/demux/ts"
	"github.com/tributary-ingress/tributary/ffi"
	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
	"github.com/tributary-ingress/tributary/internal/testutil/tstest"
)

// scte35Tolerance bounds how far the ad-break attribute may be from the
// moment the viewer receives the picture at the splice time.
const scte35Tolerance = 500 * time.Millisecond

// scte35Early is how much earlier than that picture the attribute may
// arrive: a timed command is applied when the frame at the splice time is
// released, and the frame then still travels through the SFU. An
// immediate command applies where it was received, which the demuxer
// knows to a few frames (it hands a section over before the frames still
// being assembled): scte35EarlyImmediate.
const (
	scte35Early          = 100 * time.Millisecond
	scte35EarlyImmediate = 200 * time.Millisecond
)

// scte35Cue is one splice_insert muxed into the test stream: sent before
// the video frame at sentAt, for the frame at spliceAt (timed) or applying
// where it sits (immediate).
type scte35Cue struct {
	eventID   uint32
	out       bool
	immediate bool
	cancel    bool
	sentAt    time.Duration
	spliceAt  time.Duration
}

// The ad breaks of the test stream, against its picture: dark, bright from
// 6 s to 12 s (a timed break announced 4 s ahead, ended by a timed
// command), dark, bright from 15 s to 17 s (a break started and ended by
// immediate commands), dark. A third event is announced for 13 s and
// cancelled before its time: it never shows.
var scte35Cues = []scte35Cue{
	{eventID: 1001, out: true, sentAt: 2 * time.Second, spliceAt: 6 * time.Second},
	{eventID: 1001, sentAt: 8 * time.Second, spliceAt: 12 * time.Second},
	{eventID: 3003, out: true, sentAt: 10 * time.Second, spliceAt: 13 * time.Second},
	{eventID: 3003, cancel: true, sentAt: 11 * time.Second},
	{eventID: 2002, out: true, immediate: true, sentAt: 15 * time.Second},
	{eventID: 2002, immediate: true, sentAt: 17 * time.Second},
}

// scte35Stream makes a 20 s 640x360 H.264 + AAC MPEG-TS with the real
// ffmpeg, whose picture is bright during the breaks, and muxes the
// splice_inserts of scte35Cues into it on an SCTE-35 PID declared in the
// PMT (stream_type 0x86).
func scte35Stream(t *testing.T, dir string) string {
	plain := filepath.Join(dir, "plain.ts")
	makeMedia(t, plain, "-f", "lavfi", "-i", "color=c=0x101010:size=640x360:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "20",
		"-vf", "drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='gte(t,6)*lt(t,12)+gte(t,15)*lt(t,17)'",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "mpegts")
	in, err := os.ReadFile(plain)
	require.NoError(t, err)
	pkts, err := tstest.SplitPackets(in)
	require.NoError(t, err)
	pmt, err := tstest.PMTPID(pkts)
	require.NoError(t, err)
	streams, err := tstest.Streams(pkts, pmt)
	require.NoError(t, err)
	i := slices.IndexFunc(streams, func(s tstest.Stream) bool { return s.Type == 0x1b })
	require.GreaterOrEqual(t, i, 0, "an H.264 stream in %v", streams)
	idx, pts := tstest.PESStarts(pkts, streams[i].PID)
	require.Len(t, idx, 600)
	// Frame n is presented at n/30 s: its PES is the one with the n-th
	// smallest PTS (ultrafast has no B-frames: that is also PES n).
	first := slices.Min(pts)
	frame := func(d time.Duration) int {
		want := first + int64(d/time.Millisecond)*90
		n := slices.Index(pts, want)
		require.GreaterOrEqual(t, n, 0, "a frame at %v", d)
		return n
	}

	const scte35PID = 0x1f0
	var cc byte
	before := map[int][][]byte{}
	for _, c := range scte35Cues {
		ins := &ts.SpliceInsert{EventID: c.eventID, Cancel: c.cancel, OutOfNetwork: c.out, Immediate: c.immediate,
			PTS: -1, Duration: -1, UniqueProgramID: 1}
		if !c.immediate && !c.cancel {
			ins.PTS = pts[frame(c.spliceAt)]
		}
		// A pts_adjustment, as splicers add: the demuxer must add it back.
		sec, err := (&ts.SpliceInfoSection{PTSAdjustment: 12345, CommandType: ts.SpliceCommandInsert, Insert: ins}).Marshal()
		require.NoError(t, err)
		at := idx[frame(c.sentAt)]
		before[at] = append(before[at], tstest.SectionPackets(scte35PID, sec, 184, &cc)...)
	}
	out, err := tstest.Insert(pkts, pmt, tstest.StreamTypeSCTE35, scte35PID, before)
	require.NoError(t, err)
	path := filepath.Join(dir, "ads.ts")
	require.NoError(t, os.WriteFile(path, out, 0o600))
	return path
}

// TestSCTE35AdBreaks plays over HTTP an MPEG-TS that carries SCTE-35
// splice_inserts, and checks that the participant attribute
// ingress.outOfNetwork.eventID follows them at the right moment of the
// published media.
//
// The media time a viewer is at is read from the picture itself: it is
// bright exactly during the breaks, so the first bright (or dark) picture
// decoded from what the subscriber received is the splice point, and its
// arrival is when the viewer reaches it. The attribute's arrival at the
// same subscriber is compared to that: both travel the same way (the
// attribute over signalling, the picture over WebRTC, from the same SFU on
// loopback), so the difference is the error of the scheduling against the
// published media, not of the network. The RTP times of the edges check
// that the picture's edges are where the media timeline puts them.
func TestSCTE35AdBreaks(t *testing.T) {
	dec, err := ffi.NewVideoDecoder(ffi.CodecH264, nil)
	if err != nil {
		if os.Getenv("TRIBUTARY_E2E_REQUIRED") != "" {
			t.Fatalf("the ad-break timing is measured on decoded pictures: %v", err)
		}
		t.Skipf("no H.264 decoder in this build: %v", err)
	}
	dec.Close()
	dir := t.TempDir()
	stream := scte35Stream(t, dir)
	base := serveFiles(t, dir)

	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ctx, stop := tr.WithExit(ctx)
	defer stop()

	sub := e2e.NewSubscriber(t, lk, "ads")
	sub.CapturePackets()
	info := createURL(ctx, t, c, "ads", "ads", base+"/"+filepath.Base(stream), nil)
	_, err = sub.WaitParticipant(ctx, func(p e2e.Participant) bool {
		return p.Identity == "ads" && p.Attributes[livekit.AttrIngressOutOfNetworkEventID] == "1001"
	})
	require.NoError(t, err, "the break starts")
	_, err = sub.WaitParticipant(ctx, func(p e2e.Participant) bool {
		return p.Identity == "ads" && p.Attributes[livekit.AttrIngressOutOfNetworkEventID] == "2002"
	})
	require.NoError(t, err, "the immediate break starts")
	end := waitState(ctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_COMPLETE)
	require.Empty(t, end.State.Error)
	_, err = sub.WaitParticipant(ctx, func(p e2e.Participant) bool { return p.Identity == "ads" && !p.Connected })
	require.NoError(t, err, "the participant leaves at the end")

	// The attribute's values, in order, with when they arrived.
	var changes []e2e.AttributeChange
	for _, ch := range sub.AttributeChanges("ads") {
		if ch.Key == livekit.AttrIngressOutOfNetworkEventID {
			changes = append(changes, ch)
		}
	}
	var values []string
	for _, ch := range changes {
		values = append(values, ch.Value)
	}
	require.Equal(t, []string{"1001", "", "2002", ""}, values, "the cancelled event 3003 never shows")

	// The picture's edges, as the viewer received them.
	var vt e2e.TrackStats
	for _, st := range sub.Stats() {
		if st.ParticipantIdentity == "ads" && st.MimeType == "video/H264" {
			vt = st
		}
	}
	require.NotEmpty(t, vt.TrackSID, "video received: %v", sub.Stats())
	pkts, dropped := sub.Packets(vt.TrackSID)
	require.Zero(t, dropped)
	pics, err := e2e.DecodeH264Pictures(pkts)
	require.NoError(t, err)
	require.Greater(t, len(pics), 15*30, "pictures decoded")
	var edges []e2e.DecodedPicture // bright, dark, bright, dark
	for i := 1; i < len(pics); i++ {
		if (pics[i].Luma >= 128) != (pics[i-1].Luma >= 128) {
			edges = append(edges, pics[i])
		}
	}
	require.Len(t, edges, 4, "the picture turns bright and dark twice")
	mediaAt := func(p e2e.DecodedPicture) time.Duration {
		return 6*time.Second + time.Duration(int32(p.RTPTime-edges[0].RTPTime))*time.Second/90000
	}
	for i, want := range []time.Duration{6 * time.Second, 12 * time.Second, 15 * time.Second, 17 * time.Second} {
		require.InDelta(t, want.Seconds(), mediaAt(edges[i]).Seconds(), 0.034, "edge %d on the media timeline", i)
	}

	srs := sub.SenderReports(vt.TrackSID)
	for i, ch := range changes {
		d := ch.At.Sub(edges[i].Arrival)
		msg := "vs the picture's arrival"
		if sent, ok := e2e.SenderClock(srs, edges[i].RTPTime, vt.ClockRate); ok {
			msg += ", " + ch.At.Sub(sent).Round(time.Millisecond).String() + " vs its send time (RTCP SR)"
		}
		t.Logf("attribute %q at media time %v: %v %s", ch.Value, mediaAt(edges[i]).Round(time.Millisecond), d.Round(time.Millisecond), msg)
		early := scte35Early
		if i >= 2 {
			early = scte35EarlyImmediate
		}
		require.GreaterOrEqual(t, d, -early, "attribute %q before the media reached it", ch.Value)
		require.LessOrEqual(t, d, scte35Tolerance, "attribute %q late", ch.Value)
	}
}
