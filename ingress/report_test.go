package ingress

import (
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
)

// TestWarning: a warning shows in the state's error field while the
// session publishes, a failure replaces it, and a warning never replaces
// a failure; an INACTIVE end keeps the warning.
func TestWarning(t *testing.T) {
	m := newTestManager(t)
	info := createRTMP(t, m)

	s, err := m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	require.NoError(t, s.SetPublishing())
	require.NoError(t, s.Warn(errString("AAC audio not published, only the video")))
	got := stored(t, m, info.IngressId)
	require.Equal(t, livekit.IngressState_ENDPOINT_PUBLISHING, got.Status)
	require.Equal(t, "AAC audio not published, only the video", got.Error)
	require.NoError(t, s.End())
	got = stored(t, m, info.IngressId)
	require.Equal(t, livekit.IngressState_ENDPOINT_INACTIVE, got.Status)
	require.Equal(t, "AAC audio not published, only the video", got.Error)

	s, err = m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	require.NoError(t, s.Warn(errString("warning")))
	require.NoError(t, s.Fail(errString("no media received")))
	require.NoError(t, s.Warn(errString("a later warning")))
	require.NoError(t, s.End())
	got = stored(t, m, info.IngressId)
	require.Equal(t, livekit.IngressState_ENDPOINT_ERROR, got.Status)
	require.Equal(t, "no media received", got.Error)
}
