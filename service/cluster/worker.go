// Package cluster makes Tributary a worker of a livekit-server cluster:
// livekit-server owns the Ingress API and the records (in Redis), and the
// worker talks to it over psrpc on the same Redis, as LiveKit's own ingress
// worker does. It serves IngressInternal (StartIngress for URL input, with
// an affinity from admission control, and ListActiveIngress) and, per
// session, IngressHandler (UpdateIngress / DeleteIngress on the ingress ID,
// the WHIP resource RPCs on the resource ID); it authorizes publishes with
// IOInfo.GetIngressInfo and reports every state change with
// IOInfo.UpdateIngressState. It knows nothing about media.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"github.com/livekit/protocol/rpc"
	"github.com/livekit/psrpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/tributary-ingress/tributary/service"
)

// Admission decides whether this worker takes a session (monitor.Monitor).
type Admission interface {
	// CanAcceptIngress answers the StartIngress affinity; it reserves
	// nothing.
	CanAcceptIngress(input livekit.IngressInput, transcoding bool) bool
	// Admit accepts a session (charging its cost) or says why not.
	Admit(input livekit.IngressInput, transcoding bool) error
}

// URLLauncher starts the pull session of a URL ingress. The worker has
// already reported BUFFERING; the launcher runs the media and ends the
// session (s.End) when it stops.
type URLLauncher interface {
	LaunchURL(s *Session) error
}

// ErrURLInputUnavailable answers StartIngress while this build has no URL
// input.
var ErrURLInputUnavailable = psrpc.NewErrorf(psrpc.Unimplemented, "URL input is not available on this Tributary worker")

// endWait bounds how long UpdateIngress / DeleteIngress wait for the
// session to end before answering.
const endWait = 2 * time.Second

// rpcTimeout bounds the IOInfo calls made while authorizing a publish.
const rpcTimeout = 5 * time.Second

