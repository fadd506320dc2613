package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/internal/guard"
	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/room"
)

// Queue bounds: a pushed input that outruns the session loses frames (and
// the loss is counted) instead of adding latency.
const (
	queueSize      = 512
	maxEarlyFrames = 600 // frames held while waiting for the second track
	statsInterval  = 5 * time.Second
)

// Errors a streamer sees in the ingress state.
var (
	ErrNoMedia = errors.New("no media received")
)

type event struct {
	track  *media.Track
	frame  *media.Frame
	splice *Splice
	at     time.Time // arrival of a frame
	end    bool
	err    error
}

// Session is one running session. The input calls Track, Frame and Close
// from its own goroutine; Done tells it when the session has ended.
type Session struct {
	conf Config
	log  logger.Logger
	ctx  context.Context

	events chan event
	done   chan struct{}
	wg     sync.WaitGroup

	closeOnce sync.Once
	dropped   dropCounter
}

type dropCounter struct {
	mu     sync.Mutex
	frames int
}

// Start starts a session; it runs until the input closes, the reporter's
// context is cancelled, or a fatal error.
func Start(conf Config) *Session {
	if conf.TrackWait == 0 {
		conf.TrackWait = 2 * time.Second
	}
	if conf.NoMediaTimeout == 0 {
		conf.NoMediaTimeout = 10 * time.Second
	}
	s := &Session{
		conf:   conf,
		log:    conf.Reporter.Logger(),
		ctx:    conf.Reporter.Context(),
		events: make(chan event, queueSize),
		done:   make(chan struct{}),
	}
	s.wg.Add(1)
	go s.run()
	return s
}

// Done is closed when the session has ended and reported its end.
func (s *Session) Done() <-chan struct{} { return s.done }

// Wait blocks until the session has ended.
func (s *Session) Wait() { <-s.done }

// Track announces a track (or a new configuration of one).
func (s *Session) Track(t *media.Track) error {
	return s.send(event{track: t}, true)
}

// Frame hands over one frame. A live input never blocks: when the session
// cannot keep up the frame is dropped and counted. A frame whose Wall is
// zero is stamped with its arrival time (the session is its first reader).
func (s *Session) Frame(f *media.Frame) error {
	now := time.Now()
	if f.Wall.IsZero() {
		f.Wall = now
	}
	return s.send(event{frame: f, at: now}, !s.conf.Live)
}

// Splice announces an ad-break command (SCTE-35 splice_insert) at a time
// on the frames' timeline; the participant attribute follows it when the
// published media reaches that time.
func (s *Session) Splice(sp Splice) error {
	return s.send(event{splice: &sp}, true)
}

// Close tells the session the input has ended: err nil for a clean end.
func (s *Session) Close(err error) {
	s.closeOnce.Do(func() {
		_ = s.send(event{end: true, err: err}, true)
	})
}

// ErrSessionEnded is returned to an input that writes after the end.
var ErrSessionEnded = errors.New("session ended")

