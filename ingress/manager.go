package ingress

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"google.golang.org/protobuf/proto"
)

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	Store *Store
	// RTMPBaseURL and WHIPBaseURL are shown in IngressInfo.url; an empty one
	// means that input is disabled and ingresses of its type are refused.
	RTMPBaseURL string
	WHIPBaseURL string
	// EnableUDPURLPull allows URL ingresses with a udp:// URL
	// (enable_udp_url_pull).
	EnableUDPURLPull bool
	Logger           logger.Logger
	// Now returns the current time; time.Now when nil (tests set it).
	Now func() time.Time
	// Admission, when set, admits each session against the machine's
	// capacity (standalone admission, monitor.Monitor). A refused
	// publish or URL ingress gets ERROR with the reason in its state.
	Admission Admission
	// OnStatusChange, when set, is called after a session's state (or a
	// refused publish, or the end of an interrupted session) changed the
	// stored status of an ingress from prev: the moments livekit-server
	// sends its ingress webhooks at (see Webhooks). It gets a copy of the
	// stored record; it must not block. Calls for one ingress come in
	// the order of the writes.
	OnStatusChange func(info *livekit.IngressInfo, prev livekit.IngressState_Status)
}

// Admission decides whether the machine takes one more session.
type Admission interface {
	// Reserve charges a session's cost until release is called, or
	// declines it with the reason.
	Reserve(input livekit.IngressInput, transcoding bool) (release func(), err error)
	// CanAccept reports whether the most expensive session would be
	// admitted now (/availability).
	CanAccept() bool
}

// Manager owns the ingress records and the running sessions. The API
// changes records through it, and media sessions report their state
// through the Run it hands out.
type Manager struct {
	conf ManagerConfig
	log  logger.Logger
	// launchURL starts the pull session of a URL ingress. It is nil until
	// the URL input exists; the API then refuses URL ingresses clearly.
	launchURL func(s *Run)

	mu       sync.Mutex
	active   map[string]*Run // by ingress ID
	closed   bool
	sessions sync.WaitGroup
}

// NewManager returns a Manager over an open store.
func NewManager(conf ManagerConfig) *Manager {
	if conf.Now == nil {
		conf.Now = time.Now
	}
	if conf.Logger == nil {
		conf.Logger = logger.GetLogger()
	}
	return &Manager{conf: conf, log: conf.Logger, active: map[string]*Run{}}
}

// SetURLLauncher installs the URL input: launch starts the pull session
// of a URL ingress. Call before serving the API.
func (m *Manager) SetURLLauncher(launch func(s *Run)) { m.launchURL = launch }

// Store returns the record store.
func (m *Manager) Store() *Store { return m.conf.Store }

// Run is one run of an ingress, from connect to disconnect (or from
// creation to end of media for URL input). The media pipeline reports
// through it; its Context is cancelled when the API ends the session
// (update, delete, a newer publisher, shutdown), with the reason as cause.
type Run struct {
	m          *Manager
	info       *livekit.IngressInfo
	resourceID string
	startedAt  int64
	log        logger.Logger

	ctx    context.Context
	cancel context.CancelCauseFunc
	// release frees the session's admission charge when it ends (nil
	// once a newer publisher took it over); under m.mu.
	release func()

	// Report holds the state and its rules; states go to the store.
	Report
}

// StartSession authorizes a publish on a stream key for the given input
// type and starts its session. A session already running on the same
// ingress is ended (the last publisher wins).
func (m *Manager) StartSession(streamKey string, input livekit.IngressInput) (*Run, error) {
	info, err := m.conf.Store.GetByStreamKey(streamKey)
	if err != nil {
		return nil, err
	}
	if info.InputType != input {
		return nil, m.refused(info, input, fmt.Errorf("%w: it is a %s ingress", ErrWrongInput, inputName(info.InputType)))
	}
	if info.Enabled != nil && !*info.Enabled {
		return nil, m.refused(info, input, ErrDisabled)
	}
	s, err := m.start(info)
	if err != nil && !errors.Is(err, ErrShutdown) {
		return nil, m.refused(info, input, err)
	}
	return s, err
}

// notAdmitted is a refusal by Admission; it reads as its reason.
type notAdmitted struct{ error }

func (e notAdmitted) Unwrap() error { return e.error }

