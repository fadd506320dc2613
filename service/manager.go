package service

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

// URLLauncher starts the pull session of a URL ingress. It is nil until
// the URL input exists; the API then refuses URL ingresses clearly.
type URLLauncher interface {
	LaunchURL(s *Session)
}

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	Store *Store
	// RTMPBaseURL and WHIPBaseURL are shown in IngressInfo.url; an empty one
	// means that input is disabled and ingresses of its type are refused.
	RTMPBaseURL string
	WHIPBaseURL string
	Logger      logger.Logger
	// Now returns the current time; time.Now when nil (tests set it).
	Now func() time.Time
}

// Manager owns the ingress records and the running sessions. The API
// changes records through it, and media sessions report their state
// through the Session it hands out.
type Manager struct {
	conf     ManagerConfig
	log      logger.Logger
	launcher URLLauncher

	mu       sync.Mutex
	active   map[string]*Session // by ingress ID
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
	return &Manager{conf: conf, log: conf.Logger, active: map[string]*Session{}}
}

// SetURLLauncher installs the URL input. Call before serving the API.
func (m *Manager) SetURLLauncher(l URLLauncher) { m.launcher = l }

// Store returns the record store.
func (m *Manager) Store() *Store { return m.conf.Store }

// Session is one run of an ingress, from connect to disconnect (or from
// creation to end of media for URL input). The media pipeline reports
// through it; its Context is cancelled when the API ends the session
// (update, delete, a newer publisher, shutdown), with the reason as cause.
type Session struct {
	m          *Manager
	info       *livekit.IngressInfo
	resourceID string
	startedAt  int64
	log        logger.Logger

	ctx    context.Context
	cancel context.CancelCauseFunc

	mu     sync.Mutex
	state  *livekit.IngressState
	failed bool
	ended  bool
}

// StartSession authorizes a publish on a stream key for the given input
// type and starts its session. A session already running on the same
// ingress is ended (the last publisher wins).
func (m *Manager) StartSession(streamKey string, input livekit.IngressInput) (*Session, error) {
	info, err := m.conf.Store.GetByStreamKey(streamKey)
	if err != nil {
		return nil, err
	}
	if info.InputType != input {
		return nil, fmt.Errorf("%w: it is a %s ingress", ErrWrongInput, inputName(info.InputType))
	}
	if info.Enabled != nil && !*info.Enabled {
		return nil, ErrDisabled
	}
	return m.start(info)
}

func (m *Manager) start(info *livekit.IngressInfo) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrShutdown
	}
	if prev := m.active[info.IngressId]; prev != nil {
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
	s := &Session{
		m:          m,
		info:       proto.Clone(info).(*livekit.IngressInfo),
		resourceID: resourceID,
		startedAt:  startedAt,
		log:        m.log.WithValues("ingressID", info.IngressId, "resourceID", resourceID),
		ctx:        ctx,
		cancel:     cancel,
		state: &livekit.IngressState{
			Status:     livekit.IngressState_ENDPOINT_BUFFERING,
			StartedAt:  startedAt,
			ResourceId: resourceID,
		},
	}
	if err := s.writeLocked(); err != nil {
		cancel(err)
		return nil, err
	}
	m.active[info.IngressId] = s
	m.sessions.Add(1)
	s.log.Infow("session started", "inputType", inputName(info.InputType), "room", info.RoomName)
	return s, nil
}

// Info returns the ingress record as it was when the session started.
func (s *Session) Info() *livekit.IngressInfo { return s.info }

// ResourceID returns the session's resource ID (RT_/WH_/UR_…).
func (s *Session) ResourceID() string { return s.resourceID }

// Logger returns a logger whose every line carries ingress and resource ID.
func (s *Session) Logger() logger.Logger { return s.log }

// Context is cancelled when the session must stop; context.Cause tells why.
func (s *Session) Context() context.Context { return s.ctx }

// State returns a copy of the state the session last reported.
func (s *Session) State() *livekit.IngressState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return proto.Clone(s.state).(*livekit.IngressState)
}

// SetPublishing reports that media flows into the room.
func (s *Session) SetPublishing() error {
	return s.modify(func(st *livekit.IngressState) {
		st.Status = livekit.IngressState_ENDPOINT_PUBLISHING
	})
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
// first error of a session sticks; later ones are only logged.
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

// End finishes the session: INACTIVE for reusable inputs (RTMP, WHIP),
// COMPLETE for URL input, unless it failed (ERROR stays). Calling End more
// than once is harmless.
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
	s.state.EndedAt = s.m.conf.Now().UnixNano()
	err := s.writeLocked()
	if errors.Is(err, ErrNotFound) {
		err = nil // deleted meanwhile: nothing to record
	}
	status := s.state.Status
	s.mu.Unlock()

	s.m.mu.Lock()
	if s.m.active[s.info.IngressId] == s {
		delete(s.m.active, s.info.IngressId)
	}
	s.m.mu.Unlock()
	cause := context.Cause(s.ctx)
	s.cancel(nil)
	s.m.sessions.Done()
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

// writeLocked stores the session's state; s.mu is held.
func (s *Session) writeLocked() error {
	st := proto.Clone(s.state).(*livekit.IngressState)
	_, err := s.m.UpdateState(s.info.IngressId, st)
	return err
}

// UpdateState merges a reported state into the stored record (see
// applyState for the rules) and stamps updated_at. It reports whether the
// update was applied; a stale one is not.
func (m *Manager) UpdateState(ingressID string, st *livekit.IngressState) (bool, error) {
	applied := false
	_, err := m.conf.Store.Modify(ingressID, func(info *livekit.IngressInfo) error {
		st.UpdatedAt = m.conf.Now().UnixNano()
		applied = applyState(info, st)
		if !applied {
			return errStale
		}
		return nil
	})
	if errors.Is(err, errStale) {
		return false, nil
	}
	return applied, err
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
func (m *Manager) ActiveSession(ingressID string) *Session {
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
	done := make(chan struct{})
	go func() {
		m.sessions.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sessions still running at shutdown: %w", ctx.Err())
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
