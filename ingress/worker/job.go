package worker

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

	"github.com/tributary-ingress/tributary/ingress"
)

// stateRPCTimeout bounds one UpdateIngressState call.
const stateRPCTimeout = 5 * time.Second

// Job is one run of an ingress on this worker. It has the method set
// of the standalone ingress.Run (pipeline.Reporter), but every state
// change goes to livekit-server through IOInfo.UpdateIngressState, which
// owns the record.
type Job struct {
	w          *Worker
	info       *livekit.IngressInfo
	resourceID string
	log        logger.Logger

	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{} // closed by End

	// Report holds the state and its rules; states go to livekit-server.
	ingress.Report
	updatedAt int64 // of the last state sent; guarded by the Report's lock

	whipMu sync.Mutex
	whip   WHIPResource
	// participantID and onNotify route WHIPRTCConnectionNotify (proxy
	// mode); guarded by the worker's lock.
	participantID string
	onNotify      func(*rpc.WHIPRTCConnectionNotifyRequest)
}

// WHIPResource is the WebRTC side of a WHIP session, which the RPCs
// addressed to its resource ID reach (a client's DELETE or PATCH that
// reached another worker). Errors should be psrpc errors, whose codes
// become the client's HTTP status.
type WHIPResource interface {
	// Delete ends the session as its client's DELETE does.
	Delete() error
	// Patch applies a PATCH: with ifMatch "*" an ICE restart, returning
	// the answer fragment and the new ETag; otherwise a trickle fragment.
	Patch(ctx context.Context, ifMatch, fragment string) (answer, etag string, err error)
}

// SetWHIPResource connects the session's WHIP resource RPCs to its
// WebRTC side; until then DeleteWHIPResource ends the session and
// ICERestartWHIPResource answers FailedPrecondition.
func (s *Job) SetWHIPResource(r WHIPResource) {
	s.whipMu.Lock()
	defer s.whipMu.Unlock()
	s.whip = r
}

func (s *Job) whipResource() WHIPResource {
	s.whipMu.Lock()
	defer s.whipMu.Unlock()
	return s.whip
}

// Info returns the ingress record as it was when the session started.
func (s *Job) Info() *livekit.IngressInfo { return s.info }

// ResourceID returns the session's resource ID (RT_/WH_/UR_…).
func (s *Job) ResourceID() string { return s.resourceID }

// Logger returns a logger whose every line carries ingress and resource ID.
func (s *Job) Logger() logger.Logger { return s.log }

// Context is cancelled when the session must stop; context.Cause tells why.
func (s *Job) Context() context.Context { return s.ctx }

// Done is closed once the session has ended and reported its end.
func (s *Job) Done() <-chan struct{} { return s.done }

// End finishes the session: INACTIVE for RTMP and WHIP, COMPLETE for a URL
// input that reached its end, ERROR when it failed. Calling End more than
// once is harmless.
func (s *Job) End() error {
	status, first, err := s.Finish(ingress.EndStatus(s.info.InputType, context.Cause(s.ctx)), s.w.now().UnixNano())
	if !first {
		return nil
	}
	if isNotFound(err) {
		err = nil // deleted meanwhile: nothing to record
	}
	s.w.remove(s)
	cause := context.Cause(s.ctx)
	s.cancel(nil)
	s.RunEndHooks()
	close(s.done)
	if cause != nil {
		s.log.Infow("session ended", "status", status.String(), "reason", cause.Error())
	} else {
		s.log.Infow("session ended", "status", status.String())
	}
	return err
}

// send sends a state to livekit-server; the Report's lock is held, so the
// updates of one session arrive in order, with increasing updated_at. A
// refusal as out of date means a newer session of the same ingress (on
// any worker) took over: this one ends.
func (s *Job) send(state *livekit.IngressState) error {
	now := s.w.now().UnixNano()
	if now <= s.updatedAt {
		now = s.updatedAt + 1
	}
	s.updatedAt = now
	state.UpdatedAt = now
	st := proto.Clone(state).(*livekit.IngressState)
	ctx, cancel := context.WithTimeout(context.Background(), stateRPCTimeout)
	defer cancel()
	_, err := s.w.io.UpdateIngressState(ctx, &rpc.UpdateIngressStateRequest{IngressId: s.info.IngressId, State: st})
	if err != nil {
		var perr psrpc.Error
		if errors.As(err, &perr) && perr.Code() == psrpc.FailedPrecondition {
			s.cancel(ingress.ErrReplaced)
			return nil
		}
	}
	return err
}

func isNotFound(err error) bool {
	var perr psrpc.Error
	return err != nil && errors.As(err, &perr) && perr.Code() == psrpc.NotFound
}
