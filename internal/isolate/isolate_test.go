package isolate

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/pipeline"
)

// TestChildDeath: a child that dies makes the transcoder's writes fail
// with ErrCrashed and the exit status, instead of blocking or panicking.
func TestChildDeath(t *testing.T) {
	tc := &ChildTranscoders{Bin: "/bin/sh"} // "sh transcode-child" exits at once (no such script)
	src := &media.Track{Kind: media.KindAudio, Codec: media.CodecAAC, ClockRate: 48000, SampleRate: 48000, Channels: 2}
	a, err := tc.NewAudio(pipeline.AudioTranscodeConfig{Source: src, Channels: 2, Bitrate: 64000, Output: func(*media.Frame) {}})
	if err != nil {
		require.ErrorIs(t, err, ErrCrashed)
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = a.Write(&media.Frame{Track: src, Data: [][]byte{{1, 2, 3}}})
		if err != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.True(t, errors.Is(err, ErrCrashed), "%v", err)
	require.Contains(t, err.Error(), "exit status")
	require.NoError(t, a.Close())
}

func TestInterner(t *testing.T) {
	var in interner
	a := &media.Track{Codec: media.CodecH264, Width: 640}
	b := &media.Track{Codec: media.CodecH264, Width: 640}
	c := &media.Track{Codec: media.CodecH264, Width: 1280}
	require.Same(t, a, in.track(a))
	require.Same(t, a, in.track(b), "an equal track keeps the first pointer")
	require.Same(t, c, in.track(c), "a changed track replaces it")
	require.Nil(t, in.track(nil))
}
