package room_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/room"
)

// accessUnits splits an Annex-B stream made by x264 (one slice per
// picture) into access units: parameter sets and SEI are kept with the
// picture that follows them.
func accessUnits(t *testing.T, path string) [][][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var nalus h264.AnnexB
	require.NoError(t, nalus.Unmarshal(b))
	var aus [][][]byte
	var cur [][]byte
	for _, n := range nalus {
		cur = append(cur, n)
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeIDR, h264.NALUTypeNonIDR:
			aus = append(aus, cur)
			cur = nil
		}
	}
	return aus
}

// TestPublishSimulcast publishes three real H.264 streams as the layers of
// one simulcast track into a real livekit-server, and checks with the
// harness's subscriber that the participant is an INGRESS with its
// attributes, that the layers are advertised, and that asking for each
// quality delivers that layer's resolution.
func TestPublishSimulcast(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	sizes := []room.VideoLayer{
		{Quality: livekit.VideoQuality_LOW, Width: 320, Height: 180, Bitrate: 150_000},
		{Quality: livekit.VideoQuality_MEDIUM, Width: 640, Height: 360, Bitrate: 500_000},
		{Quality: livekit.VideoQuality_HIGH, Width: 1280, Height: 720, Bitrate: 1_500_000},
	}
	var layers [][][][]byte
	for _, s := range sizes {
		path := e2e.GenerateH264(t, e2e.H264File{Width: int(s.Width), Height: int(s.Height), FPS: 30, Duration: 4 * time.Second, GOP: 15})
		layers = append(layers, accessUnits(t, path))
	}

	sub := e2e.NewSubscriber(t, lk, "simulcast")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	r, err := room.Join(ctx, room.Config{
		URL: lk.URL, APIKey: lk.APIKey, APISecret: lk.APISecret,
		RoomName: "simulcast", ParticipantIdentity: "ingress-1", ParticipantName: "Ingress One",
		IngressID: "IN_testtesttest", ResourceID: "RT_testtesttest",
	})
	require.NoError(t, err)
	defer r.Close()
	vt, err := r.PublishVideo(room.VideoSpec{Codec: media.CodecH264, Layers: sizes})
	require.NoError(t, err)

	// Feed the three layers in real time, looping, until the test is done.
	track := &media.Track{Kind: media.KindVideo, Codec: media.CodecH264, ClockRate: 90000}
	feedCtx, stopFeed := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	feedErr := make(chan error, 1)
	go func() {
		defer wg.Done()
		pacer := &room.Pacer{}
		n := len(layers[0])
		for i := 0; ; i++ {
			pts := int64(i) * 3000
			if _, err := pacer.Wait(feedCtx, media.Duration(pts, 90000)); err != nil {
				return
			}
			for l := range layers {
				f := &media.Frame{Track: track, PTS: pts, DTS: pts, Data: layers[l][i%n]}
				if err := vt.WriteFrame(l, f); err != nil {
					feedErr <- err
					return
				}
			}
		}
	}()
	defer func() { stopFeed(); wg.Wait() }()

	p, err := sub.WaitParticipant(ctx, func(p e2e.Participant) bool { return p.Identity == "ingress-1" && len(p.Tracks) > 0 })
	require.NoError(t, err)
	require.Equal(t, livekit.ParticipantInfo_INGRESS, p.Kind)
	require.Equal(t, "Ingress One", p.Name)
	require.Equal(t, "IN_testtesttest", p.Attributes[livekit.AttrIngressID])
	require.Equal(t, "RT_testtesttest", p.Attributes[livekit.AttrIngressResourceID])

	_, err = sub.WaitTrack(ctx, func(s e2e.TrackStats) bool { return s.TrackSID == vt.SID() && s.Width > 0 })
	require.NoError(t, err, "the subscriber never received the video")
	for _, q := range []struct {
		quality livekit.VideoQuality
		w, h    int
	}{{livekit.VideoQuality_HIGH, 1280, 720}, {livekit.VideoQuality_LOW, 320, 180}, {livekit.VideoQuality_MEDIUM, 640, 360}, {livekit.VideoQuality_HIGH, 1280, 720}} {
		require.NoError(t, sub.SetVideoQuality(vt.SID(), q.quality))
		st, err := sub.WaitTrack(ctx, func(s e2e.TrackStats) bool {
			return s.TrackSID == vt.SID() && s.Width == q.w && s.FPS > 20
		})
		require.NoError(t, err, "quality %s", q.quality)
		require.Equal(t, "video/H264", st.MimeType)
		require.Equal(t, q.h, st.Height)
		require.True(t, st.Simulcast)
		require.Len(t, st.Layers, 3)
		select {
		case err := <-feedErr:
			t.Fatalf("feeding: %v", err)
		default:
		}
	}

	// Dynacast: with the only subscriber on LOW, the server says (after its
	// 5 s pause delay) that MEDIUM and HIGH have no receiver, which
	// LayerEnabled reports; asking for HIGH again enables it at once.
	require.True(t, vt.LayerEnabled(2), "HIGH is wanted while it is received")
	require.NoError(t, sub.SetVideoQuality(vt.SID(), livekit.VideoQuality_LOW))
	require.Eventually(t, func() bool { return !vt.LayerEnabled(2) && !vt.LayerEnabled(1) }, 20*time.Second, 50*time.Millisecond,
		"MEDIUM and HIGH were never disabled with the subscriber on LOW")
	require.True(t, vt.LayerEnabled(0), "LOW stays enabled")
	require.NoError(t, sub.SetVideoQuality(vt.SID(), livekit.VideoQuality_HIGH))
	require.Eventually(t, func() bool { return vt.LayerEnabled(2) }, 5*time.Second, 20*time.Millisecond,
		"HIGH was not enabled again when asked for")
}

// TestLayerFlagFound pins the server SDK field LayerEnabled reads: an SDK
// upgrade that renames it must fail here, not silently keep every layer
// encoding.
func TestLayerFlagFound(t *testing.T) {
	require.True(t, room.DynacastSupported(), "server-sdk-go's LocalTrack has no atomic.Bool field %q any more", "disabled")
}
