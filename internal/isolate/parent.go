package isolate

import (
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/pipeline"
	"github.com/tributary-ingress/tributary/transcode"
)

// Timeouts of the child's lifecycle.
const (
	// closeWait bounds the wait for a stream's flush at Close.
	closeWait = 5 * time.Second
	// exitWait bounds the wait for the child to exit once its stdin is
	// closed, after which it is killed.
	exitWait = 5 * time.Second
	// deathWait is how long a failed write waits for the child's exit
	// status, to report why it died.
	deathWait = time.Second
	// outQueue bounds the encoded frames waiting per output; beyond it the
	// output drops (it is paced, and must not stall the others).
	outQueue = 128
)

// ErrCrashed wraps the reason a transcoding child process went away.
var ErrCrashed = errors.New("the transcoding process crashed")

// ChildTranscoders implements pipeline.Transcoders for one session: every
// transcoder it makes runs in one child process, started at the first and
// stopped when the last is closed. Use one ChildTranscoders per session.
type ChildTranscoders struct {
	// Bin is the executable to run (os.Executable() of the parent).
	Bin string
	// Args follow ChildCommand on the child's command line (for ps: the
	// session's IDs).
	Args []string
	// Blocking is passed to the video transcoder (file inputs).
	Blocking bool
	// ReuseTop is passed to the video transcoder (top-layer reuse).
	ReuseTop bool
	Logger   logger.Logger

	mu sync.Mutex
	ch *child
}

type child struct {
	log   logger.Logger
	cmd   *exec.Cmd
	stdin io.WriteCloser

	encMu sync.Mutex
	enc   *gob.Encoder

	mu      sync.Mutex
	streams map[int]*stream
	nextID  int
	refs    int
	retired bool // refs went back to 0: no new stream may use it

	dead    chan struct{}
	deadErr error // set before dead is closed
}

// stream is one transcoder in the child.
type stream struct {
	c       *child
	id      int
	video   func(layer int, f *media.Frame)
	audio   func(f *media.Frame)
	onDrop  func()        // see pipeline.VideoTranscodeConfig.OnDrop
	onStale func()        // see pipeline.VideoTranscodeConfig.OnStale
	closed  chan struct{} // opClosed received (or the child died)

	mu     sync.Mutex
	err    error
	outs   map[int]chan *media.Frame
	tracks map[int]*interner
	wg     sync.WaitGroup
	ended  bool
}

// NewVideo starts a video transcoder in the session's child process.
func (t *ChildTranscoders) NewVideo(c pipeline.VideoTranscodeConfig) (pipeline.VideoTranscoder, error) {
	init := &videoInit{Source: c.Source, Codec: c.Codec, FrameRate: c.FrameRate, Blocking: t.Blocking, ReuseTop: t.ReuseTop}
	for _, l := range c.Layers {
		init.Layers = append(init.Layers, layer{Width: int(l.Width), Height: int(l.Height), Bitrate: int(l.Bitrate)})
	}
	s, err := t.open(&message{Op: opVideo, Video: init}, c.Output, nil, c.OnDrop, c.OnStale)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Unavailable is transcode.ErrUnavailable when this binary, which the
// child process runs too, is the passthrough build.
func (t *ChildTranscoders) Unavailable() error { return transcode.Unavailable() }

// NewAudio starts an audio transcoder in the session's child process.
func (t *ChildTranscoders) NewAudio(c pipeline.AudioTranscodeConfig) (pipeline.AudioTranscoder, error) {
	init := &audioInit{Source: c.Source, Channels: c.Channels, Bitrate: c.Bitrate, DTX: c.DTX}
	s, err := t.open(&message{Op: opAudio, Audio: init}, nil, c.Output, nil, nil)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (t *ChildTranscoders) open(m *message, video func(int, *media.Frame), audio func(*media.Frame), onDrop, onStale func()) (*stream, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var c *child
	for c == nil {
		if t.ch == nil {
			nc, err := t.start()
			if err != nil {
				return nil, err
			}
			t.ch = nc
		}
		c = t.ch
		c.mu.Lock()
		if c.retired {
			// Its last transcoder closed: it is exiting.
			c.mu.Unlock()
			t.ch, c = nil, nil
		}
	}
	c.nextID++
	s := &stream{
		c: c, id: c.nextID, video: video, audio: audio, onDrop: onDrop, onStale: onStale, closed: make(chan struct{}),
		outs: map[int]chan *media.Frame{}, tracks: map[int]*interner{},
	}
	c.streams[s.id] = s
	c.refs++
	c.mu.Unlock()
	m.Stream = s.id
	if err := c.send(m); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// start runs the child process and its reader.
func (t *ChildTranscoders) start() (*child, error) {
	log := t.Logger
	if log == nil {
		log = logger.GetLogger()
	}
	cmd := exec.Command(t.Bin, append([]string{ChildCommand}, t.Args...)...)
	cmd.Stderr = os.Stderr
	// The child must not outlive the parent.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the transcoding process: %w", err)
	}
	c := &child{
		log: log, cmd: cmd, stdin: stdin, enc: gob.NewEncoder(stdin),
		streams: map[int]*stream{}, dead: make(chan struct{}),
	}
	log.Debugw("transcoding process started", "pid", cmd.Process.Pid)
	go c.read(stdout)
	return c, nil
}

func (c *child) send(m *message) error {
	c.encMu.Lock()
	err := c.enc.Encode(m)
	c.encMu.Unlock()
	if err == nil {
		return nil
	}
	t := time.NewTimer(deathWait)
	defer t.Stop()
	select {
	case <-c.dead:
		return c.deadErr
	case <-t.C:
		return fmt.Errorf("%w: writing to it: %w", ErrCrashed, err)
	}
}

// read routes the child's messages until its stdout ends, then records
// why the child went away.
func (c *child) read(r io.Reader) {
	dec := gob.NewDecoder(r)
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			break
		}
		c.mu.Lock()
		s := c.streams[m.Stream]
		c.mu.Unlock()
		if s == nil {
			continue
		}
		switch m.Op {
		case opOut:
			s.deliver(m.Layer, m.Frame)
		case opErr:
			s.setErr(errors.New(m.Err))
		case opClosed:
			s.markClosed()
		case opDropped:
			s.drop()
		case opStale:
			if s.onStale != nil {
				s.onStale()
			}
		}
	}
	werr := c.cmd.Wait()
	c.mu.Lock()
	closing := c.refs == 0
	c.mu.Unlock()
	switch {
	case closing && werr == nil:
		c.deadErr = errors.New("the transcoding process has exited")
	case werr == nil:
		c.deadErr = fmt.Errorf("%w: it exited while in use", ErrCrashed)
	default:
		c.deadErr = fmt.Errorf("%w (%v)", ErrCrashed, werr)
	}
	if !closing || werr != nil {
		c.log.Warnw("transcoding process ended", c.deadErr, "pid", c.cmd.Process.Pid)
	}
	close(c.dead)
	c.mu.Lock()
	streams := make([]*stream, 0, len(c.streams))
	for _, s := range c.streams {
		streams = append(streams, s)
	}
	c.mu.Unlock()
	for _, s := range streams {
		s.setErr(c.deadErr)
		s.markClosed()
	}
}

