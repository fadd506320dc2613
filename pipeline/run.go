package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/internal/guard"
	"github.com/tributary-ingress/tributary/room"
)

const (
	// queueSize bounds the inputs waiting for the session goroutine: a
	// pushed input that outruns the session loses frames (and the loss is
	// counted) instead of adding latency.
	queueSize = 512
	// joinTimeout bounds one join of the room.
	joinTimeout = 20 * time.Second
	// statsInterval is how often the input state's bitrates are refreshed.
	statsInterval = 5 * time.Second
	// Defaults of Config.
	defaultTrackWait      = 2 * time.Second
	defaultNoMediaTimeout = 10 * time.Second
)

// Rejoin policy after the LiveKit connection is lost for good.
const (
	rejoinFirstDelay = 500 * time.Millisecond
	rejoinMaxDelay   = 8 * time.Second
	rejoinGiveUp     = 2 * time.Minute
)

// Errors a streamer sees in the ingress state.
var (
	// ErrNoMedia is the reason of a session whose source sent nothing
	// (whatever the strategy).
	ErrNoMedia = errors.New("no media received")
)

// ErrSessionEnded is returned to an input that writes after the end.
var ErrSessionEnded = errors.New("session ended")

// errInputEnded ends a session whose input stopped while it was away from
// the room; it is a clean end.
var errInputEnded = errors.New("input ended while reconnecting")

// event is one input for the session goroutine: something for the
// strategy, or the end of the input.
type event struct {
	in  any
	end bool
	err error
}

// Session is one running session (see the package documentation). The
// input hands it media through its strategy's input methods — Track,
// Frame and Splice for the frame strategy (Start) — and Close when it
// ends, from its own goroutine; Done tells it when the session has ended.
type Session struct {
	conf  Config
	strat Strategy
	log   logger.Logger
	ctx   context.Context
	clock Clock

	events    chan event
	done      chan struct{}
	closeOnce sync.Once
	pubOnce   sync.Once
	// mediaAt is the clock time of the latest media, in Unix nanoseconds
	// (the no-media watchdog).
	mediaAt atomic.Int64

	// Session goroutine only.
	room        RoomConn // the joined room, nil when not in one
	droppedSeen int64
}

// Start starts a session fed with demuxed frames (the frame strategy):
// per track, transcoded or forwarded, by what the source contains and
// what the ingress asks. It runs until the input closes, the reporter's
// context is cancelled, or a fatal error.
func Start(conf Config) *Session {
	return StartWith(conf, &frames{})
}

// StartWith starts a session whose media the strategy moves.
func StartWith(conf Config, strat Strategy) *Session {
	if conf.TrackWait == 0 {
		conf.TrackWait = defaultTrackWait
	}
	if conf.NoMediaTimeout == 0 {
		conf.NoMediaTimeout = defaultNoMediaTimeout
	}
	if conf.Rooms == nil {
		conf.Rooms = LiveKitRooms{}
	}
	if conf.Clock == nil {
		conf.Clock = realClock{}
	}
	if conf.Stats == nil {
		conf.Stats = &Stats{}
	}
	s := &Session{
		conf:   conf,
		strat:  strat,
		log:    conf.Reporter.Logger(),
		ctx:    conf.Reporter.Context(),
		clock:  conf.Clock,
		events: make(chan event, queueSize),
		done:   make(chan struct{}),
	}
	strat.Attach(s)
	go s.run()
	return s
}

// Done is closed when the session has ended and reported its end.
func (s *Session) Done() <-chan struct{} { return s.done }

// Wait blocks until the session has ended.
func (s *Session) Wait() { <-s.done }

// Close tells the session the input has ended: err nil for a clean end.
// The inputs posted before are handled first.
func (s *Session) Close(err error) {
	s.closeOnce.Do(func() {
		_ = s.post(event{end: true, err: err}, waitWhenFull)
	})
}

// Post hands in to the strategy's Handle on the session goroutine, in
// order with the other inputs and Close; it waits while the queue is full.
// Strategies' input methods use it.
func (s *Session) Post(in any) error {
	return s.post(event{in: in}, waitWhenFull)
}

