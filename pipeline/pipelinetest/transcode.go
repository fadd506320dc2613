package pipelinetest

import (
	"sync"

	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/pipeline"
)

// Transcoders makes fake transcoders that pass every frame through, to
// every layer. Set its fields before the session starts.
type Transcoders struct {
	// Unavail is what Unavailable returns (the passthrough build).
	Unavail error
	// VideoErr, when set, fails NewVideo.
	VideoErr error

	mu     sync.Mutex
	videos []*VideoTranscoder
	audios []*AudioTranscoder
}

func (ts *Transcoders) NewVideo(c pipeline.VideoTranscodeConfig) (pipeline.VideoTranscoder, error) {
	if ts.VideoErr != nil {
		return nil, ts.VideoErr
	}
	out := *c.Source
	out.Codec = c.Codec
	v := &VideoTranscoder{Config: c, out: &out}
	ts.mu.Lock()
	ts.videos = append(ts.videos, v)
	ts.mu.Unlock()
	return v, nil
}

func (ts *Transcoders) NewAudio(c pipeline.AudioTranscodeConfig) (pipeline.AudioTranscoder, error) {
	out := *c.Source
	out.Codec = media.CodecOpus
	a := &AudioTranscoder{Config: c, out: &out}
	ts.mu.Lock()
	ts.audios = append(ts.audios, a)
	ts.mu.Unlock()
	return a, nil
}

func (ts *Transcoders) Unavailable() error { return ts.Unavail }

// Videos returns the video transcoders made, in order.
func (ts *Transcoders) Videos() []*VideoTranscoder {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]*VideoTranscoder(nil), ts.videos...)
}

// Audios returns the audio transcoders made, in order.
func (ts *Transcoders) Audios() []*AudioTranscoder {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]*AudioTranscoder(nil), ts.audios...)
}

// VideoTranscoder hands every frame written to every layer.
type VideoTranscoder struct {
	Config pipeline.VideoTranscodeConfig
	out    *media.Track

	mu        sync.Mutex
	written   int
	keyframes []int
	inactive  map[int]bool
	closed    bool
}

func (v *VideoTranscoder) Write(f *media.Frame) error {
	v.mu.Lock()
	v.written++
	v.mu.Unlock()
	for i := range v.Config.Layers {
		if v.Inactive(i) {
			continue
		}
		g := *f
		g.Track = v.out
		v.Config.Output(i, &g)
	}
	return nil
}

func (v *VideoTranscoder) RequestKeyframe(layer int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.keyframes = append(v.keyframes, layer)
}

func (v *VideoTranscoder) SetLayerActive(layer int, active bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.inactive == nil {
		v.inactive = map[int]bool{}
	}
	v.inactive[layer] = !active
}

func (v *VideoTranscoder) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.closed = true
	return nil
}

// Written returns how many frames were written.
func (v *VideoTranscoder) Written() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.written
}

// Keyframes returns the layers keyframes were requested for, in order.
func (v *VideoTranscoder) Keyframes() []int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]int(nil), v.keyframes...)
}

// Inactive reports whether a layer is paused.
func (v *VideoTranscoder) Inactive(layer int) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.inactive[layer]
}

// Closed reports whether the transcoder was closed.
func (v *VideoTranscoder) Closed() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.closed
}

// AudioTranscoder hands every frame written on, as Opus.
type AudioTranscoder struct {
	Config pipeline.AudioTranscodeConfig
	out    *media.Track

	mu     sync.Mutex
	closed bool
}

func (a *AudioTranscoder) Write(f *media.Frame) error {
	g := *f
	g.Track = a.out
	a.Config.Output(&g)
	return nil
}

func (a *AudioTranscoder) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	return nil
}

// Closed reports whether the transcoder was closed.
func (a *AudioTranscoder) Closed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed
}
