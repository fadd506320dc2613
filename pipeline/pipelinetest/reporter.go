package pipelinetest

import (
	"context"
	"sync"
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
)

// Reporter is a pipeline.Reporter that records what the session reports.
type Reporter struct {
	info   *livekit.IngressInfo
	ctx    context.Context
	cancel context.CancelCauseFunc
	ended  chan struct{}

	mu         sync.Mutex
	publishing int
	roomIDs    []string
	tracks     []*livekit.TrackInfo
	video      *livekit.InputVideoState
	audio      *livekit.InputAudioState
	warns      []error
	fails      []error
}

// NewReporter returns the reporter of a session of the ingress info.
func NewReporter(info *livekit.IngressInfo) *Reporter {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &Reporter{info: info, ctx: ctx, cancel: cancel, ended: make(chan struct{})}
}

// Cancel ends the session from the service's side (update, delete).
func (r *Reporter) Cancel(cause error) { r.cancel(cause) }

func (r *Reporter) Info() *livekit.IngressInfo { return r.info }
func (r *Reporter) ResourceID() string         { return "RT_test" }
func (r *Reporter) Logger() logger.Logger      { return logger.GetLogger() }
func (r *Reporter) Context() context.Context   { return r.ctx }

func (r *Reporter) SetPublishing() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.publishing++
	return nil
}

func (r *Reporter) SetInputVideo(v *livekit.InputVideoState) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.video = v
	return nil
}

func (r *Reporter) SetInputAudio(a *livekit.InputAudioState) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.audio = a
	return nil
}

func (r *Reporter) SetRoomID(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.roomIDs = append(r.roomIDs, id)
	return nil
}

func (r *Reporter) AddTrack(ti *livekit.TrackInfo) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tracks = append(r.tracks, ti)
	return nil
}

func (r *Reporter) Warn(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warns = append(r.warns, err)
	return nil
}

func (r *Reporter) Fail(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fails = append(r.fails, err)
	return nil
}

func (r *Reporter) End() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.ended:
		panic("End called twice")
	default:
		close(r.ended)
	}
	return nil
}

// Ended is closed once the session reported its end.
func (r *Reporter) Ended() <-chan struct{} { return r.ended }

// WaitEnd waits until the session reported its end, and returns its
// failure, nil when it ended without one.
func (r *Reporter) WaitEnd(t testing.TB) error {
	t.Helper()
	Eventually(t, func() bool {
		select {
		case <-r.ended:
			return true
		default:
			return false
		}
	}, "the session did not end")
	r.mu.Lock()
	defer r.mu.Unlock()
	switch len(r.fails) {
	case 0:
		return nil
	case 1:
		return r.fails[0]
	}
	t.Fatalf("the session failed %d times: %v", len(r.fails), r.fails)
	return nil
}

// Publishing returns how often PUBLISHING was recorded.
func (r *Reporter) Publishing() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.publishing
}

// RoomIDs returns the room IDs recorded, one per join.
func (r *Reporter) RoomIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.roomIDs...)
}

// Tracks returns the published tracks recorded.
func (r *Reporter) Tracks() []*livekit.TrackInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*livekit.TrackInfo(nil), r.tracks...)
}

// Input returns the input state last recorded.
func (r *Reporter) Input() (*livekit.InputVideoState, *livekit.InputAudioState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.video, r.audio
}

// Warnings returns the warnings recorded.
func (r *Reporter) Warnings() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.warns...)
}

// Failures returns the failures recorded.
func (r *Reporter) Failures() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.fails...)
}
