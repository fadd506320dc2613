package pipeline_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/pipeline"
	"github.com/tributary-ingress/tributary/pipeline/pipelinetest"
	"github.com/tributary-ingress/tributary/room"
)

// The state machine of a frame session, run against a fake room and a
// fake clock: nothing here waits for real time beyond goroutine
// scheduling.

var (
	h264Track = &media.Track{Kind: media.KindVideo, Codec: media.CodecH264, ClockRate: 90000, Width: 1280, Height: 720}
	opusTrack = &media.Track{Kind: media.KindAudio, Codec: media.CodecOpus, ClockRate: 48000, SampleRate: 48000, Channels: 2}
	aacTrack  = &media.Track{Kind: media.KindAudio, Codec: media.CodecAAC, ClockRate: 48000, SampleRate: 48000, Channels: 2}
)

// videoFrame is the ith frame of 30 fps H.264 without B-frames: an IDR
// slice first, P slices after.
func videoFrame(i int) *media.Frame {
	nalu := []byte{0x41, 0xc0, byte(i)} // non-IDR, first_mb 0, slice_type P
	if i == 0 {
		nalu = []byte{0x65, 0x88, 0x80}
	}
	return &media.Frame{Track: h264Track, PTS: int64(i) * 3000, DTS: int64(i) * 3000, Key: i == 0, Data: [][]byte{nalu}}
}

func audioFrame(i int) *media.Frame {
	return &media.Frame{Track: opusTrack, PTS: int64(i) * 960, DTS: int64(i) * 960, Key: true, Data: [][]byte{{0xfc, byte(i)}}}
}

// rig is a frame session with fakes all around.
type rig struct {
	clock *pipelinetest.Clock
	rooms *pipelinetest.Rooms
	rep   *pipelinetest.Reporter
	tcs   *pipelinetest.Transcoders
	s     *pipeline.Session
	stats *pipeline.Stats
}

type rigOpts struct {
	transcoding bool
	file        bool // not live: the input blocks, the pacing follows the file
	rooms       *pipelinetest.Rooms
	tcs         *pipelinetest.Transcoders
	delay       time.Duration // Config.TranscodeDelay
}

func newRig(t *testing.T, o rigOpts) *rig {
	t.Helper()
	r := &rig{clock: pipelinetest.NewClock(), rooms: o.rooms, tcs: o.tcs, stats: &pipeline.Stats{}}
	if r.rooms == nil {
		r.rooms = &pipelinetest.Rooms{}
	}
	if r.tcs == nil {
		r.tcs = &pipelinetest.Transcoders{}
	}
	r.rep = pipelinetest.NewReporter(&livekit.IngressInfo{
		IngressId: "IN_test", RoomName: "room", ParticipantIdentity: "p", EnableTranscoding: &o.transcoding,
	})
	r.s = pipeline.Start(pipeline.Config{
		Reporter: r.rep, Transcoders: r.tcs, Rooms: r.rooms, Clock: r.clock, Live: !o.file, Stats: r.stats,
		TranscodeDelay: o.delay,
	})
	t.Cleanup(func() {
		r.s.Close(nil)
		r.clock.Run(t, 100*time.Millisecond, time.Hour, r.ended)
	})
	return r
}

func (r *rig) ended() bool {
	select {
	case <-r.s.Done():
		return true
	default:
		return false
	}
}

// publish starts the session with both tracks and returns its room.
func (r *rig) publish(t *testing.T) *pipelinetest.Room {
	t.Helper()
	require.NoError(t, r.s.Track(h264Track))
	require.NoError(t, r.s.Track(opusTrack))
	return r.rooms.WaitRoom(t, 1)
}

// sendUntil sends a video and an audio frame every 33 ms of clock time
// from frame i on until done, and returns the next i.
func (r *rig) sendUntil(t *testing.T, i int, done func() bool) int {
	t.Helper()
	r.clock.Run(t, 33*time.Millisecond, time.Minute, func() bool {
		if done() {
			return true
		}
		require.NoError(t, r.s.Frame(videoFrame(i)))
		require.NoError(t, r.s.Frame(audioFrame(i)))
		i++
		return false
	})
	return i
}

