package ingress

import (
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
)

// TestEndInterrupted: sessions left PUBLISHING or BUFFERING by a run that
// died (End never called) are ended at the next start-up with the reason;
// an idle ingress is untouched; the key then starts a new session whose state
// replaces the error.
func TestEndInterrupted(t *testing.T) {
	m := newTestManager(t)
	live, idle, joining := createRTMP(t, m), createRTMP(t, m), createRTMP(t, m)
	s, err := m.StartSession(live.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	require.NoError(t, s.SetPublishing())
	_, err = m.StartSession(joining.StreamKey, livekit.IngressInput_RTMP_INPUT) // BUFFERING
	require.NoError(t, err)
	cut := stored(t, m, live.IngressId)

	// The next run: a new manager over the same store.
	next := NewManager(ManagerConfig{Store: m.Store(), RTMPBaseURL: "rtmp://x/x", Now: m.conf.Now})
	n, err := next.EndInterrupted()
	require.NoError(t, err)
	require.Equal(t, 2, n)
	got := stored(t, next, live.IngressId)
	require.Equal(t, livekit.IngressState_ENDPOINT_ERROR, got.Status)
	require.Equal(t, ErrInterrupted.Error(), got.Error)
	require.Equal(t, cut.ResourceId, got.ResourceId)
	require.Equal(t, cut.StartedAt, got.StartedAt)
	require.Greater(t, got.EndedAt, cut.StartedAt)
	require.Equal(t, livekit.IngressState_ENDPOINT_INACTIVE, stored(t, next, idle.IngressId).Status)
	require.Equal(t, livekit.IngressState_ENDPOINT_ERROR, stored(t, next, joining.IngressId).Status)
	require.Equal(t, ErrInterrupted.Error(), stored(t, next, joining.IngressId).Error)
	n, err = next.EndInterrupted()
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to end")

	s2, err := next.StartSession(live.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	st := stored(t, next, live.IngressId)
	require.Equal(t, livekit.IngressState_ENDPOINT_BUFFERING, st.Status)
	require.Empty(t, st.Error)
	require.NoError(t, s2.End())
	// The first session's report, had it survived, would be stale now.
	require.NoError(t, s.End())
	require.Equal(t, livekit.IngressState_ENDPOINT_INACTIVE, stored(t, next, live.IngressId).Status)
}
