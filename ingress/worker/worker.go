// Package worker makes Tributary a worker of a livekit-server cluster:
// livekit-server owns the Ingress API and the records (in Redis), and the
// worker talks to it over psrpc on the same Redis, as LiveKit's own ingress
// worker does. It serves IngressInternal (StartIngress for URL input, with
// an affinity from admission control, and ListActiveIngress) and, per
// session, IngressHandler (UpdateIngress / DeleteIngress on the ingress ID,
// the WHIP resource RPCs on the resource ID, WHIPRTCConnectionNotify on
// the livekit-server participant of a proxied WHIP session) and calls the
// WHIP resource RPCs of other workers; it authorizes publishes with
// IOInfo.GetIngressInfo and reports every state change with
// IOInfo.UpdateIngressState. It knows nothing about media.
package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"github.com/livekit/protocol/rpc"
	"github.com/livekit/psrpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/tributary-ingress/tributary/ingress"
)

// Capacity decides whether this worker takes a session (monitor.Monitor).
type Capacity interface {
	// CanAcceptIngress answers the StartIngress affinity; it reserves
	// nothing.
	CanAcceptIngress(input livekit.IngressInput, transcoding bool) bool
	// Admit accepts a session (charging its cost) or says why not.
	Admit(input livekit.IngressInput, transcoding bool) error
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
	Admission Capacity
	// LaunchURL starts the pull session of a URL ingress. The worker has
	// already reported BUFFERING; the launcher runs the media and ends the
	// session (s.End) when it stops. Nil means URL input is not available
	// and StartIngress answers ErrURLInputUnavailable (with a low
	// affinity, so that a worker that has it wins).
	LaunchURL func(s *Job) error
	Logger    logger.Logger
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
	// resources reaches the WHIP resources of every worker, this one
	// included, by resource ID.
	resources rpc.IngressHandlerClient

	mu         sync.Mutex
	byIngress  map[string]*Job
	byResource map[string]*Job
	// byParticipant has the WHIP proxy sessions by their participant ID
	// on livekit-server, which addresses WHIPRTCConnectionNotify to it.
	byParticipant map[string]*Job
	draining      bool
	sessions      sync.WaitGroup
}

// New connects a Worker to the bus and starts serving its RPCs.
func New(conf Config) (*Worker, error) {
	if conf.Logger == nil {
		conf.Logger = logger.GetLogger()
	}
	if conf.Now == nil {
		conf.Now = time.Now
	}
	w := &Worker{conf: conf, log: conf.Logger, byIngress: map[string]*Job{}, byResource: map[string]*Job{},
		byParticipant: map[string]*Job{}}
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
	if w.resources, err = rpc.NewIngressHandlerClient(conf.Bus); err != nil {
		w.handler.Kill()
		w.internal.Kill()
		w.io.Close()
		return nil, fmt.Errorf("psrpc IngressHandler client: %w", err)
	}
	return w, nil
}

func (w *Worker) now() time.Time { return w.conf.Now() }

// Authorize turns a publish on a stream key (RTMP or WHIP) into a session:
// the ingress is fetched from livekit-server, checked (input type,
// enabled), admitted against this worker's CPU budget, and reported
// BUFFERING. The errors wrap ingress.ErrNotFound, ErrWrongInput,
// ErrDisabled, ErrShutdown or monitor.ErrNoCapacity.
func (w *Worker) Authorize(streamKey string, input livekit.IngressInput) (*Job, error) {
	if w.isDraining() {
		return nil, ingress.ErrShutdown
	}
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	resp, err := w.io.GetIngressInfo(ctx, &rpc.GetIngressInfoRequest{StreamKey: streamKey})
	if err != nil {
		if isNotFound(err) {
			return nil, ingress.ErrNotFound
		}
		return nil, fmt.Errorf("asking livekit-server for the stream key: %w", err)
	}
	info := resp.GetInfo()
	if info == nil {
		return nil, ingress.ErrNotFound
	}
	if info.InputType != input {
		return nil, w.refused(info, input, fmt.Errorf("%w: it is a %s ingress", ingress.ErrWrongInput, info.InputType))
	}
	if info.Enabled != nil && !*info.Enabled {
		return nil, w.refused(info, input, ingress.ErrDisabled)
	}
	settleTranscoding(info)
	if err := w.conf.Admission.Admit(input, info.GetEnableTranscoding()); err != nil {
		w.log.Infow("publish declined", "ingressID", info.IngressId, "reason", err.Error())
		return nil, w.refused(info, input, err)
	}
	return w.start(info, ingress.NewResourceID(input))
}

