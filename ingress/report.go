package ingress

import (
	"sync"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"google.golang.org/protobuf/proto"
)

// Report is the reporting half of a session: the state a media pipeline
// builds through it and LiveKit's rules for it (the first error sticks,
// nothing is reported after the end). The standalone Run and the
// cluster worker's session share it and differ only in where each state
// goes (the store, or livekit-server's IOInfo).
type Report struct {
	// write sends a state; it is called with the lock held, so the states
	// of one session are sent in order. It gets the live state: it copies
	// what it keeps.
	write func(st *livekit.IngressState) error
	log   logger.Logger

	mu     sync.Mutex
	state  *livekit.IngressState
	failed bool
	ended  bool

	hookMu    sync.Mutex
	hooksDone bool
	onEnd     []func()
}

// OnEnd registers fn to run once the session has ended (at once, in its
// own goroutine, when it already has).
func (r *Report) OnEnd(fn func()) {
	r.hookMu.Lock()
	defer r.hookMu.Unlock()
	if r.hooksDone {
		go fn()
		return
	}
	r.onEnd = append(r.onEnd, fn)
}

// RunEndHooks runs the functions given to OnEnd; the session's End calls
// it once, after its final state.
func (r *Report) RunEndHooks() {
	r.hookMu.Lock()
	r.hooksDone = true
	hooks := r.onEnd
	r.onEnd = nil
	r.hookMu.Unlock()
	for _, fn := range hooks {
		fn()
	}
}

// InitReport sets the first state, the logger and where states go. Call
// it once, before any other method.
func (r *Report) InitReport(state *livekit.IngressState, log logger.Logger, write func(*livekit.IngressState) error) {
	r.state, r.log, r.write = state, log, write
}

// WriteState sends the current state again (the first BUFFERING).
func (r *Report) WriteState() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.write(r.state)
}

// State returns a copy of the state last reported.
func (r *Report) State() *livekit.IngressState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return proto.Clone(r.state).(*livekit.IngressState)
}

// SetPublishing reports that media flows into the room.
func (r *Report) SetPublishing() error {
	return r.modify(func(st *livekit.IngressState) { st.Status = livekit.IngressState_ENDPOINT_PUBLISHING })
}

// SetInputVideo reports what the source's video is.
func (r *Report) SetInputVideo(v *livekit.InputVideoState) error {
	return r.modify(func(st *livekit.IngressState) { st.Video = v })
}

// SetInputAudio reports what the source's audio is.
func (r *Report) SetInputAudio(a *livekit.InputAudioState) error {
	return r.modify(func(st *livekit.IngressState) { st.Audio = a })
}

// SetRoomID reports the ID of the room joined.
func (r *Report) SetRoomID(id string) error {
	return r.modify(func(st *livekit.IngressState) { st.RoomId = id })
}

// AddTrack reports a published track.
func (r *Report) AddTrack(t *livekit.TrackInfo) error {
	return r.modify(func(st *livekit.IngressState) { st.Tracks = append(st.Tracks, t) })
}

// Warn puts a problem the streamer should fix in the state's error field
// while the session goes on: the status does not change. LiveKit's state
// has one place for a reason, so a later Fail replaces the warning, and a
// warning never replaces an error.
func (r *Report) Warn(err error) error {
	r.log.Warnw("session warning", err)
	return r.modify(func(st *livekit.IngressState) {
		if !r.failed {
			st.Error = err.Error()
		}
	})
}

// Fail puts the session in ERROR with a reason a streamer can act on. The
// first error of a session sticks; later ones are only logged.
func (r *Report) Fail(err error) error {
	r.mu.Lock()
	if r.failed || r.ended {
		r.mu.Unlock()
		r.log.Debugw("further session error", err)
		return nil
	}
	r.failed = true
	r.state.Status = livekit.IngressState_ENDPOINT_ERROR
	r.state.Error = err.Error()
	werr := r.write(r.state)
	r.mu.Unlock()
	r.log.Warnw("session failed", err)
	return werr
}

// EndStatus is the status a session of input ends with when it did not
// fail: COMPLETE for a URL input that reached the end of its media (its
// context was not cancelled: cause is nil), INACTIVE otherwise (RTMP and
// WHIP ingresses are reusable).
func EndStatus(input livekit.IngressInput, cause error) livekit.IngressState_Status {
	if input == livekit.IngressInput_URL_INPUT && cause == nil {
		return livekit.IngressState_ENDPOINT_COMPLETE
	}
	return livekit.IngressState_ENDPOINT_INACTIVE
}

// Finish reports the end: status (EndStatus's), unless the session failed
// (ERROR stays), with ended_at. first is false when the session had
// already finished (nothing is sent again).
func (r *Report) Finish(status livekit.IngressState_Status, endedAt int64) (_ livekit.IngressState_Status, first bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return r.state.Status, false, nil
	}
	r.ended = true
	if !r.failed {
		r.state.Status = status
	}
	r.state.EndedAt = endedAt
	err = r.write(r.state)
	return r.state.Status, true, err
}

func (r *Report) modify(fn func(st *livekit.IngressState)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return nil
	}
	fn(r.state)
	if r.failed {
		r.state.Status = livekit.IngressState_ENDPOINT_ERROR
	}
	return r.write(r.state)
}
