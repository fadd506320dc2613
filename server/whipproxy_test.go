package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"github.com/livekit/protocol/rpc"
	"github.com/livekit/psrpc"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/tributary-ingress/tributary/ingress/worker"
	"github.com/tributary-ingress/tributary/room"
)

const proxySecret = "0123456789abcdef0123456789abcdef"

// fakeIOInfo is livekit-server's IOInfo for one WHIP ingress (stream key
// "key"): it records the states reported.
type fakeIOInfo struct {
	rpc.IOInfoServerImpl // the methods a worker does not call
	states               chan *livekit.IngressState
}

func (f *fakeIOInfo) GetIngressInfo(context.Context, *rpc.GetIngressInfoRequest) (*rpc.GetIngressInfoResponse, error) {
	off := false
	return &rpc.GetIngressInfoResponse{Info: &livekit.IngressInfo{
		IngressId: "IN_proxy", StreamKey: "key", InputType: livekit.IngressInput_WHIP_INPUT,
		EnableTranscoding: &off, RoomName: "room", ParticipantIdentity: "cam", ParticipantName: "Cam",
	}}, nil
}

func (f *fakeIOInfo) UpdateIngressState(_ context.Context, req *rpc.UpdateIngressStateRequest) (*emptypb.Empty, error) {
	f.states <- proto.Clone(req.State).(*livekit.IngressState)
	return &emptypb.Empty{}, nil
}

type admitAll struct{}

func (admitAll) CanAcceptIngress(livekit.IngressInput, bool) bool { return true }
func (admitAll) Admit(livekit.IngressInput, bool) error           { return nil }

// fakeSFU is livekit-server's WHIP endpoint: it records each request.
type fakeSFU struct {
	*httptest.Server
	reqs chan *http.Request // with the body read into Header["Body"]
}

