package isolate

import (
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/transcode"
)

// closer is a running transcoder of the child.
type closer interface {
	Write(f *media.Frame) error
	Close() error
}

// RunChild serves the transcoders of one session: it reads requests from r
// and writes encoded frames to w until r ends (the parent closed the pipe
// or died), then closes every transcoder.
func RunChild(r io.Reader, w io.Writer, log logger.Logger) error {
	dec := gob.NewDecoder(r)
	var encMu sync.Mutex
	enc := gob.NewEncoder(w)
	send := func(m *message) {
		encMu.Lock()
		defer encMu.Unlock()
		if err := enc.Encode(m); err != nil {
			log.Debugw("transcode child: write to parent", "error", err.Error())
		}
	}
	streams := map[int]closer{}
	tracks := map[int]*interner{}
	defer func() {
		for _, s := range streams {
			_ = s.Close()
		}
	}()
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return fmt.Errorf("transcode child: reading from the parent: %w", err)
		}
		id := m.Stream
		switch m.Op {
		case opVideo:
			v := m.Video
			layers := make([]transcode.LayerTarget, len(v.Layers))
			for i, l := range v.Layers {
				layers[i] = transcode.LayerTarget{Width: l.Width, Height: l.Height, Bitrate: l.Bitrate}
			}
			tc, err := transcode.NewVideo(transcode.VideoConfig{
				Source: v.Source, Codec: v.Codec, MaxFrameRate: v.FrameRate, Layers: layers, Blocking: v.Blocking,
				ReuseTop: v.ReuseTop,
				Logger:   log,
				Output: func(layer int, f *media.Frame) {
					send(&message{Op: opOut, Stream: id, Layer: layer, Frame: f})
				},
				OnDrop:  func() { send(&message{Op: opDropped, Stream: id}) },
				OnStale: func() { send(&message{Op: opStale, Stream: id}) },
			})
			if err != nil {
				send(&message{Op: opErr, Stream: id, Err: err.Error()})
				send(&message{Op: opClosed, Stream: id})
				continue
			}
			streams[id] = tc
			tracks[id] = &interner{}
		case opAudio:
			a := m.Audio
			tc, err := transcode.NewAudio(transcode.AudioConfig{
				Source: a.Source, Channels: a.Channels, Bitrate: a.Bitrate, DTX: a.DTX, Logger: log,
				Output: func(f *media.Frame) {
					send(&message{Op: opOut, Stream: id, Layer: -1, Frame: f})
				},
			})
			if err != nil {
				send(&message{Op: opErr, Stream: id, Err: err.Error()})
				send(&message{Op: opClosed, Stream: id})
				continue
			}
			streams[id] = tc
			tracks[id] = &interner{}
		case opFrame:
			s := streams[id]
			if s == nil || m.Frame == nil {
				continue
			}
			m.Frame.Track = tracks[id].track(m.Frame.Track)
			if err := s.Write(m.Frame); err != nil {
				send(&message{Op: opErr, Stream: id, Err: err.Error()})
			}
		case opKeyframe:
			if v, ok := streams[id].(*transcode.Video); ok {
				v.RequestKeyframe(m.Layer)
			}
		case opLayerActive:
			if v, ok := streams[id].(*transcode.Video); ok {
				v.SetLayerActive(m.Layer, m.Active)
			}
		case opClose:
			if s := streams[id]; s != nil {
				if err := s.Close(); err != nil {
					log.Debugw("transcode child: close", "error", err.Error())
				}
				delete(streams, id)
				delete(tracks, id)
			}
			send(&message{Op: opClosed, Stream: id})
		}
	}
}
