package ingress

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"github.com/stretchr/testify/require"
)

func newTestManager(t *testing.T) *Manager {
	t.Helper()
	st, err := OpenStore(filepath.Join(t.TempDir(), "ingress.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return NewManager(ManagerConfig{
		Store:       st,
		RTMPBaseURL: "rtmp://ingest.example/x",
		WHIPBaseURL: "http://ingest.example/w",
		Logger:      logger.GetLogger(),
		// A clock that advances 1 ms per reading keeps the test deterministic.
		Now: func() time.Time { return time.Unix(0, clock.Add(int64(time.Millisecond))) },
	})
}

func createRTMP(t *testing.T, m *Manager) *livekit.IngressInfo {
	t.Helper()
	info, err := m.Create(&livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_RTMP_INPUT, RoomName: "room", ParticipantIdentity: "enc",
	})
	require.NoError(t, err)
	return info
}

func stored(t *testing.T, m *Manager, id string) *livekit.IngressState {
	t.Helper()
	info, err := m.Store().Get(id)
	require.NoError(t, err)
	return info.State
}

func TestApplyState(t *testing.T) {
	const t0, t1 = int64(1000), int64(2000)
	st := func(s livekit.IngressState_Status, startedAt int64, e string) *livekit.IngressState {
		return &livekit.IngressState{Status: s, StartedAt: startedAt, Error: e}
	}
	cases := []struct {
		name    string
		cur     *livekit.IngressState
		upd     *livekit.IngressState
		applied bool
		want    *livekit.IngressState
	}{
		{"first state", nil, st(livekit.IngressState_ENDPOINT_BUFFERING, t0, ""), true, st(livekit.IngressState_ENDPOINT_BUFFERING, t0, "")},
		{"same session advances", st(livekit.IngressState_ENDPOINT_BUFFERING, t0, ""), st(livekit.IngressState_ENDPOINT_PUBLISHING, t0, ""), true, st(livekit.IngressState_ENDPOINT_PUBLISHING, t0, "")},
		{"older started_at ignored", st(livekit.IngressState_ENDPOINT_BUFFERING, t1, ""), st(livekit.IngressState_ENDPOINT_INACTIVE, t0, ""), false, st(livekit.IngressState_ENDPOINT_BUFFERING, t1, "")},
		{"newer session replaces error", st(livekit.IngressState_ENDPOINT_ERROR, t0, "boom"), st(livekit.IngressState_ENDPOINT_BUFFERING, t1, ""), true, st(livekit.IngressState_ENDPOINT_BUFFERING, t1, "")},
		{"first error sticks", st(livekit.IngressState_ENDPOINT_ERROR, t0, "first"), st(livekit.IngressState_ENDPOINT_ERROR, t0, "second"), true, st(livekit.IngressState_ENDPOINT_ERROR, t0, "first")},
		{"error not cleared by inactive", st(livekit.IngressState_ENDPOINT_ERROR, t0, "first"), st(livekit.IngressState_ENDPOINT_INACTIVE, t0, ""), true, st(livekit.IngressState_ENDPOINT_ERROR, t0, "first")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info := &livekit.IngressInfo{State: c.cur}
			require.Equal(t, c.applied, applyState(info, c.upd))
			require.Equal(t, c.want.Status, info.State.Status)
			require.Equal(t, c.want.StartedAt, info.State.StartedAt)
			require.Equal(t, c.want.Error, info.State.Error)
		})
	}
}