// end runs the clock until the session has ended (its writers release
// what they hold on the clock), and returns its failure.
func (r *rig) end(t *testing.T) error {
	t.Helper()
	r.clock.Run(t, 10*time.Millisecond, time.Hour, r.ended)
	return r.rep.WaitEnd(t)
}

// noChange waits a little real time for something that must not happen.
func noChange() { time.Sleep(50 * time.Millisecond) }

func TestBothTracksStartAtOnce(t *testing.T) {
	r := newRig(t, rigOpts{})
	rm := r.publish(t)
	require.Equal(t, "room", rm.Config.RoomName)
	require.Equal(t, "p", rm.Config.ParticipantIdentity)
	require.Equal(t, "IN_test", rm.Config.IngressID)
	require.Equal(t, "RT_test", rm.Config.ResourceID)
	pipelinetest.Eventually(t, func() bool { return len(r.rep.Tracks()) == 2 }, "tracks recorded")
	require.Equal(t, []string{"RM_1"}, r.rep.RoomIDs())
	require.NotNil(t, rm.Video())
	require.NotNil(t, rm.Audio())
	require.Equal(t, media.CodecH264, rm.Video().Spec.Codec)
	require.Equal(t, []room.VideoLayer{{Quality: livekit.VideoQuality_HIGH, Width: 1280, Height: 720}}, rm.Video().Spec.Layers)
}

// TestTrackWait: with one track, the session waits TrackWait for the
// other, then starts with the one it has.
func TestTrackWait(t *testing.T) {
	r := newRig(t, rigOpts{})
	require.NoError(t, r.s.Track(h264Track))
	r.clock.WaitTimer(t, 2*time.Second)
	r.clock.Advance(2*time.Second - time.Millisecond)
	noChange()
	require.Zero(t, r.rooms.Attempts(), "not before TrackWait")
	r.clock.Advance(time.Millisecond)
	rm := r.rooms.WaitRoom(t, 1)
	pipelinetest.Eventually(t, func() bool { return len(r.rep.Tracks()) == 1 }, "the video track recorded")
	require.NotNil(t, rm.Video())
	require.Nil(t, rm.Audio())
}

// TestEarlyFrames: the frames that arrive before the session publishes
// are held and go out first, in order.
func TestEarlyFrames(t *testing.T) {
	r := newRig(t, rigOpts{})
	require.NoError(t, r.s.Track(h264Track))
	for i := range 3 {
		require.NoError(t, r.s.Frame(videoFrame(i)))
	}
	require.NoError(t, r.s.Track(opusTrack))
	rm := r.rooms.WaitRoom(t, 1)
	pipelinetest.Eventually(t, func() bool { return rm.Video() != nil }, "published")
	r.clock.Run(t, 10*time.Millisecond, time.Second, func() bool { return len(rm.Video().Frames(0)) == 3 })
	for i, f := range rm.Video().Frames(0) {
		require.Equal(t, int64(i)*3000, f.PTS)
	}
	pipelinetest.Eventually(t, func() bool { return r.rep.Publishing() == 1 }, "PUBLISHING recorded")
}

// TestEarlyFramesBounded: a file input that sends 600 frames of one track
// while the session waits for the other starts with the one it has, and
// loses nothing.
func TestEarlyFramesBounded(t *testing.T) {
	r := newRig(t, rigOpts{file: true})
	require.NoError(t, r.s.Track(h264Track))
	for i := range 700 {
		require.NoError(t, r.s.Frame(videoFrame(i)))
	}
	rm := r.rooms.WaitRoom(t, 1)
	pipelinetest.Eventually(t, func() bool { return rm.Video() != nil }, "published")
	r.clock.Run(t, 100*time.Millisecond, time.Minute, func() bool { return len(rm.Video().Frames(0)) == 700 })
	for i, f := range rm.Video().Frames(0) {
		require.Equal(t, int64(i*3000), f.PTS)
	}
	r.s.Close(nil)
	require.NoError(t, r.end(t))
}