// whenFull says what post does when the event queue is full.
type whenFull int

const (
	// waitWhenFull waits for room (or the end of the session).
	waitWhenFull whenFull = iota
	// dropWhenFull drops the input and counts it: a live source cannot
	// be slowed down.
	dropWhenFull
)

// post queues e, waiting or dropping when the queue is full.
func (s *Session) post(e event, full whenFull) error {
	select {
	case <-s.done:
		return ErrSessionEnded
	default:
	}
	if full == dropWhenFull {
		select {
		case s.events <- e:
		default:
			s.conf.Stats.drop()
		}
		return nil
	}
	select {
	case s.events <- e:
		return nil
	case <-s.done:
		return ErrSessionEnded
	}
}

// Clock is the session's clock.
func (s *Session) Clock() Clock { return s.clock }

// Stats are the session's media counters (never nil).
func (s *Session) Stats() *Stats { return s.conf.Stats }

// MediaArrived tells the no-media watchdog that the source sent media. It
// may be called from any goroutine.
func (s *Session) MediaArrived() {
	s.mediaAt.Store(s.clock.Now().UnixNano())
}

// Published tells the session that media reached the room: the first
// call records PUBLISHING. It may be called from any goroutine.
func (s *Session) Published() {
	s.pubOnce.Do(func() {
		if err := s.conf.Reporter.SetPublishing(); err != nil {
			s.log.Warnw("could not record PUBLISHING", err)
		}
	})
}

func (s *Session) run() {
	defer close(s.done)
	r := s.conf.Reporter
	err := guard.Call(s.log, "session", s.runInner)
	switch {
	case err == nil, errors.Is(err, errInputEnded):
	case errors.Is(err, context.Canceled) || s.ctx.Err() != nil:
		// Ended by the service (update, delete, a newer publisher): not
		// the stream's fault.
	default:
		if ferr := r.Fail(err); ferr != nil {
			s.log.Warnw("could not record the session error", ferr)
		}
	}
	if eerr := r.End(); eerr != nil {
		s.log.Warnw("could not record the session end", eerr)
	}
}

// runInner waits for what to publish, publishes it and runs until the end.
func (s *Session) runInner() error {
	publish, ended, err := s.await()
	if err != nil || !publish {
		return err
	}
	defer s.leave()
	if err := s.publish(); err != nil {
		return err
	}
	if ended {
		return nil // leaving releases what is queued
	}
	return s.loop()
}

// await hands the inputs to the strategy until it knows what to publish.
// publish is false when there is nothing to (the input left without
// media); ended is true when the input has ended already.
func (s *Session) await() (publish, ended bool, err error) {
	noMedia := s.clock.After(s.conf.NoMediaTimeout)
	var (
		wake   <-chan time.Time
		wakeAt time.Time
	)
	for {
		ready, at := s.strat.Ready(false)
		if ready {
			return true, false, nil
		}
		if !at.IsZero() && !at.Equal(wakeAt) {
			wakeAt, wake = at, s.clock.After(at.Sub(s.clock.Now()))
		}
		select {
		case <-s.ctx.Done():
			return false, false, context.Cause(s.ctx)
		case <-noMedia:
			return false, false, fmt.Errorf("%w in %v: is %s sending audio or video?",
				ErrNoMedia, s.conf.NoMediaTimeout, s.strat.Sender())
		case <-wake:
			wake, wakeAt = nil, time.Time{}
		case e := <-s.events:
			if e.end {
				if e.err != nil {
					return false, true, e.err
				}
				ready, _ := s.strat.Ready(true)
				return ready, true, nil
			}
			if err := s.strat.Handle(e.in); err != nil {
				return false, false, err
			}
		}
	}
}

