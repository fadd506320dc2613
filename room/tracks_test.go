package room

import (
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
)

// TestTrackOptions: the name and source an ingress's options set are the
// track's; unset, the track is video/CAMERA or audio/MICROPHONE.
func TestTrackOptions(t *testing.T) {
	o := trackOptions("", DefaultVideoName, livekit.TrackSource_UNKNOWN, livekit.TrackSource_CAMERA)
	require.Equal(t, "video", o.Name)
	require.Equal(t, livekit.TrackSource_CAMERA, o.Source)
	o = trackOptions("stage left", DefaultVideoName, livekit.TrackSource_SCREEN_SHARE, livekit.TrackSource_CAMERA)
	require.Equal(t, "stage left", o.Name)
	require.Equal(t, livekit.TrackSource_SCREEN_SHARE, o.Source)
	o = trackOptions("", DefaultAudioName, livekit.TrackSource_UNKNOWN, livekit.TrackSource_MICROPHONE)
	require.Equal(t, "audio", o.Name)
	require.Equal(t, livekit.TrackSource_MICROPHONE, o.Source)
	o = trackOptions("mix", DefaultAudioName, livekit.TrackSource_SCREEN_SHARE_AUDIO, livekit.TrackSource_MICROPHONE)
	require.Equal(t, "mix", o.Name)
	require.Equal(t, livekit.TrackSource_SCREEN_SHARE_AUDIO, o.Source)
}