// TestShortFile: an input that ends before the second track's wait is
// over is still published, to its end.
func TestShortFile(t *testing.T) {
	r := newRig(t, rigOpts{file: true})
	require.NoError(t, r.s.Track(h264Track))
	for i := range 5 {
		require.NoError(t, r.s.Frame(videoFrame(i)))
	}
	r.s.Close(nil)
	rm := r.rooms.WaitRoom(t, 1)
	r.clock.Run(t, 10*time.Millisecond, time.Minute, r.ended)
	require.NoError(t, r.rep.WaitEnd(t))
	require.Len(t, rm.Video().Frames(0), 5)
	require.True(t, rm.Closed())
}

func TestNoMediaAtStart(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.clock.WaitTimer(t, 10*time.Second)
	r.clock.Advance(10*time.Second - time.Millisecond)
	noChange()
	require.False(t, r.ended())
	r.clock.Advance(time.Millisecond)
	err := r.rep.WaitEnd(t)
	require.ErrorIs(t, err, pipeline.ErrNoMedia)
	require.EqualError(t, err, "no media received in 10s: is the encoder sending audio or video?")
	require.Zero(t, r.rooms.Attempts())
}

// TestNoMediaWhilePublishing: media keeps a published session going; 10 s
// of silence end it.
func TestNoMediaWhilePublishing(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.publish(t)
	start := r.clock.Now()
	r.sendUntil(t, 0, func() bool { return r.clock.Now().Sub(start) > 30*time.Second })
	require.False(t, r.ended())
	last := r.clock.Now()
	r.clock.Run(t, 100*time.Millisecond, time.Minute, r.ended)
	err := r.rep.WaitEnd(t)
	require.ErrorIs(t, err, pipeline.ErrNoMedia)
	require.EqualError(t, err, "no media received for 10s: the encoder stopped sending")
	silent := r.clock.Now().Sub(last)
	require.GreaterOrEqual(t, silent, 10*time.Second)
	require.Less(t, silent, 11*time.Second)
}

// TestLeftWithoutMedia: an encoder that connects and leaves without
// sending anything ends the session cleanly, without joining.
func TestLeftWithoutMedia(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.s.Close(nil)
	require.NoError(t, r.rep.WaitEnd(t))
	require.Zero(t, r.rooms.Attempts())
}

func TestInputError(t *testing.T) {
	r := newRig(t, rigOpts{})
	rm := r.publish(t)
	boom := errors.New("the encoder sent garbage")
	r.s.Close(boom)
	require.ErrorIs(t, r.rep.WaitEnd(t), boom)
	require.True(t, rm.Closed())
}

// TestCancelled: a session the service ends (update, delete) is not
// failed.
func TestCancelled(t *testing.T) {
	r := newRig(t, rigOpts{})
	rm := r.publish(t)
	r.rep.Cancel(errors.New("ingress updated"))
	require.NoError(t, r.rep.WaitEnd(t))
	require.True(t, rm.Closed())
}

func TestJoinFails(t *testing.T) {
	boom := errors.New("invalid API key")
	r := newRig(t, rigOpts{rooms: &pipelinetest.Rooms{JoinErr: func(int) error { return boom }}})
	require.NoError(t, r.s.Track(h264Track))
	require.NoError(t, r.s.Track(opusTrack))
	require.ErrorIs(t, r.rep.WaitEnd(t), boom)
	require.Equal(t, 1, r.rooms.Attempts(), "a first join is not retried")
}

func TestPublishFails(t *testing.T) {
	boom := errors.New("publish refused")
	r := newRig(t, rigOpts{transcoding: true, rooms: &pipelinetest.Rooms{PublishErr: boom}})
	rm := r.publish(t)
	require.ErrorIs(t, r.rep.WaitEnd(t), boom)
	require.True(t, rm.Closed(), "the room is left")
	require.True(t, r.tcs.Videos()[0].Closed(), "the transcoder is closed")
}

