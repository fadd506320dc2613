package pipeline

import (
	"sync"

	"github.com/tributary-ingress/tributary/media"
)

// writerQueue bounds the frames waiting for their release time on one
// output: several seconds at 30 fps (or 50 Opus packets a second), more than
// the pacing delay, so a frame is only dropped when the room cannot take
// the media at all.
const writerQueue = 256

// pacedWriter releases one output's frames (a video layer, the audio
// track) at their time, on its own goroutine, so that waiting for a frame's
// release time never holds up an encoder or the input.
type pacedWriter struct {
	o      *outputs
	write  func(*media.Frame) error
	onDrop func() // asks for a keyframe after a dropped video frame
	ch     chan *media.Frame
	done   chan struct{}
	once   sync.Once
}

func newPacedWriter(o *outputs, write func(*media.Frame) error, onDrop func()) *pacedWriter {
	w := &pacedWriter{o: o, write: write, onDrop: onDrop, ch: make(chan *media.Frame, writerQueue), done: make(chan struct{})}
	go w.run()
	return w
}

// push queues f. A live session drops it when the queue is full (counted in
// the session's dropped frames) and asks for a keyframe, since the frames
// after it cannot be decoded without; a file session waits, which slows
// the reading down.
func (w *pacedWriter) push(f *media.Frame) {
	if w.o.s.conf.Live {
		select {
		case w.ch <- f:
		default:
			w.o.s.conf.Stats.drop()
			if w.onDrop != nil {
				w.onDrop()
			}
		}
		return
	}
	select {
	case w.ch <- f:
	case <-w.o.s.ctx.Done():
	}
}

func (w *pacedWriter) run() {
	defer close(w.done)
	for f := range w.ch {
		if _, err := w.o.pace(f); err != nil {
			continue // the session is ending: drain without writing
		}
		if err := w.write(f); err != nil {
			w.o.s.log.Debugw("write to the room", "error", err.Error())
			continue
		}
		w.o.s.Published()
	}
}

// close releases what is queued and waits for the goroutine.
func (w *pacedWriter) close() {
	w.once.Do(func() { close(w.ch) })
	<-w.done
}
