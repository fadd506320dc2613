package pipeline

import (
	"context"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/tributary-ingress/tributary/media"
)

// maxEarlyFrames bounds the frames held while waiting for the second
// track: a session that has held this many starts with the tracks it has
// (a file read faster than real time would otherwise lose the rest).
const maxEarlyFrames = 600

// frameIn is a frame and its arrival.
type frameIn struct {
	f  *media.Frame
	at time.Time
}

// Track announces a track (or a new configuration of one) to a frame
// session (Start).
func (s *Session) Track(t *media.Track) error {
	return s.post(event{in: t}, waitWhenFull)
}

// Frame hands over one frame to a frame session (Start). A live input
// never blocks: when the session cannot keep up the frame is dropped and
// counted. A frame whose Wall is zero is stamped with its arrival time
// (the session is its first reader).
func (s *Session) Frame(f *media.Frame) error {
	now := s.clock.Now()
	if f.Wall.IsZero() {
		f.Wall = now
	}
	full := waitWhenFull
	if s.conf.Live {
		full = dropWhenFull
	}
	return s.post(event{in: frameIn{f: f, at: now}}, full)
}

// Splice announces an ad-break command (SCTE-35 splice_insert) at a time
// on the frames' timeline to a frame session (Start); the participant
// attribute follows it when the published media reaches that time.
func (s *Session) Splice(sp Splice) error {
	return s.post(event{in: sp}, waitWhenFull)
}

// frames is the strategy of a session fed with demuxed frames: it collects
// the tracks (both, or one after TrackWait), holding the frames that come
// meanwhile, then publishes each track transcoded or as it is (outputs),
// and on a rejoin publishes the same sources again.
type frames struct {
	s *Session

	// The source tracks, as last announced.
	video, audio *media.Track
	firstTrack   time.Time
	// Before the first publish: the frames held, the first one (which
	// anchors the pacing clock) and its arrival.
	early   []*media.Frame
	first   frameIn
	started bool // published once: frames are no longer held
	// anchor is set when a file session published before its first frame
	// (both tracks announced first): that frame anchors the pacing clock
	// when it comes, whichever output reaches the pacer first.
	anchor bool
	// splices wait for the outputs.
	splices []Splice

	out  *outputs // nil while not published
	prev *outputs // the outputs a rejoin replaced (their ad-break state)
}

func (fs *frames) Attach(s *Session) { fs.s = s }

func (fs *frames) Sender() string { return "the encoder" }

func (fs *frames) Handle(in any) error {
	switch v := in.(type) {
	case *media.Track:
		if fs.out != nil {
			return fs.out.retrack(v)
		}
		if v.Kind == media.KindVideo {
			fs.video = v
		} else {
			fs.audio = v
		}
		if fs.firstTrack.IsZero() {
			fs.firstTrack = fs.s.clock.Now()
		}
	case frameIn:
		fs.s.MediaArrived()
		if fs.out != nil {
			if fs.anchor {
				// Now rather than its arrival: a file is read as it is
				// played, and frames read while joining are not late.
				fs.anchor = false
				fs.out.pacer.Start(fs.s.clock.Now(), media.Duration(v.f.PTS, v.f.Track.ClockRate))
			}
			return fs.out.write(v.f)
		}
		if fs.started {
			return nil // rejoining: a live source cannot be held back
		}
		if fs.first.f == nil {
			fs.first = v
		}
		if len(fs.early) < maxEarlyFrames {
			fs.early = append(fs.early, v.f)
		}
	case Splice:
		if fs.out != nil {
			fs.out.splice(v)
		} else {
			fs.splices = append(fs.splices, v)
		}
	}
	return nil
}

func (fs *frames) Ready(ended bool) (bool, time.Time) {
	switch {
	case fs.video != nil && fs.audio != nil:
		return true, time.Time{}
	case fs.video == nil && fs.audio == nil:
		return false, time.Time{} // connected and left without media, if ended
	case ended:
		return true, time.Time{} // a short file: play what it had
	case len(fs.early) >= maxEarlyFrames:
		return true, time.Time{}
	}
	at := fs.firstTrack.Add(fs.s.conf.TrackWait)
	return !fs.s.clock.Now().Before(at), at
}

func (fs *frames) Publish(_ context.Context, join func() (RoomConn, error)) ([]*livekit.TrackInfo, error) {
	o, tracks, err := fs.s.startOutputs(fs.video, fs.audio, join)
	if err != nil {
		return nil, err
	}
	fs.out = o
	if fs.prev != nil {
		o.inheritCues(fs.prev)
		fs.prev = nil
	}
	if !fs.started {
		fs.started = true
		switch {
		case fs.first.f != nil:
			// The time spent joining is not added to the latency of every
			// frame: the frames held meanwhile go out at once.
			o.pacer.Start(fs.first.at, media.Duration(fs.first.f.PTS, fs.first.f.Track.ClockRate))
		case !fs.s.conf.Live:
			// A file's first frame is its earliest (demuxers interleave by
			// time); without it, the first frame to reach the pacer would
			// be the origin, which may be a later track's.
			fs.anchor = true
		}
	}
	for _, sp := range fs.splices {
		o.splice(sp)
	}
	fs.splices = nil
	early := fs.early
	fs.early, fs.first = nil, frameIn{}
	for _, f := range early {
		if err := o.write(f); err != nil {
			return nil, err
		}
	}
	return tracks, nil
}

// Unpublish closes the outputs: the transcoders flush what they hold and
// the writers release what is queued.
func (fs *frames) Unpublish() {
	if fs.out == nil {
		return
	}
	fs.video, fs.audio = fs.out.sources()
	fs.out.close()
	fs.prev, fs.out = fs.out, nil
}

func (fs *frames) ReportInput() {
	if fs.out != nil {
		fs.out.reportInput()
	}
}