func TestVideoTranscoderFails(t *testing.T) {
	boom := errors.New("no encoder")
	r := newRig(t, rigOpts{transcoding: true, tcs: &pipelinetest.Transcoders{VideoErr: boom}})
	rm := r.publish(t)
	err := r.rep.WaitEnd(t)
	require.ErrorIs(t, err, boom)
	require.Contains(t, err.Error(), "video transcoder")
	require.True(t, rm.Closed())
}

func TestBFrames(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.publish(t)
	require.NoError(t, r.s.Frame(videoFrame(0)))
	b := videoFrame(2)
	require.NoError(t, r.s.Frame(b))
	require.NoError(t, r.s.Frame(videoFrame(1))) // presented before the one sent before it
	require.ErrorIs(t, r.end(t), pipeline.ErrBFrames)
}

func TestCodecChange(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.publish(t)
	require.NoError(t, r.s.Track(aacTrack))
	require.EqualError(t, r.rep.WaitEnd(t), "audio codec changed mid-stream from Opus to AAC: reconnect the encoder")
}

// TestRejoin: after a final disconnect whose reason allows it, the
// session leaves, joins again after 500 ms and publishes the same sources
// again; the media goes on into the new room, the ad break in progress
// too, and the session neither fails nor reports PUBLISHING again.
func TestRejoin(t *testing.T) {
	for _, transcoding := range []bool{false, true} {
		t.Run(fmt.Sprintf("transcoding=%v", transcoding), func(t *testing.T) {
			r := newRig(t, rigOpts{transcoding: transcoding})
			rm1 := r.publish(t)
			require.NoError(t, r.s.Splice(pipeline.Splice{EventID: 42, OutOfNetwork: true, Immediate: true, PTS: -1}))
			i := r.sendUntil(t, 0, func() bool { return rm1.Video() != nil && len(rm1.Video().Frames(0)) >= 10 })
			require.Equal(t, "42", rm1.Attributes()[livekit.AttrIngressOutOfNetworkEventID])
			r.clock.Advance(time.Second) // the writers release what they hold
			noChange()

			rm1.Disconnect(livekit.DisconnectReason_SIGNAL_CLOSE, true)
			pipelinetest.Eventually(t, rm1.Closed, "the room is left")
			if transcoding {
				require.True(t, r.tcs.Videos()[0].Closed())
			}
			r.clock.WaitTimer(t, 500*time.Millisecond)
			r.clock.Advance(500*time.Millisecond - time.Millisecond)
			noChange()
			require.Len(t, r.rooms.Rooms(), 1, "not before 500 ms")
			r.clock.Advance(time.Millisecond)
			rm2 := r.rooms.WaitRoom(t, 2)
			r.sendUntil(t, i, func() bool { return rm2.Video() != nil && len(rm2.Video().Frames(0)) >= 10 })
			require.Equal(t, "42", rm2.Attributes()[livekit.AttrIngressOutOfNetworkEventID], "the break in progress goes on")
			if transcoding {
				require.Len(t, r.tcs.Videos(), 2)
				require.Len(t, rm2.Video().Spec.Layers, 3)
			}
			require.Equal(t, []string{"RM_1", "RM_2"}, r.rep.RoomIDs())
			require.Len(t, r.rep.Tracks(), 4, "both tracks recorded for each room")
			require.Equal(t, 1, r.rep.Publishing())
			require.Empty(t, r.rep.Failures())
			require.False(t, r.ended())
		})
	}
}