func TestSessionLifecycle(t *testing.T) {
	m := newTestManager(t)
	info := createRTMP(t, m)

	s, err := m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	require.Regexp(t, `^RT_[a-zA-Z0-9]{12}$`, s.ResourceID())
	got := stored(t, m, info.IngressId)
	require.Equal(t, livekit.IngressState_ENDPOINT_BUFFERING, got.Status)
	require.Equal(t, s.ResourceID(), got.ResourceId)
	require.NotZero(t, got.StartedAt)
	require.NotZero(t, got.UpdatedAt)

	require.NoError(t, s.SetInputVideo(&livekit.InputVideoState{MimeType: "video/H264", Width: 1280, Height: 720, Framerate: 30}))
	require.NoError(t, s.SetInputAudio(&livekit.InputAudioState{MimeType: "audio/mp4a-latm", Channels: 2, SampleRate: 48000}))
	require.NoError(t, s.SetRoomID("RM_x"))
	require.NoError(t, s.AddTrack(&livekit.TrackInfo{Sid: "TR_v", Type: livekit.TrackType_VIDEO}))
	require.NoError(t, s.SetPublishing())
	got = stored(t, m, info.IngressId)
	require.Equal(t, livekit.IngressState_ENDPOINT_PUBLISHING, got.Status)
	require.Equal(t, uint32(1280), got.Video.Width)
	require.Equal(t, uint32(48000), got.Audio.SampleRate)
	require.Equal(t, "RM_x", got.RoomId)
	require.Len(t, got.Tracks, 1)

	require.NoError(t, s.End())
	got = stored(t, m, info.IngressId)
	require.Equal(t, livekit.IngressState_ENDPOINT_INACTIVE, got.Status)
	require.Greater(t, got.EndedAt, got.StartedAt)
	require.Nil(t, m.ActiveSession(info.IngressId))

	// Reusable: the same key publishes again.
	s2, err := m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	require.NotEqual(t, s.ResourceID(), s2.ResourceID())
	require.NoError(t, s2.End())
}

func TestFirstErrorSticks(t *testing.T) {
	m := newTestManager(t)
	info := createRTMP(t, m)
	s, err := m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	require.NoError(t, s.Fail(errString("unsupported codec: Sorenson Spark")))
	require.NoError(t, s.Fail(errString("connection reset")))
	require.NoError(t, s.SetPublishing())
	require.NoError(t, s.End())
	got := stored(t, m, info.IngressId)
	require.Equal(t, livekit.IngressState_ENDPOINT_ERROR, got.Status)
	require.Equal(t, "unsupported codec: Sorenson Spark", got.Error)

	// The next session starts clean.
	s2, err := m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	got = stored(t, m, info.IngressId)
	require.Equal(t, livekit.IngressState_ENDPOINT_BUFFERING, got.Status)
	require.Empty(t, got.Error)
	require.NoError(t, s2.End())
}

type errString string

func (e errString) Error() string { return string(e) }

func TestLastPublisherWins(t *testing.T) {
	m := newTestManager(t)
	info := createRTMP(t, m)
	first, err := m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	require.NoError(t, first.SetPublishing())

	second, err := m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	select {
	case <-first.Context().Done():
	case <-time.After(time.Second):
		t.Fatal("first session was not told to stop")
	}
	require.ErrorIs(t, context.Cause(first.Context()), ErrReplaced)
	require.NoError(t, second.Context().Err())

	// The first session's late reports carry an older started_at: ignored.
	require.NoError(t, first.SetPublishing())
	require.NoError(t, first.End())
	got := stored(t, m, info.IngressId)
	require.Equal(t, livekit.IngressState_ENDPOINT_BUFFERING, got.Status)
	require.Equal(t, second.ResourceID(), got.ResourceId)
	require.Same(t, second, m.ActiveSession(info.IngressId))
	require.NoError(t, second.End())
}

func TestPublishRefused(t *testing.T) {
	m := newTestManager(t)
	info := createRTMP(t, m)
	f := false
	_, err := m.Update(&livekit.UpdateIngressRequest{IngressId: info.IngressId, Enabled: &f})
	require.NoError(t, err)

	cases := []struct {
		name  string
		key   string
		input livekit.IngressInput
		err   error
	}{
		{"unknown key", "nosuchkey123", livekit.IngressInput_RTMP_INPUT, ErrNotFound},
		{"disabled", info.StreamKey, livekit.IngressInput_RTMP_INPUT, ErrDisabled},
		{"wrong input type", info.StreamKey, livekit.IngressInput_WHIP_INPUT, ErrWrongInput},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := m.StartSession(c.key, c.input)
			require.ErrorIs(t, err, c.err)
			if c.err == ErrNotFound {
				return
			}
			// The refusal is in the ingress state, as the official
			// worker writes it: ERROR with the reason.
			st := stored(t, m, info.IngressId)
			require.Equal(t, livekit.IngressState_ENDPOINT_ERROR, st.Status)
			require.Equal(t, err.Error(), st.Error)
			require.NotZero(t, st.StartedAt)
			require.NotZero(t, st.EndedAt)
			require.NotEmpty(t, st.ResourceId)
		})
	}

	// The same refusal again a moment later (a client retrying in a
	// loop) is not written again.
	first := stored(t, m, info.IngressId)
	_, err = m.StartSession(info.StreamKey, livekit.IngressInput_WHIP_INPUT)
	require.ErrorIs(t, err, ErrWrongInput)
	require.Equal(t, first.UpdatedAt, stored(t, m, info.IngressId).UpdatedAt, "no store write for a repeated refusal")

	// A publish refused while the ingress has a live session leaves that
	// session's state alone.
	tr := true
	_, err = m.Update(&livekit.UpdateIngressRequest{IngressId: info.IngressId, Enabled: &tr})
	require.NoError(t, err)
	s, err := m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	_, err = m.StartSession(info.StreamKey, livekit.IngressInput_WHIP_INPUT)
	require.ErrorIs(t, err, ErrWrongInput)
	st := stored(t, m, info.IngressId)
	require.Equal(t, livekit.IngressState_ENDPOINT_BUFFERING, st.Status)
	require.Equal(t, s.ResourceID(), st.ResourceId)
	s.End()
}