// refused records a refused publish on a known stream key in the ingress
// state, as the official worker does: ERROR with the reason, so that
// whoever set the ingress up sees why their encoder was turned away (the
// log alone says it to the operator). A publish refused while a session
// of the ingress runs leaves that session's state alone: a stray or
// misconfigured client must not hide a live stream.
func (m *Manager) refused(info *livekit.IngressInfo, input livekit.IngressInput, why error) error {
	m.log.Infow("publish refused", "ingressID", info.IngressId, "input", inputName(input), "reason", why.Error())
	// Under m.mu, so that no session of the ingress starts between the
	// check and the write (its state would then be older than the
	// refusal's and be dropped as stale).
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.active[info.IngressId] != nil {
		return why
	}
	now := m.conf.Now().UnixNano()
	var prev livekit.IngressState_Status
	stored, err := m.conf.Store.Modify(info.IngressId, func(rec *livekit.IngressInfo) error {
		prev = rec.State.GetStatus()
		st := RefusalState(rec.State, input, why, now)
		if st == nil {
			return errStale
		}
		rec.State = st
		return nil
	})
	switch {
	case errors.Is(err, errStale):
	case err != nil:
		m.log.Warnw("could not record a refused publish in the ingress state", err, "ingressID", info.IngressId)
	default:
		m.statusChanged(stored, prev)
	}
	return why
}

// refusalRewrite is how long a refusal already in the state is not
// written again: a client retrying a refused publish in a loop costs no
// store write (standalone) or RPC (cluster mode).
const refusalRewrite = 10 * time.Second

// RefusalState returns the state a refused publish on an ingress whose
// state is cur records at now (unix nanoseconds): ERROR with the reason,
// as the official worker writes it. It returns nil when cur must be left
// as it is: a session's state (BUFFERING, PUBLISHING: a stray or
// misconfigured client must not hide a live stream), or the same refusal
// written less than refusalRewrite ago.
func RefusalState(cur *livekit.IngressState, input livekit.IngressInput, why error, now int64) *livekit.IngressState {
	switch {
	case isActive(cur.GetStatus()):
		return nil
	case cur.GetStatus() == livekit.IngressState_ENDPOINT_ERROR && cur.GetError() == why.Error() &&
		now-cur.GetUpdatedAt() < int64(refusalRewrite):
		return nil
	}
	return &livekit.IngressState{
		Status:     livekit.IngressState_ENDPOINT_ERROR,
		Error:      why.Error(),
		StartedAt:  now,
		EndedAt:    now,
		UpdatedAt:  now,
		ResourceId: NewResourceID(input),
	}
}

func (m *Manager) start(info *livekit.IngressInfo) (*Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrShutdown
	}
	// Admission charges the session until it ends. A publisher that
	// replaces the running session of the same ingress (an encoder
	// reconnecting) takes over that session's charge instead.
	release := func() {}
	prev := m.active[info.IngressId]
	switch {
	case prev != nil:
		release, prev.release = prev.release, nil
	case m.conf.Admission != nil:
		var err error
		if release, err = m.conf.Admission.Reserve(info.InputType, info.GetEnableTranscoding()); err != nil {
			return nil, notAdmitted{err}
		}
	}
	if prev != nil {
		prev.log.Infow("ending session: a new publisher connected on the same stream key")
		prev.cancel(ErrReplaced)
		delete(m.active, info.IngressId)
	}

	startedAt := m.conf.Now().UnixNano()
	if info.State != nil && startedAt <= info.State.StartedAt {
		startedAt = info.State.StartedAt + 1
	}
	resourceID := NewResourceID(info.InputType)
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &Run{
		m:          m,
		info:       proto.Clone(info).(*livekit.IngressInfo),
		resourceID: resourceID,
		startedAt:  startedAt,
		log:        SessionLogger(m.log, info, resourceID),
		ctx:        ctx,
		cancel:     cancel,
		release:    release,
	}
	s.InitReport(&livekit.IngressState{
		Status:     livekit.IngressState_ENDPOINT_BUFFERING,
		StartedAt:  startedAt,
		ResourceId: resourceID,
	}, s.log, s.store)
	if err := s.WriteState(); err != nil {
		cancel(err)
		if release != nil {
			release()
		}
		return nil, err
	}
	m.active[info.IngressId] = s
	m.sessions.Add(1)
	s.log.Infow("session started", "inputType", inputName(info.InputType))
	return s, nil
}