// TestRejoinBackoff: failed attempts are retried after 0.5, 1, 2 … s;
// meanwhile frames are dropped (not held) and a new configuration of a
// track is taken: the room is joined again with it.
func TestRejoinBackoff(t *testing.T) {
	rooms := &pipelinetest.Rooms{JoinErr: func(n int) error {
		if n == 2 || n == 3 {
			return errors.New("connection refused")
		}
		return nil
	}}
	r := newRig(t, rigOpts{rooms: rooms})
	rm1 := r.publish(t)
	rm1.Disconnect(livekit.DisconnectReason_SERVER_SHUTDOWN, true)
	small := *h264Track
	small.Width, small.Height = 640, 360
	for attempt, delay := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second} {
		r.clock.WaitTimer(t, delay)
		require.Equal(t, attempt+1, rooms.Attempts())
		require.NoError(t, r.s.Frame(videoFrame(attempt+1)))
		if attempt == 2 {
			require.NoError(t, r.s.Track(&small))
		}
		noChange() // the session takes them before its timer fires
		r.clock.Advance(delay)
	}
	rm2 := rooms.WaitRoom(t, 2)
	require.Equal(t, 4, rooms.Attempts())
	pipelinetest.Eventually(t, func() bool { return rm2.Video() != nil }, "published again")
	require.Equal(t, uint32(640), rm2.Video().Spec.Layers[0].Width, "the new size of the source")
	r.clock.Advance(time.Second) // what was queued would be released by now
	noChange()
	require.Empty(t, rm2.Video().Frames(0), "frames sent while away are not held")
	require.Empty(t, r.rep.Failures())
}

// TestRejoinGivesUp: a session that cannot join again within 2 minutes
// fails.
func TestRejoinGivesUp(t *testing.T) {
	rooms := &pipelinetest.Rooms{JoinErr: func(n int) error {
		if n > 1 {
			return errors.New("connection refused")
		}
		return nil
	}}
	r := newRig(t, rigOpts{rooms: rooms})
	rm1 := r.publish(t)
	start := r.clock.Now()
	rm1.Disconnect(livekit.DisconnectReason_SERVER_SHUTDOWN, true)
	r.clock.Run(t, 250*time.Millisecond, 5*time.Minute, r.ended)
	err := r.rep.WaitEnd(t)
	require.ErrorIs(t, err, room.ErrDisconnected)
	require.Contains(t, err.Error(), "joining again failed for 2m0s: connection refused")
	require.GreaterOrEqual(t, r.clock.Now().Sub(start), 2*time.Minute)
	require.Less(t, r.clock.Now().Sub(start), 2*time.Minute+10*time.Second, "attempts every 8 s at most")
}

// TestNoRejoinWhenRemoved: a participant removed (or a room deleted, an
// identity taken) is not brought back.
func TestNoRejoinWhenRemoved(t *testing.T) {
	r := newRig(t, rigOpts{})
	rm := r.publish(t)
	rm.Disconnect(livekit.DisconnectReason_PARTICIPANT_REMOVED, false)
	err := r.rep.WaitEnd(t)
	require.ErrorIs(t, err, room.ErrDisconnected)
	require.EqualError(t, err, "disconnected from the LiveKit server: PARTICIPANT_REMOVED")
	require.Equal(t, 1, r.rooms.Attempts())
}

// TestInputEndsWhileRejoining: an input that ends while the session is
// away from the room ends it cleanly.
func TestInputEndsWhileRejoining(t *testing.T) {
	r := newRig(t, rigOpts{})
	rm := r.publish(t)
	rm.Disconnect(livekit.DisconnectReason_SIGNAL_CLOSE, true)
	r.clock.WaitTimer(t, 500*time.Millisecond)
	r.s.Close(nil)
	require.NoError(t, r.rep.WaitEnd(t))
	require.Equal(t, 1, r.rooms.Attempts())
}

// TestKeyframeRequests: a subscriber's keyframe request reaches the
// layer's encoder, even one sent while the track is being published,
// from the SDK's RTCP goroutine (the transcoder exists by then; when it
// was made after publishing, such a request was lost, and the race
// detector flagged the read).
func TestKeyframeRequests(t *testing.T) {
	rooms := &pipelinetest.Rooms{OnPublishVideo: func(request func(layer int)) {
		done := make(chan struct{})
		go func() {
			request(2)
			close(done)
		}()
		<-done
		go request(1) // may run after PublishVideo has returned
	}}
	r := newRig(t, rigOpts{transcoding: true, rooms: rooms})
	rm := r.publish(t)
	pipelinetest.Eventually(t, func() bool { return rm.Video() != nil }, "published")
	tc := r.tcs.Videos()[0]
	pipelinetest.Eventually(t, func() bool { return len(tc.Keyframes()) == 2 }, "both requests reach the transcoder")
	require.ElementsMatch(t, []int{2, 1}, tc.Keyframes())
	rm.Video().Spec.OnKeyframeRequest(0)
	require.Equal(t, 0, tc.Keyframes()[2])
}