func (s *Session) send(e event, block bool) error {
	select {
	case <-s.done:
		return ErrSessionEnded
	default:
	}
	if !block {
		select {
		case s.events <- e:
		default:
			s.dropped.mu.Lock()
			s.dropped.frames++
			s.dropped.mu.Unlock()
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

func (s *Session) run() {
	defer s.wg.Done()
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

// runInner collects the tracks, starts the outputs and pumps the frames.
func (s *Session) runInner() error {
	var (
		video, audio   *media.Track
		early          []*media.Frame
		firstSeen      <-chan time.Time
		first          event // the first frame, which anchors the pacing clock
		pendingSplices []Splice
		inputEnded     bool
	)
	noMedia := time.NewTimer(s.conf.NoMediaTimeout)
	defer noMedia.Stop()

collect:
	for video == nil || audio == nil {
		select {
		case <-s.ctx.Done():
			return context.Cause(s.ctx)
		case <-noMedia.C:
			return fmt.Errorf("%w in %v: is the encoder sending audio or video?", ErrNoMedia, s.conf.NoMediaTimeout)
		case <-firstSeen:
			break collect
		case e := <-s.events:
			switch {
			case e.end:
				if e.err != nil {
					return e.err
				}
				if video == nil && audio == nil {
					return nil // connected and left without media
				}
				inputEnded = true // a short file: play what it had
				break collect
			case e.track != nil:
				if e.track.Kind == media.KindVideo {
					video = e.track
				} else {
					audio = e.track
				}
				if firstSeen == nil {
					firstSeen = time.After(s.conf.TrackWait)
				}
			case e.splice != nil:
				pendingSplices = append(pendingSplices, *e.splice)
			case e.frame != nil:
				if first.frame == nil {
					first = e
				}
				if len(early) < maxEarlyFrames {
					early = append(early, e.frame)
				}
			}
		}
	}

	out, err := s.startOutputs(video, audio)
	if err != nil {
		return err
	}
	defer func() { out.close() }() // the latest outputs, after a rejoin
	if first.frame != nil {
		// The time spent joining is not added to the latency of every
		// frame: the frames held meanwhile go out at once.
		out.pacer.Start(first.at, media.Duration(first.frame.PTS, first.frame.Track.ClockRate))
	}
	for _, sp := range pendingSplices {
		out.splice(sp)
	}
	for _, f := range early {
		if err := out.write(f); err != nil {
			return err
		}
	}
	if inputEnded {
		return nil // closing the outputs releases what is queued
	}

	stats := time.NewTicker(statsInterval)
	defer stats.Stop()
	if !noMedia.Stop() {
		select {
		case <-noMedia.C:
		default:
		}
	}
	noMedia.Reset(s.conf.NoMediaTimeout)
	for {
		select {
		case <-s.ctx.Done():
			return context.Cause(s.ctx)
		case <-out.failed:
			return out.err()
		case <-out.room.Disconnected():
			reason, retry := out.room.DisconnectReason()
			if !retry {
				return fmt.Errorf("%w: %s", room.ErrDisconnected, reason)
			}
			s.log.Infow("lost the LiveKit connection, joining again", "reason", reason.String())
			video, audio = out.sources()
			out.close()
			prev := out
			if out, err = s.rejoin(video, audio); err != nil {
				return err
			}
			out.inheritCues(prev)
		case <-noMedia.C:
			return fmt.Errorf("%w for %v: the encoder stopped sending", ErrNoMedia, s.conf.NoMediaTimeout)
		case <-stats.C:
			s.dropped.mu.Lock()
			d := s.dropped.frames
			s.dropped.mu.Unlock()
			out.reportStats(d)
		case e := <-s.events:
			switch {
			case e.end:
				out.flush()
				return e.err
			case e.splice != nil:
				out.splice(*e.splice)
			case e.track != nil:
				if err := out.retrack(e.track); err != nil {
					return err
				}
			case e.frame != nil:
				if !noMedia.Stop() {
					select {
					case <-noMedia.C:
					default:
					}
				}
				noMedia.Reset(s.conf.NoMediaTimeout)
				if err := out.write(e.frame); err != nil {
					return err
				}
			}
		}
	}
}

// Rejoin policy after the LiveKit connection is lost for good.
const (
	rejoinFirstDelay = 500 * time.Millisecond
	rejoinMaxDelay   = 8 * time.Second
	rejoinGiveUp     = 2 * time.Minute
)

// rejoin joins the room again and republishes, retrying with backoff while
// the input keeps going (its frames are dropped meanwhile: a live source
// cannot be held back). It gives up after rejoinGiveUp.
func (s *Session) rejoin(video, audio *media.Track) (*outputs, error) {
	deadline := time.Now().Add(rejoinGiveUp)
	delay := rejoinFirstDelay
	for attempt := 1; ; attempt++ {
		timer := time.NewTimer(delay)
	wait:
		for {
			select {
			case <-s.ctx.Done():
				timer.Stop()
				return nil, context.Cause(s.ctx)
			case <-timer.C:
				break wait
			case e := <-s.events:
				switch {
				case e.end:
					timer.Stop()
					if e.err != nil {
						return nil, e.err
					}
					return nil, errInputEnded
				case e.track != nil && e.track.Kind == media.KindVideo:
					video = e.track
				case e.track != nil:
					audio = e.track
				}
			}
		}
		out, err := s.startOutputs(video, audio)
		if err == nil {
			s.log.Infow("joined the room again", "attempt", attempt)
			return out, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w; joining again failed for %v: %w", room.ErrDisconnected, rejoinGiveUp, err)
		}
		s.log.Infow("joining again failed, will retry", "attempt", attempt, "error", err.Error())
		delay = min(2*delay, rejoinMaxDelay)
	}
}

// errInputEnded ends a session whose input stopped while it was away from
// the room; it is a clean end.
var errInputEnded = errors.New("input ended while reconnecting")