// deliver queues an encoded frame for its output's goroutine, which may
// block in pacing without holding up the other outputs.
func (s *stream) deliver(layer int, f *media.Frame) {
	if f == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	in := s.tracks[layer]
	if in == nil {
		in = &interner{}
		s.tracks[layer] = in
	}
	f.Track = in.track(f.Track)
	q := s.outs[layer]
	if q == nil {
		q = make(chan *media.Frame, outQueue)
		s.outs[layer] = q
		s.wg.Add(1)
		go s.output(layer, q)
	}
	select {
	case q <- f:
	default:
		s.drop()
	}
}

// drop counts a frame or picture dropped for want of room, here or in
// the child.
func (s *stream) drop() {
	if s.onDrop != nil {
		s.onDrop()
	}
}

func (s *stream) output(layer int, q <-chan *media.Frame) {
	defer s.wg.Done()
	for f := range q {
		if s.audio != nil {
			s.audio(f)
		} else if s.video != nil {
			s.video(layer, f)
		}
	}
}

func (s *stream) setErr(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

func (s *stream) markClosed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
}

// Write sends a source frame to the child. It fails once the child has
// failed the stream or died.
func (s *stream) Write(f *media.Frame) error {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case <-s.c.dead:
		return s.c.deadErr
	default:
	}
	return s.c.send(&message{Op: opFrame, Stream: s.id, Frame: f})
}

// RequestKeyframe asks the child's encoder of layer for a keyframe.
func (s *stream) RequestKeyframe(layer int) {
	_ = s.c.send(&message{Op: opKeyframe, Stream: s.id, Layer: layer})
}

// SetLayerActive pauses or resumes the child's encoding of layer.
func (s *stream) SetLayerActive(layer int, active bool) {
	_ = s.c.send(&message{Op: opLayerActive, Stream: s.id, Layer: layer, Active: active})
}

// Close flushes the transcoder (its last frames are delivered), stops its
// output goroutines, and stops the child when it was the last one.
func (s *stream) Close() error {
	c := s.c
	if err := c.send(&message{Op: opClose, Stream: s.id}); err == nil {
		t := time.NewTimer(closeWait)
		select {
		case <-s.closed:
		case <-c.dead:
		case <-t.C:
			c.log.Warnw("transcoding process did not flush in time", nil, "stream", s.id)
		}
		t.Stop()
	}
	s.mu.Lock()
	s.ended = true
	for _, q := range s.outs {
		close(q)
	}
	s.mu.Unlock()
	s.wg.Wait()

	c.mu.Lock()
	delete(c.streams, s.id)
	c.refs--
	last := c.refs == 0
	c.retired = c.retired || last
	c.mu.Unlock()
	if last {
		c.stop()
	}
	return nil
}

// stop ends the child once no transcoder uses it: its stdin is closed,
// and it is killed if it does not exit in time. Whoever started it reaps
// it (read).
func (c *child) stop() {
	_ = c.stdin.Close()
	t := time.NewTimer(exitWait)
	defer t.Stop()
	select {
	case <-c.dead:
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.dead
	}
}