// TestDynacast: a layer no subscriber receives is paused, and resumed
// when one does again, with the next source frame.
func TestDynacast(t *testing.T) {
	r := newRig(t, rigOpts{transcoding: true})
	rm := r.publish(t)
	tc := func() *pipelinetest.VideoTranscoder { return r.tcs.Videos()[0] }
	i := r.sendUntil(t, 0, func() bool { return rm.Video() != nil && len(rm.Video().Frames(2)) > 0 })
	rm.Video().SetLayerEnabled(2, false)
	i = r.sendUntil(t, i, func() bool { return tc().Inactive(2) })
	rm.Video().SetLayerEnabled(2, true)
	r.sendUntil(t, i, func() bool { return !tc().Inactive(2) })
}

// TestShedLayers: the top layers the overload controller sheds are
// paused, never the lowest, whatever dynacast wants; lifting the shed
// resumes them with the next source frame.
func TestShedLayers(t *testing.T) {
	r := newRig(t, rigOpts{transcoding: true})
	rm := r.publish(t)
	tc := func() *pipelinetest.VideoTranscoder { return r.tcs.Videos()[0] }
	i := r.sendUntil(t, 0, func() bool { return rm.Video() != nil && len(rm.Video().Frames(2)) > 0 })
	require.Equal(t, 2, r.stats.SheddableLayers(), "three transcoded layers: all but the lowest may be shed")
	r.stats.ShedLayers(1)
	i = r.sendUntil(t, i, func() bool { return tc().Inactive(2) })
	require.False(t, tc().Inactive(1))
	r.stats.ShedLayers(5)
	i = r.sendUntil(t, i, func() bool { return tc().Inactive(1) })
	require.False(t, tc().Inactive(0), "the lowest layer is never shed")
	r.stats.ShedLayers(0)
	r.sendUntil(t, i, func() bool { return !tc().Inactive(1) && !tc().Inactive(2) })
}

// TestDroppedFrames: frames the transcoder drops count in the session's
// dropped frames, as those its queues drop.
func TestDroppedFrames(t *testing.T) {
	r := newRig(t, rigOpts{transcoding: true})
	rm := r.publish(t)
	pipelinetest.Eventually(t, func() bool { return rm.Video() != nil }, "published")
	r.tcs.Videos()[0].Config.OnDrop()
	r.tcs.Videos()[0].Config.OnDrop()
	require.Equal(t, int64(2), r.stats.DroppedFrames())
	r.tcs.Videos()[0].Config.OnStale()
	require.Equal(t, int64(1), r.stats.LatePictures(), "pictures skipped as too late are counted apart")
	require.Equal(t, int64(2), r.stats.DroppedFrames())
}

// errNoTranscoding stands for transcode.ErrUnavailable, the reason the
// passthrough build gives.
var errNoTranscoding = errors.New("transcoding is not in this build: run the tributary-linux-amd64 build to transcode")