// Config configures a Worker.
type Config struct {
	Bus       psrpc.MessageBus
	Admission Admission
	// URL starts URL ingresses; nil means URL input is not available and
	// StartIngress answers ErrURLInputUnavailable (with a low affinity, so
	// that a worker that has it wins).
	URL    URLLauncher
	Logger logger.Logger
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Worker is the psrpc side of a cluster worker. Close stops it.
type Worker struct {
	conf Config
	log  logger.Logger

	io       rpc.IOInfoClient
	internal rpc.IngressInternalServer
	handler  rpc.IngressHandlerServer

	mu         sync.Mutex
	byIngress  map[string]*Session
	byResource map[string]*Session
	draining   bool
	sessions   sync.WaitGroup
}

// New connects a Worker to the bus and starts serving its RPCs.
func New(conf Config) (*Worker, error) {
	if conf.Logger == nil {
		conf.Logger = logger.GetLogger()
	}
	if conf.Now == nil {
		conf.Now = time.Now
	}
	w := &Worker{conf: conf, log: conf.Logger, byIngress: map[string]*Session{}, byResource: map[string]*Session{}}
	var err error
	if w.io, err = rpc.NewIOInfoClient(conf.Bus); err != nil {
		return nil, fmt.Errorf("psrpc IOInfo client: %w", err)
	}
	if w.internal, err = rpc.NewIngressInternalServer(w, conf.Bus); err != nil {
		w.io.Close()
		return nil, fmt.Errorf("psrpc IngressInternal server: %w", err)
	}
	if err = w.internal.RegisterListActiveIngressTopic(""); err != nil {
		w.internal.Kill()
		w.io.Close()
		return nil, fmt.Errorf("psrpc ListActiveIngress: %w", err)
	}
	if w.handler, err = rpc.NewIngressHandlerServer(handler{w}, conf.Bus); err != nil {
		w.internal.Kill()
		w.io.Close()
		return nil, fmt.Errorf("psrpc IngressHandler server: %w", err)
	}
	return w, nil
}

func (w *Worker) now() time.Time { return w.conf.Now() }

// Authorize turns a publish on a stream key (RTMP or WHIP) into a session:
// the ingress is fetched from livekit-server, checked (input type,
// enabled), admitted against this worker's CPU budget, and reported
// BUFFERING. The errors wrap service.ErrNotFound, ErrWrongInput,
// ErrDisabled, ErrShutdown or monitor.ErrNoCapacity.
func (w *Worker) Authorize(streamKey string, input livekit.IngressInput) (*Session, error) {
	if w.isDraining() {
		return nil, service.ErrShutdown
	}
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	resp, err := w.io.GetIngressInfo(ctx, &rpc.GetIngressInfoRequest{StreamKey: streamKey})
	if err != nil {
		if isNotFound(err) {
			return nil, service.ErrNotFound
		}
		return nil, fmt.Errorf("asking livekit-server for the stream key: %w", err)
	}
	info := resp.GetInfo()
	if info == nil {
		return nil, service.ErrNotFound
	}
	if info.InputType != input {
		return nil, w.refused(info, input, fmt.Errorf("%w: it is a %s ingress", service.ErrWrongInput, info.InputType))
	}
	if info.Enabled != nil && !*info.Enabled {
		return nil, w.refused(info, input, service.ErrDisabled)
	}
	settleTranscoding(info)
	if err := w.conf.Admission.Admit(input, info.GetEnableTranscoding()); err != nil {
		w.log.Infow("publish declined", "ingressID", info.IngressId, "reason", err.Error())
		return nil, w.refused(info, input, err)
	}
	return w.start(info, service.NewResourceID(input))
}

// refused reports a refused publish on a known stream key to
// livekit-server as the ingress state, as the official worker does: ERROR
// with the reason. When the state livekit-server holds shows a session
// running (on this worker or another), it is left alone: a stray client
// must not hide a live stream.
func (w *Worker) refused(info *livekit.IngressInfo, input livekit.IngressInput, why error) error {
	st := service.RefusalState(info.GetState(), input, why, w.now().UnixNano())
	if st == nil {
		return why
	}
	ctx, cancel := context.WithTimeout(context.Background(), stateRPCTimeout)
	defer cancel()
	_, err := w.io.UpdateIngressState(ctx, &rpc.UpdateIngressStateRequest{IngressId: info.IngressId, State: st})
	if err != nil {
		w.log.Warnw("could not report a refused publish to livekit-server", err, "ingressID", info.IngressId)
	}
	return why
}

// start registers a session and reports BUFFERING.
func (w *Worker) start(info *livekit.IngressInfo, resourceID string) (*Session, error) {
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &Session{
		w:          w,
		info:       proto.Clone(info).(*livekit.IngressInfo),
		resourceID: resourceID,
		log:        service.SessionLogger(w.log, info, resourceID),
		ctx:        ctx,
		cancel:     cancel,
		done:       make(chan struct{}),
	}
	startedAt := w.now().UnixNano()
	if prev := info.GetState().GetStartedAt(); startedAt <= prev {
		startedAt = prev + 1
	}
	s.InitReport(&livekit.IngressState{
		Status:     livekit.IngressState_ENDPOINT_BUFFERING,
		StartedAt:  startedAt,
		ResourceId: resourceID,
	}, s.log, s.send)
	s.info.State = nil

	w.mu.Lock()
	if w.draining {
		w.mu.Unlock()
		cancel(service.ErrShutdown)
		return nil, service.ErrShutdown
	}
	prev := w.byIngress[info.IngressId]
	if prev == nil {
		if err := w.registerIngressTopics(info.IngressId); err != nil {
			w.mu.Unlock()
			cancel(err)
			return nil, err
		}
	} else {
		prev.log.Infow("ending session: a new publisher connected on the same stream key")
		prev.cancel(service.ErrReplaced)
	}
	if info.InputType == livekit.IngressInput_WHIP_INPUT {
		if err := w.registerResourceTopics(resourceID); err != nil {
			if prev == nil {
				w.deregisterIngressTopics(info.IngressId)
			}
			w.mu.Unlock()
			cancel(err)
			return nil, err
		}
	}
	w.byIngress[info.IngressId] = s
	w.byResource[resourceID] = s
	w.sessions.Add(1)
	w.mu.Unlock()

	if err := s.WriteState(); err != nil {
		s.log.Warnw("could not report BUFFERING to livekit-server", err)
		cancel(err)
		_ = s.End()
		return nil, fmt.Errorf("reporting the session to livekit-server: %w", err)
	}
	s.log.Infow("session started", "inputType", info.InputType.String(), "room", info.RoomName,
		"transcoding", info.GetEnableTranscoding())
	return s, nil
}

// remove forgets an ended session and its RPC topics.
func (w *Worker) remove(s *Session) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byResource[s.resourceID] == s {
		delete(w.byResource, s.resourceID)
		if s.info.InputType == livekit.IngressInput_WHIP_INPUT {
			w.deregisterResourceTopics(s.resourceID)
		}
	}
	if w.byIngress[s.info.IngressId] == s {
		delete(w.byIngress, s.info.IngressId)
		w.deregisterIngressTopics(s.info.IngressId)
	}
	w.sessions.Done()
}

