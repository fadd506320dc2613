package session

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/media"
)

// errNoTranscoding stands for transcode.ErrUnavailable, the reason the
// passthrough build gives.
var errNoTranscoding = errors.New("transcoding is not in this build: run the tributary-linux-amd64 build to transcode")

// noTranscoders are the transcoders of the passthrough build.
type noTranscoders struct{}

func (noTranscoders) NewVideo(VideoTranscodeConfig) (VideoTranscoder, error) {
	return nil, errNoTranscoding
}

func (noTranscoders) NewAudio(AudioTranscodeConfig) (AudioTranscoder, error) {
	return nil, errNoTranscoding
}

func (noTranscoders) Unavailable() error { return errNoTranscoding }

// reportRecorder is a Reporter that records warnings, failures and the
// end.
type reportRecorder struct {
	info *livekit.IngressInfo
	ctx  context.Context

	mu    sync.Mutex
	warns []string
	fails []string
	audio *livekit.InputAudioState
	ended bool
}

func (r *reportRecorder) Info() *livekit.IngressInfo { return r.info }
func (r *reportRecorder) ResourceID() string         { return "RT_test" }
func (r *reportRecorder) Logger() logger.Logger      { return logger.GetLogger() }
func (r *reportRecorder) Context() context.Context   { return r.ctx }
func (r *reportRecorder) SetPublishing() error       { return nil }
func (r *reportRecorder) SetRoomID(string) error     { return nil }
func (r *reportRecorder) SetInputVideo(*livekit.InputVideoState) error {
	return nil
}
func (r *reportRecorder) AddTrack(*livekit.TrackInfo) error { return nil }

func (r *reportRecorder) SetInputAudio(a *livekit.InputAudioState) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.audio = a
	return nil
}

func (r *reportRecorder) Warn(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warns = append(r.warns, err.Error())
	return nil
}

func (r *reportRecorder) Fail(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fails = append(r.fails, err.Error())
	return nil
}

func (r *reportRecorder) End() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = true
	return nil
}

// TestWithoutTranscoding runs sessions in a build that cannot transcode:
// what needs a video transcoder ends in ERROR with a reason naming the
// build to run instead, before any room is joined; AAC next to video is
// left out with a warning and the video goes on to the room (whose join
// fails here: the room has no server).
func TestWithoutTranscoding(t *testing.T) {
	h264 := &media.Track{Kind: media.KindVideo, Codec: media.CodecH264, ClockRate: 90000, Width: 1280, Height: 720}
	aac := &media.Track{Kind: media.KindAudio, Codec: media.CodecAAC, ClockRate: 48000, SampleRate: 48000, Channels: 2}
	opus := &media.Track{Kind: media.KindAudio, Codec: media.CodecOpus, ClockRate: 48000, SampleRate: 48000, Channels: 2}
	for _, tc := range []struct {
		name        string
		transcoding bool
		tracks      []*media.Track
		fail        []string // substrings of the reason, nil: not our reason
		warn        []string
	}{
		{
			name: "transcoding enabled", transcoding: true, tracks: []*media.Track{h264, aac},
			fail: []string{"this ingress has transcoding enabled, but transcoding is not in this build",
				"tributary-linux-amd64", "disable transcoding on the ingress and send WebRTC-ready media"},
		},
		{
			name: "transcoding enabled, WebRTC-ready source", transcoding: true, tracks: []*media.Track{h264, opus},
			fail: []string{"this ingress has transcoding enabled", "tributary-linux-amd64"},
		},
		{
			name: "AAC only", tracks: []*media.Track{aac},
			fail: []string{"AAC audio must be transcoded to Opus, but transcoding is not in this build", "tributary-linux-amd64", "or send Opus audio"},
		},
		{
			name: "H.264 and AAC", tracks: []*media.Track{h264, aac},
			warn: []string{"AAC audio not published, only the video", "tributary-linux-amd64", "or send Opus audio"},
		},
		{name: "H.264 and Opus", tracks: []*media.Track{h264, opus}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rep := &reportRecorder{ctx: ctx, info: &livekit.IngressInfo{
				IngressId: "IN_test", RoomName: "room", ParticipantIdentity: "p",
				EnableTranscoding: &tc.transcoding,
			}}
			s := Start(Config{Reporter: rep, Transcoders: noTranscoders{}, Live: true, TrackWait: 10 * time.Millisecond})
			for _, tr := range tc.tracks {
				require.NoError(t, s.Track(tr))
			}
			select {
			case <-s.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("the session did not end")
			}
			rep.mu.Lock()
			defer rep.mu.Unlock()
			require.True(t, rep.ended)
			require.Len(t, rep.fails, 1, "it fails once: on our reason, or joining the room")
			if tc.fail != nil {
				for _, want := range tc.fail {
					require.Contains(t, rep.fails[0], want)
				}
			} else {
				require.Contains(t, rep.fails[0], "room", "the session went on to join the room")
			}
			if tc.warn == nil {
				require.Empty(t, rep.warns)
			} else {
				require.Len(t, rep.warns, 1)
			}
			for _, want := range tc.warn {
				require.Contains(t, rep.warns[0], want)
			}
			if tc.tracks[len(tc.tracks)-1].Kind == media.KindAudio {
				require.NotNil(t, rep.audio, "the input audio is reported even when left out")
			}
		})
	}
}

// TestBFramesError: the reason for B-frames says what to do in either
// build.
func TestBFramesError(t *testing.T) {
	err := bframesError(nil)
	require.ErrorIs(t, err, ErrBFrames)
	require.Equal(t, "H.264 with B-frames cannot be forwarded without transcoding: "+
		"set B-frames to 0 in the encoder (x264: bframes=0, OBS: profile baseline) or enable transcoding", err.Error())

	err = bframesError(errNoTranscoding)
	require.ErrorIs(t, err, ErrBFrames)
	require.ErrorIs(t, err, errNoTranscoding)
	require.NotContains(t, err.Error(), "enable transcoding")
	require.Contains(t, err.Error(), "tributary-linux-amd64")
}