func TestUpdateAndDeleteEndActiveSession(t *testing.T) {
	m := newTestManager(t)
	info := createRTMP(t, m)
	s, err := m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	require.NoError(t, s.SetPublishing())

	upd, err := m.Update(&livekit.UpdateIngressRequest{IngressId: info.IngressId, RoomName: "other"})
	require.NoError(t, err)
	require.Equal(t, "other", upd.RoomName)
	require.ErrorIs(t, context.Cause(s.Context()), ErrUpdated)
	require.NoError(t, s.End())
	got, err := m.Store().Get(info.IngressId)
	require.NoError(t, err)
	require.Equal(t, "other", got.RoomName, "the session's end must not undo the update")
	require.Equal(t, livekit.IngressState_ENDPOINT_INACTIVE, got.State.Status)

	s2, err := m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	require.Equal(t, "other", s2.Info().RoomName, "the reconnect picks up the new settings")
	_, err = m.Delete(info.IngressId)
	require.NoError(t, err)
	require.ErrorIs(t, context.Cause(s2.Context()), ErrDeleted)
	require.NoError(t, s2.End(), "ending a deleted ingress's session is not an error")
	_, err = m.Store().Get(info.IngressId)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.ErrorIs(t, err, ErrNotFound)
}

func TestUpdateFromError(t *testing.T) {
	m := newTestManager(t)
	info := createRTMP(t, m)
	s, err := m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	require.NoError(t, s.Fail(errString("no video received in 10 s")))
	require.NoError(t, s.End())
	require.Equal(t, livekit.IngressState_ENDPOINT_ERROR, stored(t, m, info.IngressId).Status)

	upd, err := m.Update(&livekit.UpdateIngressRequest{IngressId: info.IngressId, Name: "renamed"})
	require.NoError(t, err)
	require.Equal(t, livekit.IngressState_ENDPOINT_INACTIVE, upd.State.Status)
	require.Empty(t, upd.State.Error)
	require.Equal(t, "renamed", upd.Name)
}

type fakeLauncher struct{ started chan *Run }

func (f *fakeLauncher) LaunchURL(s *Run) { f.started <- s }

func TestURLIngress(t *testing.T) {
	m := newTestManager(t)
	req := &livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_URL_INPUT, Url: "https://media.example/talk.mp4",
		RoomName: "room", ParticipantIdentity: "file",
	}
	_, err := m.Create(req)
	require.ErrorIs(t, err, ErrURLInputUnavailable)

	l := &fakeLauncher{started: make(chan *Run, 1)}
	m.SetURLLauncher(l.LaunchURL)
	info, err := m.Create(req)
	require.NoError(t, err)
	require.Empty(t, info.StreamKey)
	require.False(t, info.Reusable)
	s := <-l.started
	require.Regexp(t, `^UR_`, s.ResourceID())
	require.Equal(t, livekit.IngressState_ENDPOINT_BUFFERING, info.State.Status)

	_, err = m.Update(&livekit.UpdateIngressRequest{IngressId: info.IngressId, Name: "x"})
	require.ErrorIs(t, err, ErrNotReusable)

	require.NoError(t, s.End())
	require.Equal(t, livekit.IngressState_ENDPOINT_COMPLETE, stored(t, m, info.IngressId).Status)
}