func startFakeSFU(t *testing.T) *fakeSFU {
	f := &fakeSFU{reqs: make(chan *http.Request, 16)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Header.Set("Body", string(b))
		f.reqs <- r
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/whip/v1" && string(b) == "refused offer":
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"error":"permissions denied"}`)
		case r.Method == http.MethodPost && r.URL.Path == "/whip/v1":
			w.Header().Set("Location", "/whip/v1/PA_"+strings.TrimPrefix(string(b), "offer "))
			w.Header().Set("ETag", "ufrag1")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, "answer")
		case r.Method == http.MethodPatch:
			w.Header().Set("ETag", "ufrag2")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "a=ice-ufrag:ufrag2\r\n")
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSFU) next(t *testing.T) *http.Request {
	t.Helper()
	select {
	case r := <-f.reqs:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached livekit-server's WHIP endpoint")
		return nil
	}
}

func nextState(t *testing.T, states chan *livekit.IngressState, want livekit.IngressState_Status) *livekit.IngressState {
	t.Helper()
	for {
		select {
		case st := <-states:
			if st.Status == want {
				return st
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s state reported", want)
		}
	}
}

// proxyEnv is a worker on a local psrpc bus with a fake livekit-server
// (IOInfo and WHIP endpoint).
type proxyEnv struct {
	io     *fakeIOInfo
	sfu    *fakeSFU
	worker *worker.Worker
	client rpc.IngressHandlerClient
	rc     room.Config
}

func startProxyEnv(t *testing.T) *proxyEnv {
	t.Helper()
	bus := psrpc.NewLocalMessageBus()
	e := &proxyEnv{io: &fakeIOInfo{states: make(chan *livekit.IngressState, 64)}, sfu: startFakeSFU(t)}
	ioSrv, err := rpc.NewIOInfoServer(e.io, bus)
	require.NoError(t, err)
	t.Cleanup(ioSrv.Kill)
	e.worker, err = worker.New(worker.Config{Bus: bus, Admission: admitAll{}, Logger: logger.GetLogger()})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, e.worker.Stop(ctx, context.Canceled))
		e.worker.Close()
	})
	e.client, err = rpc.NewIngressHandlerClient(bus)
	require.NoError(t, err)
	t.Cleanup(e.client.Close)
	e.rc = room.Config{URL: strings.Replace(e.sfu.URL, "http://", "ws://", 1), APIKey: "key", APISecret: proxySecret}
	return e
}

// start authorizes a publish and returns its proxy, with the watchdog
// at timeout.
func (e *proxyEnv) start(t *testing.T, timeout time.Duration) (*worker.Job, *whipProxy) {
	t.Helper()
	s, err := e.worker.Authorize("key", livekit.IngressInput_WHIP_INPUT)
	require.NoError(t, err)
	nextState(t, e.io.states, livekit.IngressState_ENDPOINT_BUFFERING)
	p := newWHIPProxy(s, e.rc)
	p.notifyTimeout = timeout
	return s, p
}

func (e *proxyEnv) notify(t *testing.T, req *rpc.WHIPRTCConnectionNotifyRequest) {
	t.Helper()
	_, err := e.client.WHIPRTCConnectionNotify(context.Background(), req.ParticipantId, req)
	require.NoError(t, err)
}

// TestWHIPProxy walks a proxied WHIP session through what the official
// worker does: the offer goes to livekit-server's /whip/v1 as the ingress
// participant with X-Livekit-Ingress, the answer and ETag come back, the
// session is PUBLISHING; a PATCH over psrpc is sent on with its If-Match;
// livekit-server's reports describe the input and keep the session alive,
// and without them the session ends after the notify timeout, deleting
// the participant on livekit-server.
func TestWHIPProxy(t *testing.T) {
	e := startProxyEnv(t)
	s, p := e.start(t, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	answer, etag, err := p.Forward(ctx, "offer one", "OBS/31")
	require.NoError(t, err)
	require.Equal(t, "answer", answer)
	require.Equal(t, "ufrag1", etag)
	r := e.sfu.next(t)
	require.Equal(t, "/whip/v1", r.URL.Path)
	require.Equal(t, "offer one", r.Header.Get("Body"))
	require.Equal(t, "application/sdp", r.Header.Get("Content-Type"))
	require.Equal(t, "true", r.Header.Get("X-Livekit-Ingress"))
	require.Equal(t, "OBS/31", r.Header.Get("User-Agent"))
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	require.True(t, ok)
	v, err := auth.ParseAPIToken(tok)
	require.NoError(t, err)
	_, grants, err := v.Verify(proxySecret)
	require.NoError(t, err)
	require.Equal(t, "cam", grants.Identity)
	require.Equal(t, "room", grants.Video.Room)
	require.Equal(t, livekit.ParticipantInfo_INGRESS, grants.GetParticipantKind())
	require.Equal(t, "IN_proxy", grants.Attributes[livekit.AttrIngressID])
	require.Equal(t, s.ResourceID(), grants.Attributes[livekit.AttrIngressResourceID])
	nextState(t, e.io.states, livekit.IngressState_ENDPOINT_PUBLISHING)

	// A client's ICE restart that reached another worker.
	res, err := e.worker.ICERestartWHIPResource(ctx, &rpc.ICERestartWHIPResourceRequest{
		ResourceId: s.ResourceID(), StreamKey: "key", IfMatch: "*", RawTrickleIceSdpfrag: "a=ice-ufrag:c2\r\na=ice-pwd:p2\r\n",
	})
	require.NoError(t, err)
	require.Equal(t, "a=ice-ufrag:ufrag2\r\n", res.TrickleIceSdpfrag)
	require.Equal(t, "ufrag2", res.Etag)
	r = e.sfu.next(t)
	require.Equal(t, http.MethodPatch, r.Method)
	require.Equal(t, "/whip/v1/PA_one", r.URL.Path)
	require.Equal(t, "*", r.Header.Get("If-Match"))
	require.Equal(t, "application/trickle-ice-sdpfrag", r.Header.Get("Content-Type"))
	require.Equal(t, "a=ice-ufrag:c2\r\na=ice-pwd:p2\r\n", r.Header.Get("Body"))

	// Reports keep the session alive past the timeout and describe the
	// input.
	for range 6 {
		e.notify(t, &rpc.WHIPRTCConnectionNotifyRequest{ParticipantId: "PA_one",
			Video: &livekit.InputVideoState{MimeType: "video/VP8", Width: 640, Height: 360}})
		time.Sleep(300 * time.Millisecond)
	}
	select {
	case <-s.Done():
		t.Fatal("the session ended although livekit-server reported on it")
	default:
	}
	st := nextState(t, e.io.states, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Equal(t, "video/VP8", st.Video.GetMimeType())
	require.Equal(t, uint32(640), st.Video.GetWidth())

	// Then silence: the session ends, and the participant is deleted.
	end := nextState(t, e.io.states, livekit.IngressState_ENDPOINT_INACTIVE)
	require.Empty(t, end.Error)
	r = e.sfu.next(t)
	require.Equal(t, http.MethodDelete, r.Method)
	require.Equal(t, "/whip/v1/PA_one", r.URL.Path)
	require.True(t, strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "))
	<-s.Done()
}

// TestWHIPProxyEnds: livekit-server's close report ends the session
// without a DELETE back; the client's DELETE (over psrpc) ends it with
// one; a refused offer ends it in ERROR with livekit-server's reason and
// status.
func TestWHIPProxyEnds(t *testing.T) {
	e := startProxyEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	s, p := e.start(t, time.Minute)
	_, _, err := p.Forward(ctx, "offer two", "")
	require.NoError(t, err)
	e.sfu.next(t)
	nextState(t, e.io.states, livekit.IngressState_ENDPOINT_PUBLISHING)
	e.notify(t, &rpc.WHIPRTCConnectionNotifyRequest{ParticipantId: "PA_two", Closed: true})
	nextState(t, e.io.states, livekit.IngressState_ENDPOINT_INACTIVE)
	<-s.Done()
	select {
	case r := <-e.sfu.reqs:
		t.Fatalf("%s %s after livekit-server closed the participant", r.Method, r.URL.Path)
	case <-time.After(300 * time.Millisecond):
	}

	s, p = e.start(t, time.Minute)
	_, _, err = p.Forward(ctx, "offer three", "")
	require.NoError(t, err)
	e.sfu.next(t)
	nextState(t, e.io.states, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.NoError(t, e.worker.DeleteWHIPResource(ctx, "key", s.ResourceID()))
	r := e.sfu.next(t)
	require.Equal(t, http.MethodDelete, r.Method)
	require.Equal(t, "/whip/v1/PA_three", r.URL.Path)
	nextState(t, e.io.states, livekit.IngressState_ENDPOINT_INACTIVE)
	<-s.Done()
	err = e.worker.DeleteWHIPResource(ctx, "key", s.ResourceID())
	var perr psrpc.Error
	require.ErrorAs(t, err, &perr)
	require.Equal(t, psrpc.NotFound, perr.Code(), "the ended resource is gone: %v", err)

	s, p = e.start(t, time.Minute)
	_, _, err = p.Forward(ctx, "refused offer", "")
	require.Error(t, err)
	var ue upstreamError
	require.True(t, errors.As(err, &ue), "%T", err)
	require.Equal(t, http.StatusForbidden, ue.HTTPStatus(), "livekit-server's status")
	require.Contains(t, err.Error(), "permissions denied")
	failed := nextState(t, e.io.states, livekit.IngressState_ENDPOINT_ERROR)
	require.Contains(t, failed.Error, "permissions denied")
	<-s.Done()
}
