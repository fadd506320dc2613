package cluster

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"github.com/livekit/protocol/rpc"
	"github.com/livekit/psrpc"
	"google.golang.org/protobuf/proto"

	"github.com/tributary-ingress/tributary/service"
)

// stateRPCTimeout bounds one UpdateIngressState call.
const stateRPCTimeout = 5 * time.Second

// Session is one run of an ingress on this worker. It has the method set
// of the standalone service.Session (session.Reporter), but every state
// change goes to livekit-server through IOInfo.UpdateIngressState, which
// owns the record.
type Session struct {
	w          *Worker
	info       *livekit.IngressInfo
	resourceID string
	log        logger.Logger

	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{} // closed by End

	mu        sync.Mutex
	state     *livekit.IngressState
	updatedAt int64
	failed    bool
	ended     bool
	onEnd     []func()
}

// Info returns the ingress record as it was when the session started.
func (s *Session) Info() *livekit.IngressInfo { return s.info }

// ResourceID returns the session's resource ID (RT_/WH_/UR_…).
func (s *Session) ResourceID() string { return s.resourceID }

// Logger returns a logger whose every line carries ingress and resource ID.
func (s *Session) Logger() logger.Logger { return s.log }

// Context is cancelled when the session must stop; context.Cause tells why.
func (s *Session) Context() context.Context { return s.ctx }

// Done is closed once the session has ended and reported its end.
func (s *Session) Done() <-chan struct{} { return s.done }

// State returns a copy of the state the session last reported.
func (s *Session) State() *livekit.IngressState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return proto.Clone(s.state).(*livekit.IngressState)
}

// OnEnd registers fn to run once the session has ended.
func (s *Session) OnEnd(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		go fn()
		return
	}
	s.onEnd = append(s.onEnd, fn)
}

// SetPublishing reports that media flows into the room.
func (s *Session) SetPublishing() error {
	return s.modify(func(st *livekit.IngressState) { st.Status = livekit.IngressState_ENDPOINT_PUBLISHING })
}

// SetInputVideo reports what the source's video is.
func (s *Session) SetInputVideo(v *livekit.InputVideoState) error {
	return s.modify(func(st *livekit.IngressState) { st.Video = v })
}

// SetInputAudio reports what the source's audio is.
func (s *Session) SetInputAudio(a *livekit.InputAudioState) error {
	return s.modify(func(st *livekit.IngressState) { st.Audio = a })
}

// SetRoomID reports the ID of the room joined.
func (s *Session) SetRoomID(id string) error {
	return s.modify(func(st *livekit.IngressState) { st.RoomId = id })
}

// AddTrack reports a published track.
func (s *Session) AddTrack(t *livekit.TrackInfo) error {
	return s.modify(func(st *livekit.IngressState) { st.Tracks = append(st.Tracks, t) })
}

// Fail puts the session in ERROR with a reason a streamer can act on. The
// first error of a session sticks (livekit-server does not enforce it, so
// the worker does).
func (s *Session) Fail(err error) error {
	s.mu.Lock()
	if s.failed || s.ended {
		s.mu.Unlock()
		s.log.Debugw("further session error", err)
		return nil
	}
	s.failed = true
	s.state.Status = livekit.IngressState_ENDPOINT_ERROR
	s.state.Error = err.Error()
	werr := s.writeLocked()
	s.mu.Unlock()
	s.log.Warnw("session failed", err)
	return werr
}

// End finishes the session: INACTIVE for RTMP and WHIP, COMPLETE for a URL
// input that reached its end, ERROR when it failed. Calling End more than
// once is harmless.
func (s *Session) End() error {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return nil
	}
	s.ended = true
	if !s.failed {
		if s.info.InputType == livekit.IngressInput_URL_INPUT && context.Cause(s.ctx) == nil {
			s.state.Status = livekit.IngressState_ENDPOINT_COMPLETE
		} else {
			s.state.Status = livekit.IngressState_ENDPOINT_INACTIVE
		}
	}
	s.state.EndedAt = s.w.now().UnixNano()
	err := s.writeLocked()
	if isNotFound(err) {
		err = nil // deleted meanwhile: nothing to record
	}
	status := s.state.Status
	hooks := s.onEnd
	s.onEnd = nil
	s.mu.Unlock()

	s.w.remove(s)
	cause := context.Cause(s.ctx)
	s.cancel(nil)
	for _, fn := range hooks {
		fn()
	}
	close(s.done)
	if cause != nil {
		s.log.Infow("session ended", "status", status.String(), "reason", cause.Error())
	} else {
		s.log.Infow("session ended", "status", status.String())
	}
	return err
}

func (s *Session) modify(fn func(st *livekit.IngressState)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil
	}
	fn(s.state)
	if s.failed {
		s.state.Status = livekit.IngressState_ENDPOINT_ERROR
	}
	return s.writeLocked()
}

// writeLocked sends the state to livekit-server; s.mu is held, so the
// updates of one session arrive in order, with increasing updated_at. A
// refusal as out of date means a newer session of the same ingress (on
// any worker) took over: this one ends.
func (s *Session) writeLocked() error {
	now := s.w.now().UnixNano()
	if now <= s.updatedAt {
		now = s.updatedAt + 1
	}
	s.updatedAt = now
	s.state.UpdatedAt = now
	st := proto.Clone(s.state).(*livekit.IngressState)
	ctx, cancel := context.WithTimeout(context.Background(), stateRPCTimeout)
	defer cancel()
	_, err := s.w.io.UpdateIngressState(ctx, &rpc.UpdateIngressStateRequest{IngressId: s.info.IngressId, State: st})
	if err != nil {
		var perr psrpc.Error
		if errors.As(err, &perr) && perr.Code() == psrpc.FailedPrecondition {
			s.cancel(service.ErrReplaced)
			return nil
		}
	}
	return err
}

func isNotFound(err error) bool {
	var perr psrpc.Error
	return err != nil && errors.As(err, &perr) && perr.Code() == psrpc.NotFound
}