// Info returns the ingress record as it was when the session started.
func (s *Run) Info() *livekit.IngressInfo { return s.info }

// ResourceID returns the session's resource ID (RT_/WH_/UR_…).
func (s *Run) ResourceID() string { return s.resourceID }

// Logger returns a logger whose every line carries ingress and resource ID.
func (s *Run) Logger() logger.Logger { return s.log }

// Context is cancelled when the session must stop; context.Cause tells why.
func (s *Run) Context() context.Context { return s.ctx }

// End finishes the session: INACTIVE for reusable inputs (RTMP, WHIP),
// COMPLETE for URL input, unless it failed (ERROR stays). Calling End more
// than once is harmless.
func (s *Run) End() error {
	status, first, err := s.Finish(EndStatus(s.info.InputType, context.Cause(s.ctx)), s.m.conf.Now().UnixNano())
	if !first {
		return nil
	}
	if errors.Is(err, ErrNotFound) {
		err = nil // deleted meanwhile: nothing to record
	}

	s.m.mu.Lock()
	if s.m.active[s.info.IngressId] == s {
		delete(s.m.active, s.info.IngressId)
	}
	release := s.release
	s.release = nil
	s.m.mu.Unlock()
	if release != nil {
		release()
	}
	cause := context.Cause(s.ctx)
	s.cancel(nil)
	s.RunEndHooks()
	s.m.sessions.Done()
	if cause != nil {
		s.log.Infow("session ended", "status", status.String(), "reason", cause.Error())
	} else {
		s.log.Infow("session ended", "status", status.String())
	}
	return err
}

// store writes a state of the session to the record.
func (s *Run) store(st *livekit.IngressState) error {
	_, err := s.m.UpdateState(s.info.IngressId, proto.Clone(st).(*livekit.IngressState))
	return err
}

// UpdateState merges a reported state into the stored record (see
// applyState for the rules) and stamps updated_at. It reports whether the
// update was applied; a stale one is not.
func (m *Manager) UpdateState(ingressID string, st *livekit.IngressState) (bool, error) {
	applied := false
	var prev livekit.IngressState_Status
	stored, err := m.conf.Store.Modify(ingressID, func(info *livekit.IngressInfo) error {
		st.UpdatedAt = m.conf.Now().UnixNano()
		prev = info.State.GetStatus()
		applied = applyState(info, st)
		if !applied {
			return errStale
		}
		return nil
	})
	if errors.Is(err, errStale) {
		return false, nil
	}
	if err == nil && applied {
		m.statusChanged(stored, prev)
	}
	return applied, err
}

// statusChanged tells OnStatusChange about a stored record whose status
// is no longer prev.
func (m *Manager) statusChanged(stored *livekit.IngressInfo, prev livekit.IngressState_Status) {
	if m.conf.OnStatusChange == nil || stored == nil || stored.State.GetStatus() == prev {
		return
	}
	m.conf.OnStatusChange(proto.Clone(stored).(*livekit.IngressInfo), prev)
}

var errStale = errors.New("stale state update")

// stopActive ends the running session of an ingress, if any, with a cause.
func (m *Manager) stopActive(ingressID string, cause error) {
	m.mu.Lock()
	s := m.active[ingressID]
	delete(m.active, ingressID)
	m.mu.Unlock()
	if s != nil {
		s.log.Infow("ending session", "reason", cause.Error())
		s.cancel(cause)
	}
}

// ActiveSession returns the running session of an ingress, or nil.
func (m *Manager) ActiveSession(ingressID string) *Run {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.active[ingressID]
}

// Close refuses new sessions, asks the running ones to stop and waits for
// them to End, at most until ctx is done.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	for id, s := range m.active {
		s.cancel(ErrShutdown)
		delete(m.active, id)
	}
	m.mu.Unlock()
	if err := WaitSessions(ctx, &m.sessions); err != nil {
		return fmt.Errorf("sessions still running at shutdown: %w", err)
	}
	return nil
}

// WaitSessions waits until sessions is done, or returns ctx's error when
// ctx ends first.
func WaitSessions(ctx context.Context, sessions *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		sessions.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func inputName(t livekit.IngressInput) string {
	switch t {
	case livekit.IngressInput_RTMP_INPUT:
		return "RTMP"
	case livekit.IngressInput_WHIP_INPUT:
		return "WHIP"
	case livekit.IngressInput_URL_INPUT:
		return "URL"
	}
	return t.String()
}