// loop runs the published session until its end.
func (s *Session) loop() error {
	s.MediaArrived() // the watchdog counts from the start of publishing
	noMedia := s.clock.After(s.conf.NoMediaTimeout)
	stats := s.clock.After(statsInterval)
	for {
		select {
		case <-s.ctx.Done():
			return context.Cause(s.ctx)
		case <-s.room.Disconnected():
			if err := s.rejoin(); err != nil {
				return err
			}
		case <-noMedia:
			idle := s.clock.Now().Sub(time.Unix(0, s.mediaAt.Load()))
			if idle >= s.conf.NoMediaTimeout {
				return fmt.Errorf("%w for %v: %s stopped sending", ErrNoMedia, s.conf.NoMediaTimeout, s.strat.Sender())
			}
			noMedia = s.clock.After(s.conf.NoMediaTimeout - idle)
		case <-stats:
			s.strat.ReportInput()
			s.reportDropped()
			stats = s.clock.After(statsInterval)
		case e := <-s.events:
			if e.end {
				return e.err
			}
			if err := s.strat.Handle(e.in); err != nil {
				return err
			}
		}
	}
}

// rejoin follows a final disconnect: when the reason allows, it leaves,
// then joins the room again and republishes, retrying with backoff while
// the input keeps going (the strategy drops its media meanwhile: a live
// source cannot be held back). It gives up after rejoinGiveUp.
func (s *Session) rejoin() error {
	reason, retry := s.room.DisconnectReason()
	if !retry {
		return fmt.Errorf("%w: %s", room.ErrDisconnected, reason)
	}
	s.log.Infow("lost the LiveKit connection, joining again", "reason", reason.String())
	s.leave()
	deadline := s.clock.Now().Add(rejoinGiveUp)
	delay := rejoinFirstDelay
	for attempt := 1; ; attempt++ {
		timer := s.clock.After(delay)
	wait:
		for {
			select {
			case <-s.ctx.Done():
				return context.Cause(s.ctx)
			case <-timer:
				break wait
			case e := <-s.events:
				if e.end {
					if e.err != nil {
						return e.err
					}
					return errInputEnded
				}
				if err := s.strat.Handle(e.in); err != nil {
					return err
				}
			}
		}
		err := s.publish()
		if err == nil {
			s.log.Infow("joined the room again", "attempt", attempt)
			s.MediaArrived() // the watchdog counts from the new start
			return nil
		}
		s.leave()
		if s.clock.Now().After(deadline) {
			return fmt.Errorf("%w; joining again failed for %v: %w", room.ErrDisconnected, rejoinGiveUp, err)
		}
		s.log.Infow("joining again failed, will retry", "attempt", attempt, "error", err.Error())
		delay = min(2*delay, rejoinMaxDelay)
	}
}

// publish has the strategy join and publish, and records the tracks.
func (s *Session) publish() error {
	tracks, err := s.strat.Publish(s.ctx, s.join)
	if err != nil {
		return err
	}
	for _, ti := range tracks {
		if ti == nil {
			continue
		}
		if err := s.conf.Reporter.AddTrack(ti); err != nil {
			s.log.Warnw("could not record the published track", err)
		}
	}
	return nil
}

// join joins the room as the ingress participant and records its ID.
func (s *Session) join() (RoomConn, error) {
	info := s.conf.Reporter.Info()
	rc := s.conf.Room
	rc.RoomName = info.RoomName
	rc.ParticipantIdentity = info.ParticipantIdentity
	rc.ParticipantName = info.ParticipantName
	rc.ParticipantMetadata = info.ParticipantMetadata
	rc.IngressID = info.IngressId
	rc.ResourceID = s.conf.Reporter.ResourceID()
	rc.Logger = s.log
	ctx, cancel := context.WithTimeout(s.ctx, joinTimeout)
	defer cancel()
	r, err := s.conf.Rooms.Join(ctx, rc)
	if err != nil {
		return nil, err
	}
	s.room = r
	if err := s.conf.Reporter.SetRoomID(r.SID()); err != nil {
		s.log.Warnw("could not record the room ID", err)
	}
	return r, nil
}

// leave has the strategy stop using the room, then leaves it.
func (s *Session) leave() {
	s.strat.Unpublish()
	if s.room != nil {
		s.room.Close()
		s.room = nil
	}
}

// reportDropped logs the frames dropped since the last report.
func (s *Session) reportDropped() {
	d := s.conf.Stats.DroppedFrames()
	if d > s.droppedSeen {
		s.log.Infow("frames dropped: the session could not keep up", "dropped", d-s.droppedSeen, "total", d)
		s.droppedSeen = d
	}
}