// TestWithoutTranscoding runs sessions in a build that cannot transcode:
// what needs a video transcoder ends in ERROR with a reason naming the
// build to run instead, before any room is joined; AAC next to video is
// left out with a warning and the video goes on to the room.
func TestWithoutTranscoding(t *testing.T) {
	for _, tc := range []struct {
		name        string
		transcoding bool
		tracks      []*media.Track
		fail        []string // substrings of the reason, nil: published
		warn        []string
	}{
		{
			name: "transcoding enabled", transcoding: true, tracks: []*media.Track{h264Track, aacTrack},
			fail: []string{"this ingress has transcoding enabled, but transcoding is not in this build",
				"tributary-linux-amd64", "disable transcoding on the ingress and send WebRTC-ready media"},
		},
		{
			name: "transcoding enabled, WebRTC-ready source", transcoding: true, tracks: []*media.Track{h264Track, opusTrack},
			fail: []string{"this ingress has transcoding enabled", "tributary-linux-amd64"},
		},
		{
			name: "AAC only", tracks: []*media.Track{aacTrack},
			fail: []string{"AAC audio must be transcoded to Opus, but transcoding is not in this build", "tributary-linux-amd64", "or send Opus audio"},
		},
		{
			name: "H.264 and AAC", tracks: []*media.Track{h264Track, aacTrack},
			warn: []string{"AAC audio not published, only the video", "tributary-linux-amd64", "or send Opus audio"},
		},
		{name: "H.264 and Opus", tracks: []*media.Track{h264Track, opusTrack}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOpts{transcoding: tc.transcoding, tcs: &pipelinetest.Transcoders{Unavail: errNoTranscoding}})
			for _, tr := range tc.tracks {
				require.NoError(t, r.s.Track(tr))
			}
			if len(tc.tracks) == 1 {
				r.clock.WaitTimer(t, 2*time.Second)
				r.clock.Advance(2 * time.Second)
			}
			if tc.fail != nil {
				err := r.rep.WaitEnd(t)
				require.Error(t, err)
				for _, want := range tc.fail {
					require.Contains(t, err.Error(), want)
				}
				require.Zero(t, r.rooms.Attempts(), "decided before joining")
			} else {
				rm := r.rooms.WaitRoom(t, 1)
				pipelinetest.Eventually(t, func() bool { return rm.Video() != nil }, "the video is published")
				if tc.warn != nil {
					require.Nil(t, rm.Audio(), "the audio is left out")
				} else {
					require.NotNil(t, rm.Audio())
				}
				require.Empty(t, r.tcs.Videos())
				require.Empty(t, r.rep.Failures())
			}
			warns := r.rep.Warnings()
			require.Len(t, warns, len(tc.warn[:min(len(tc.warn), 1)]))
			for _, want := range tc.warn {
				require.Contains(t, warns[0].Error(), want)
			}
			if tc.tracks[len(tc.tracks)-1].Kind == media.KindAudio {
				_, audio := r.rep.Input()
				require.NotNil(t, audio, "the input audio is reported even when left out")
			}
		})
	}
}

// TestTranscodeDelay: a live transcoding session's release delay adapts
// (a transcoder that takes no time keeps it at the 100 ms floor), a
// pinned one stays, and the metrics see which is in force; a passthrough
// session has none.
func TestTranscodeDelay(t *testing.T) {
	for _, tc := range []struct {
		name        string
		transcoding bool
		pinned      time.Duration
		want        time.Duration
		has         bool
	}{
		{name: "adaptive", transcoding: true, want: 100 * time.Millisecond, has: true},
		{name: "pinned", transcoding: true, pinned: 250 * time.Millisecond, want: 250 * time.Millisecond, has: true},
		{name: "passthrough"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOpts{transcoding: tc.transcoding, delay: tc.pinned})
			rm := r.publish(t)
			// Audio and video on the clock (sendUntil's audio runs at 20 ms
			// of media per 33 ms: a drifting source, whose frames come out
			// late and raise the delay).
			i := 0
			r.clock.Run(t, 33*time.Millisecond, time.Minute, func() bool {
				if rm.Video() != nil && len(rm.Video().Frames(0)) > 60 {
					return true
				}
				a := audioFrame(i)
				a.PTS = int64(i) * 1584 // 33 ms at 48 kHz
				require.NoError(t, r.s.Frame(videoFrame(i)))
				require.NoError(t, r.s.Frame(a))
				i++
				return false
			})
			d, ok := r.stats.TranscodeDelay()
			require.Equal(t, tc.has, ok)
			require.Equal(t, tc.want, d)
		})
	}
}