func TestCloseStopsSessions(t *testing.T) {
	m := newTestManager(t)
	info := createRTMP(t, m)
	s, err := m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- m.Close(context.Background()) }()
	<-s.Context().Done()
	require.ErrorIs(t, context.Cause(s.Context()), ErrShutdown)
	require.NoError(t, s.End())
	require.NoError(t, <-done)
	require.Equal(t, livekit.IngressState_ENDPOINT_INACTIVE, stored(t, m, info.IngressId).Status)
	_, err = m.StartSession(info.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.ErrorIs(t, err, ErrShutdown)
}

func TestStoreSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ingress.db")
	st, err := OpenStore(path)
	require.NoError(t, err)
	m := NewManager(ManagerConfig{Store: st, RTMPBaseURL: "rtmp://x/x", WHIPBaseURL: "http://x/w"})
	info := createRTMP(t, m)
	_, err = OpenStore(path)
	require.ErrorContains(t, err, "locked by another process")
	require.NoError(t, st.Close())

	st, err = OpenStore(path)
	require.NoError(t, err)
	defer st.Close()
	got, err := st.GetByStreamKey(info.StreamKey)
	require.NoError(t, err)
	require.Equal(t, info.IngressId, got.IngressId)
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		k := NewStreamKey()
		require.Regexp(t, `^[23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz]{12}$`, k)
		require.False(t, seen[k])
		seen[k] = true
	}
	require.Regexp(t, `^IN_[a-zA-Z0-9]{12}$`, NewIngressID())
	require.Regexp(t, `^WH_`, NewResourceID(livekit.IngressInput_WHIP_INPUT))
	require.Regexp(t, `^RT_`, NewResourceID(livekit.IngressInput_RTMP_INPUT))
	require.Regexp(t, `^UR_`, NewResourceID(livekit.IngressInput_URL_INPUT))
}

// oneSlot admits one session at a time.
type oneSlot struct {
	mu   sync.Mutex
	used bool
}

var errFull = errors.New("no CPU capacity for the session: it runs one at a time")

func (a *oneSlot) CanAccept() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.used
}

func (a *oneSlot) Reserve(livekit.IngressInput, bool) (func(), error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.used {
		return nil, errFull
	}
	a.used = true
	return func() {
		a.mu.Lock()
		a.used = false
		a.mu.Unlock()
	}, nil
}

// TestAdmissionRefuses: a publish or URL ingress the machine cannot take
// is refused with the reason in the ingress state; an ended session frees
// its share; a publisher replacing the running session is not refused.
func TestAdmissionRefuses(t *testing.T) {
	m := newTestManager(t)
	m.conf.Admission = &oneSlot{}
	l := &fakeLauncher{started: make(chan *Run, 1)}
	m.SetURLLauncher(l.LaunchURL)
	a, b := createRTMP(t, m), createRTMP(t, m)

	s, err := m.StartSession(a.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err)
	_, err = m.StartSession(b.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.ErrorIs(t, err, errFull)
	st := stored(t, m, b.IngressId)
	require.Equal(t, livekit.IngressState_ENDPOINT_ERROR, st.Status)
	require.Equal(t, errFull.Error(), st.Error)

	url, err := m.Create(&livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_URL_INPUT, Url: "https://media.example/talk.mp4", RoomName: "room", ParticipantIdentity: "file",
	})
	require.NoError(t, err, "the ingress exists; its state says why it does not run")
	require.Equal(t, livekit.IngressState_ENDPOINT_ERROR, url.State.GetStatus())
	require.Equal(t, errFull.Error(), url.State.GetError())
	require.Len(t, l.started, 0)

	again, err := m.StartSession(a.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err, "the encoder reconnecting replaces its own session")
	require.NoError(t, s.End())
	_, err = m.StartSession(b.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.ErrorIs(t, err, errFull, "the replacing session holds the charge of the one it replaced")
	require.NoError(t, again.End())

	s, err = m.StartSession(b.StreamKey, livekit.IngressInput_RTMP_INPUT)
	require.NoError(t, err, "the ended sessions freed the slot")
	require.NoError(t, s.End())
}