// refused reports a refused publish on a known stream key to
// livekit-server as the ingress state, as the official worker does: ERROR
// with the reason. When the state livekit-server holds shows a session
// running (on this worker or another), it is left alone: a stray client
// must not hide a live stream.
func (w *Worker) refused(info *livekit.IngressInfo, input livekit.IngressInput, why error) error {
	st := ingress.RefusalState(info.GetState(), input, why, w.now().UnixNano())
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
func (w *Worker) start(info *livekit.IngressInfo, resourceID string) (*Job, error) {
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &Job{
		w:          w,
		info:       proto.Clone(info).(*livekit.IngressInfo),
		resourceID: resourceID,
		log:        ingress.SessionLogger(w.log, info, resourceID),
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
		cancel(ingress.ErrShutdown)
		return nil, ingress.ErrShutdown
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
		prev.cancel(ingress.ErrReplaced)
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
func (w *Worker) remove(s *Job) {
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
	if id := s.participantID; id != "" && w.byParticipant[id] == s {
		delete(w.byParticipant, id)
		w.handler.DeregisterWHIPRTCConnectionNotifyTopic(id)
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
	if w.conf.LaunchURL == nil {
		return nil, ErrURLInputUnavailable
	}
	if w.isDraining() {
		return nil, psrpc.NewError(psrpc.Unavailable, ingress.ErrShutdown)
	}
	settleTranscoding(info)
	if err := w.conf.Admission.Admit(livekit.IngressInput_URL_INPUT, info.GetEnableTranscoding()); err != nil {
		return nil, psrpc.NewError(psrpc.ResourceExhausted, err)
	}
	resourceID := ingress.NewResourceID(livekit.IngressInput_URL_INPUT)
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
	if err := w.conf.LaunchURL(s); err != nil {
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
	if w.conf.LaunchURL == nil {
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
	if err := ingress.WaitSessions(ctx, &w.sessions); err != nil {
		return fmt.Errorf("sessions still running: %w", err)
	}
	return nil
}

// Close stops serving RPCs. Call it after Stop.
func (w *Worker) Close() {
	w.internal.Shutdown()
	w.handler.Shutdown()
	w.resources.Close()
	w.io.Close()
}

// handler serves IngressHandler: the RPCs addressed to one session.
type handler struct{ w *Worker }

func (h handler) lookup(ingressID, resourceID string) *Job {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if resourceID != "" {
		return h.w.byResource[resourceID]
	}
	return h.w.byIngress[ingressID]
}

// stop ends a session with cause and returns its final state (waiting a
// little for it, so a DeleteIngress returns once the session is gone).
func (h handler) stop(ctx context.Context, s *Job, cause error) *livekit.IngressState {
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
	return h.stop(ctx, s, ingress.ErrUpdated), nil
}

func (h handler) DeleteIngress(ctx context.Context, req *livekit.DeleteIngressRequest) (*livekit.IngressState, error) {
	s := h.lookup(req.IngressId, "")
	if s == nil {
		return nil, psrpc.NewErrorf(psrpc.NotFound, "no session of ingress %s on this worker", req.IngressId)
	}
	return h.stop(ctx, s, ingress.ErrDeleted), nil
}

// errWHIPDeleted is the cause when the WHIP resource of a session
// without a WebRTC side yet is deleted over RPC.
var errWHIPDeleted = errors.New("the WHIP resource was deleted")

// DeleteWHIPResource ends the session of a WHIP resource as its client's
// DELETE does, on whichever worker reached it.
func (h handler) DeleteWHIPResource(ctx context.Context, req *rpc.DeleteWHIPResourceRequest) (*emptypb.Empty, error) {
	s := h.lookup("", req.ResourceId)
	if s == nil || (req.StreamKey != "" && s.info.StreamKey != req.StreamKey) {
		return nil, psrpc.NewErrorf(psrpc.NotFound, "no WHIP resource %s on this worker", req.ResourceId)
	}
	r := s.whipResource()
	if r == nil {
		h.stop(ctx, s, errWHIPDeleted)
		return &emptypb.Empty{}, nil
	}
	if err := r.Delete(); err != nil {
		return nil, err
	}
	t := time.NewTimer(endWait)
	defer t.Stop()
	select {
	case <-s.Done():
	case <-t.C:
	case <-ctx.Done():
	}
	return &emptypb.Empty{}, nil
}

// ICERestartWHIPResource applies a client's PATCH on a WHIP resource that
// reached another worker: with If-Match "*" an ICE restart, whose answer
// fragment and new ETag go back, otherwise a trickle fragment. The
// fragment travels as sent (raw_trickle_ice_sdpfrag); from a sender that
// only fills the parsed fields it is rebuilt from them.
func (h handler) ICERestartWHIPResource(ctx context.Context, req *rpc.ICERestartWHIPResourceRequest) (*rpc.ICERestartWHIPResourceResponse, error) {
	s := h.lookup("", req.ResourceId)
	if s == nil || (req.StreamKey != "" && s.info.StreamKey != req.StreamKey) {
		return nil, psrpc.NewErrorf(psrpc.NotFound, "no WHIP resource %s on this worker", req.ResourceId)
	}
	r := s.whipResource()
	if r == nil {
		return nil, psrpc.NewErrorf(psrpc.FailedPrecondition, "the WHIP session of resource %s is not established yet", req.ResourceId)
	}
	frag := req.RawTrickleIceSdpfrag
	if frag == "" {
		frag = fragmentOf(req)
	}
	answer, etag, err := r.Patch(ctx, req.IfMatch, frag)
	if err != nil {
		return nil, err
	}
	return &rpc.ICERestartWHIPResourceResponse{TrickleIceSdpfrag: answer, Etag: etag}, nil
}

// fragmentOf rebuilds a trickle-ice-sdpfrag from a request's parsed
// credentials and candidates.
func fragmentOf(req *rpc.ICERestartWHIPResourceRequest) string {
	var b strings.Builder
	if req.UserFragment != "" {
		fmt.Fprintf(&b, "a=ice-ufrag:%s\r\n", req.UserFragment)
	}
	if req.Password != "" {
		fmt.Fprintf(&b, "a=ice-pwd:%s\r\n", req.Password)
	}
	for _, c := range req.Candidates {
		if !strings.HasPrefix(c, "a=") {
			c = "a=" + c
		}
		b.WriteString(c + "\r\n")
	}
	return b.String()
}

// WHIPRTCConnectionNotify is sent by livekit-server, every 10 s and when
// it closes, about the WebRTC participant it terminates for a WHIP
// session in proxy mode; it goes to that session.
func (h handler) WHIPRTCConnectionNotify(_ context.Context, req *rpc.WHIPRTCConnectionNotifyRequest) (*emptypb.Empty, error) {
	h.w.mu.Lock()
	s := h.w.byParticipant[req.ParticipantId]
	var fn func(*rpc.WHIPRTCConnectionNotifyRequest)
	if s != nil {
		fn = s.onNotify
	}
	h.w.mu.Unlock()
	if fn == nil {
		return nil, psrpc.NewErrorf(psrpc.NotFound, "no WHIP session of participant %s on this worker", req.ParticipantId)
	}
	fn(req)
	return &emptypb.Empty{}, nil
}

// ListenRTCConnection routes livekit-server's WHIPRTCConnectionNotify
// about a participant (the WebRTC side of this WHIP session, which
// livekit-server terminates in proxy mode) to fn until the session ends.
// It is called once per session.
func (s *Job) ListenRTCConnection(participantID string, fn func(*rpc.WHIPRTCConnectionNotifyRequest)) error {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byResource[s.resourceID] != s {
		return errors.New("the session has ended")
	}
	if err := w.handler.RegisterWHIPRTCConnectionNotifyTopic(participantID); err != nil {
		return fmt.Errorf("psrpc WHIPRTCConnectionNotify: %w", err)
	}
	s.participantID, s.onNotify = participantID, fn
	w.byParticipant[participantID] = s
	return nil
}

// resourceTimeout bounds a DeleteWHIPResource or ICERestartWHIPResource
// sent to the worker holding a resource; an ICE restart gathers
// candidates there first.
const resourceTimeout = 15 * time.Second

// DeleteWHIPResource ends a WHIP resource wherever it runs: the DELETE of
// a client that reached this worker for a resource it does not hold.
// The error is a psrpc.Error; NotFound when no worker holds it.
func (w *Worker) DeleteWHIPResource(ctx context.Context, streamKey, resourceID string) error {
	_, err := w.resources.DeleteWHIPResource(ctx, resourceID, &rpc.DeleteWHIPResourceRequest{
		ResourceId: resourceID, StreamKey: streamKey,
	}, psrpc.WithRequestTimeout(resourceTimeout))
	return resourceError(err, resourceID)
}

// ICERestartWHIPResource hands a client's PATCH (trickle, or ICE restart
// with If-Match "*") to the worker holding the resource and returns its
// answer fragment and ETag. The error is a psrpc.Error; NotFound when no
// worker holds it.
func (w *Worker) ICERestartWHIPResource(ctx context.Context, req *rpc.ICERestartWHIPResourceRequest) (*rpc.ICERestartWHIPResourceResponse, error) {
	res, err := w.resources.ICERestartWHIPResource(ctx, req.ResourceId, req, psrpc.WithRequestTimeout(resourceTimeout))
	return res, resourceError(err, req.ResourceId)
}

// resourceError says NotFound when no worker answered for the resource:
// no worker subscribes to the topic of a resource that has ended.
func resourceError(err error, resourceID string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, psrpc.ErrNoResponse) {
		return psrpc.NewErrorf(psrpc.NotFound, "WHIP resource %s not found on any worker: the session has ended or never existed", resourceID)
	}
	var perr psrpc.Error
	if errors.As(err, &perr) {
		return err
	}
	return psrpc.NewError(psrpc.Internal, err)
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
