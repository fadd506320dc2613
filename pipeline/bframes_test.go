package pipeline

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBFramesError: the reason for B-frames says what to do in either
// build.
func TestBFramesError(t *testing.T) {
	err := bframesError(nil)
	require.ErrorIs(t, err, ErrBFrames)
	require.Equal(t, "H.264 with B-frames cannot be forwarded without transcoding: "+
		"set B-frames to 0 in the encoder (x264: bframes=0, OBS: profile baseline) or enable transcoding", err.Error())

	errNoTranscoding := errors.New("transcoding is not in this build: run the tributary-linux-amd64 build to transcode")
	err = bframesError(errNoTranscoding)
	require.ErrorIs(t, err, ErrBFrames)
	require.ErrorIs(t, err, errNoTranscoding)
	require.NotContains(t, err.Error(), "enable transcoding")
	require.Contains(t, err.Error(), "tributary-linux-amd64")
}