func (w *Worker) registerIngressTopics(id string) error {
	if err := w.handler.RegisterUpdateIngressTopic(id); err != nil {
		return err
	}
	if err := w.handler.RegisterDeleteIngressTopic(id); err != nil {
		w.handler.DeregisterUpdateIngressTopic(id)
		return err
	}
	return nil
}

func (w *Worker) deregisterIngressTopics(id string) {
	w.handler.DeregisterUpdateIngressTopic(id)
	w.handler.DeregisterDeleteIngressTopic(id)
}

func (w *Worker) registerResourceTopics(id string) error {
	if err := w.handler.RegisterDeleteWHIPResourceTopic(id); err != nil {
		return err
	}
	if err := w.handler.RegisterICERestartWHIPResourceTopic(id); err != nil {
		w.handler.DeregisterDeleteWHIPResourceTopic(id)
		return err
	}
	return nil
}

func (w *Worker) deregisterResourceTopics(id string) {
	w.handler.DeregisterDeleteWHIPResourceTopic(id)
	w.handler.DeregisterICERestartWHIPResourceTopic(id)
}

func (w *Worker) isDraining() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.draining
}

// StartIngress starts a URL ingress that livekit-server's CreateIngress
// sent to this worker (it won the affinity bid). The worker creates the
// record through IOInfo.CreateIngress, as upstream does, since
// livekit-server leaves that to the worker for URL input.
func (w *Worker) StartIngress(ctx context.Context, req *rpc.StartIngressRequest) (*livekit.IngressInfo, error) {
	info := req.GetInfo()
	if info == nil {
		return nil, psrpc.NewErrorf(psrpc.InvalidArgument, "StartIngress without ingress info")
	}
	if w.conf.URL == nil {
		return nil, ErrURLInputUnavailable
	}
	if w.isDraining() {
		return nil, psrpc.NewError(psrpc.Unavailable, service.ErrShutdown)
	}
	settleTranscoding(info)
	if err := w.conf.Admission.Admit(livekit.IngressInput_URL_INPUT, info.GetEnableTranscoding()); err != nil {
		return nil, psrpc.NewError(psrpc.ResourceExhausted, err)
	}
	resourceID := service.NewResourceID(livekit.IngressInput_URL_INPUT)
	created := proto.Clone(info).(*livekit.IngressInfo)
	created.State = &livekit.IngressState{Status: livekit.IngressState_ENDPOINT_BUFFERING, ResourceId: resourceID}
	cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	_, err := w.io.CreateIngress(cctx, created)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("creating the ingress record in livekit-server: %w", err)
	}
	s, err := w.start(info, resourceID)
	if err != nil {
		return nil, err
	}
	if err := w.conf.URL.LaunchURL(s); err != nil {
		_ = s.Fail(err)
		_ = s.End()
	}
	out := proto.Clone(s.info).(*livekit.IngressInfo)
	out.State = s.State()
	return out, nil
}

// StartIngressAffinity bids for a URL ingress: 1 when this worker can
// take it, -1 when it cannot (draining, no CPU budget). A worker without
// URL input bids low (0.1) so that one with it wins, and answers with a
// clear error when it is the only one.
func (w *Worker) StartIngressAffinity(_ context.Context, req *rpc.StartIngressRequest) float32 {
	info := req.GetInfo()
	if info == nil || w.isDraining() {
		return -1
	}
	tr := true
	if info.EnableTranscoding != nil {
		tr = *info.EnableTranscoding
	}
	if !w.conf.Admission.CanAcceptIngress(livekit.IngressInput_URL_INPUT, tr) {
		return -1
	}
	if w.conf.URL == nil {
		return 0.1
	}
	return 1
}

// ListActiveIngress lists the sessions running on this worker.
func (w *Worker) ListActiveIngress(context.Context, *rpc.ListActiveIngressRequest) (*rpc.ListActiveIngressResponse, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	res := &rpc.ListActiveIngressResponse{}
	for _, s := range w.byResource {
		res.IngressIds = append(res.IngressIds, s.info.IngressId)
		res.IngressSessions = append(res.IngressSessions, &rpc.IngressSession{IngressId: s.info.IngressId, ResourceId: s.resourceID})
	}
	return res, nil
}

