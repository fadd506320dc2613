package flvtest

import (
	"errors"
	"io"
	"os"

	"github.com/tributary-ingress/tributary/demux/flv"
	"github.com/tributary-ingress/tributary/media"
)

// Read demuxes a whole FLV file with Tributary's demuxer, calling onTrack
// and onFrame as it goes (either may be nil).
func Read(path string, onTrack func(*media.Track) error, onFrame func(*media.Frame) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if onTrack == nil {
		onTrack = func(*media.Track) error { return nil }
	}
	if onFrame == nil {
		onFrame = func(*media.Frame) error { return nil }
	}
	r := &flv.Reader{R: f, Demuxer: &flv.Demuxer{OnTrack: onTrack, OnFrame: onFrame}}
	if err := r.Initialize(); err != nil {
		return err
	}
	for {
		if err := r.ReadTag(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// ReadAll demuxes a whole FLV file and returns its tracks and frames.
func ReadAll(path string) (video, audio *media.Track, frames []*media.Frame, err error) {
	err = Read(path,
		func(t *media.Track) error {
			if t.Kind == media.KindVideo {
				video = t
			} else {
				audio = t
			}
			return nil
		},
		func(f *media.Frame) error {
			frames = append(frames, f)
			return nil
		})
	return video, audio, frames, err
}