// Active returns how many sessions run on this worker.
func (w *Worker) Active() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.byResource)
}

// Drain refuses new sessions from now on and waits until the running ones
// have ended, at most until ctx is done.
func (w *Worker) Drain(ctx context.Context) error {
	w.mu.Lock()
	w.draining = true
	w.mu.Unlock()
	return w.wait(ctx)
}

// Stop refuses new sessions, ends the running ones with cause, and waits
// for them to report their end, at most until ctx is done.
func (w *Worker) Stop(ctx context.Context, cause error) error {
	w.mu.Lock()
	w.draining = true
	for _, s := range w.byResource {
		s.cancel(cause)
	}
	w.mu.Unlock()
	return w.wait(ctx)
}

func (w *Worker) wait(ctx context.Context) error {
	if err := service.WaitSessions(ctx, &w.sessions); err != nil {
		return fmt.Errorf("sessions still running: %w", err)
	}
	return nil
}

// Close stops serving RPCs. Call it after Stop.
func (w *Worker) Close() {
	w.internal.Shutdown()
	w.handler.Shutdown()
	w.io.Close()
}

// handler serves IngressHandler: the RPCs addressed to one session.
type handler struct{ w *Worker }

func (h handler) lookup(ingressID, resourceID string) *Session {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if resourceID != "" {
		return h.w.byResource[resourceID]
	}
	return h.w.byIngress[ingressID]
}

// stop ends a session with cause and returns its final state (waiting a
// little for it, so a DeleteIngress returns once the session is gone).
func (h handler) stop(ctx context.Context, s *Session, cause error) *livekit.IngressState {
	s.log.Infow("ending session", "reason", cause.Error())
	s.cancel(cause)
	t := time.NewTimer(endWait)
	defer t.Stop()
	select {
	case <-s.Done():
	case <-t.C:
	case <-ctx.Done():
	}
	return s.State()
}

func (h handler) UpdateIngress(ctx context.Context, req *livekit.UpdateIngressRequest) (*livekit.IngressState, error) {
	s := h.lookup(req.IngressId, "")
	if s == nil {
		return nil, psrpc.NewErrorf(psrpc.NotFound, "no session of ingress %s on this worker", req.IngressId)
	}
	return h.stop(ctx, s, service.ErrUpdated), nil
}

func (h handler) DeleteIngress(ctx context.Context, req *livekit.DeleteIngressRequest) (*livekit.IngressState, error) {
	s := h.lookup(req.IngressId, "")
	if s == nil {
		return nil, psrpc.NewErrorf(psrpc.NotFound, "no session of ingress %s on this worker", req.IngressId)
	}
	return h.stop(ctx, s, service.ErrDeleted), nil
}

// errWHIPDeleted is the cause when the WHIP resource is deleted over RPC.
var errWHIPDeleted = errors.New("the WHIP resource was deleted")

func (h handler) DeleteWHIPResource(ctx context.Context, req *rpc.DeleteWHIPResourceRequest) (*emptypb.Empty, error) {
	s := h.lookup("", req.ResourceId)
	if s == nil || (req.StreamKey != "" && s.info.StreamKey != req.StreamKey) {
		return nil, psrpc.NewErrorf(psrpc.NotFound, "no WHIP resource %s on this worker", req.ResourceId)
	}
	h.stop(ctx, s, errWHIPDeleted)
	return &emptypb.Empty{}, nil
}

// ICERestartWHIPResource is answered as upstream does: trickle ICE and ICE
// restarts go to the worker's own WHIP endpoint (PATCH on the resource
// URL), not through livekit-server.
func (h handler) ICERestartWHIPResource(context.Context, *rpc.ICERestartWHIPResourceRequest) (*rpc.ICERestartWHIPResourceResponse, error) {
	return nil, psrpc.NewErrorf(psrpc.UnprocessableEntity,
		"trickle ICE and ICE restart go to the worker's WHIP endpoint (PATCH on the resource URL)")
}

func (h handler) WHIPRTCConnectionNotify(context.Context, *rpc.WHIPRTCConnectionNotifyRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// settleTranscoding applies livekit-server's default when a record lacks
// enable_transcoding: off for WHIP, on for the other inputs.
func settleTranscoding(info *livekit.IngressInfo) {
	if info.EnableTranscoding != nil {
		return
	}
	on := info.InputType != livekit.IngressInput_WHIP_INPUT
	info.EnableTranscoding = &on
}
