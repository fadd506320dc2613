package whip

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeRemote records the requests handed to it and answers as told.
type fakeRemote struct {
	mu      sync.Mutex
	deletes []string
	patches []Patch
	err     error
	res     PatchResult
}

func (f *fakeRemote) DeleteResource(_ context.Context, key, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes = append(f.deletes, key+"/"+id)
	return f.err
}

func (f *fakeRemote) PatchResource(_ context.Context, key, id string, p Patch) (PatchResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.patches = append(f.patches, p)
	return f.res, f.err
}

func (f *fakeRemote) calls() ([]string, []Patch) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.deletes...), append([]Patch(nil), f.patches...)
}

func (f *fakeRemote) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// statusErr is a Remote's error with the status the client gets.
type statusErr struct{ status int }

func (e statusErr) Error() string   { return "remote refused" }
func (e statusErr) HTTPStatus() int { return e.status }

// TestRemote: a DELETE or PATCH for a resource this server does not hold
// goes to Remote (cluster mode: the worker that holds it), with the
// fragment as sent and its credentials parsed; the answer is Remote's.
// Without Remote it is 404 at once; a bad fragment is refused before
// Remote is asked.
func TestRemote(t *testing.T) {
	_, _, plain := startServer(t)
	res, _ := do(t, "DELETE", plain+"/w/key/WH_elsewhere", nil, "")
	require.Equal(t, http.StatusNotFound, res.StatusCode, "no Remote: not found")

	r := &fakeRemote{res: PatchResult{Fragment: "a=ice-ufrag:srv\r\na=ice-pwd:serverpassword\r\n", ETag: `"e2"`}}
	s := &Server{Address: "127.0.0.1:0", Authorizer: &dummyAuthorizer{}, Remote: r}
	require.NoError(t, s.Initialize())
	t.Cleanup(s.Close)
	base := "http://" + s.Addr().String()
	res, body := do(t, "DELETE", base+"/w/key/WH_elsewhere", nil, "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	deletes, _ := r.calls()
	require.Equal(t, []string{"key/WH_elsewhere"}, deletes)

	frag := "a=ice-ufrag:cli\r\na=ice-pwd:clientpasswordclientpass\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n"
	hdr := map[string]string{"Content-Type": "application/trickle-ice-sdpfrag", "If-Match": "*"}
	res, body = do(t, "PATCH", base+"/w/key/WH_elsewhere", hdr, frag)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.Equal(t, r.res.Fragment, body)
	require.Equal(t, `"e2"`, res.Header.Get("ETag"))
	require.Equal(t, "application/trickle-ice-sdpfrag", res.Header.Get("Content-Type"))
	_, patches := r.calls()
	require.Equal(t, []Patch{{IfMatch: "*", Fragment: frag, UFrag: "cli", Password: "clientpasswordclientpass"}}, patches)

	hdr["If-Match"] = `"e1"`
	res, body = do(t, "PATCH", base+"/w/key/WH_elsewhere", hdr, frag)
	require.Equal(t, http.StatusNoContent, res.StatusCode, "a trickle: %s", body)
	_, patches = r.calls()
	require.Len(t, patches, 2)

	r.fail(statusErr{http.StatusPreconditionFailed})
	res, body = do(t, "PATCH", base+"/w/key/WH_elsewhere", hdr, frag)
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode, body)
	require.Contains(t, body, "remote refused")
	r.fail(ErrResourceNotFound)
	res, _ = do(t, "DELETE", base+"/w/key/WH_gone", nil, "")
	require.Equal(t, http.StatusNotFound, res.StatusCode)

	long := make([]byte, maxFragLines+1)
	for i := range long {
		long[i] = '\n'
	}
	res, _ = do(t, "PATCH", base+"/w/key/WH_elsewhere", hdr, string(long))
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	_, patches = r.calls()
	require.Len(t, patches, 3, "a bad fragment is not sent on")
}

// TestResourceMethods: DeleteResource and PatchResource (what the
// psrpc handler of the holding worker calls) act on a local session as
// its client's DELETE and PATCH do, and refuse another stream key.
func TestResourceMethods(t *testing.T) {
	s, a, base := startServer(t)
	c := newClient(t)
	res, answer := do(t, "POST", base+"/w/good", map[string]string{"Content-Type": "application/sdp"}, c.offer(t))
	require.Equal(t, http.StatusCreated, res.StatusCode, answer)
	etag := res.Header.Get("ETag")
	pub := a.pubs[0]
	<-pub.started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	_, err := s.PatchResource(ctx, "other", "WH_test0", Patch{IfMatch: etag, Fragment: "a=ice-ufrag:x\r\n"})
	require.ErrorIs(t, err, ErrResourceNotFound, "another stream key")
	_, err = s.PatchResource(ctx, "good", "WH_test0", Patch{IfMatch: `"stale"`, Fragment: ""})
	require.Equal(t, http.StatusPreconditionFailed, StatusOf(err), err)
	pr, err := s.PatchResource(ctx, "good", "WH_test0", Patch{IfMatch: "*", Fragment: "a=ice-ufrag:newu\r\na=ice-pwd:newpasswordnewpasswordxx\r\n"})
	require.NoError(t, err)
	require.Contains(t, pr.Fragment, "a=ice-ufrag:")
	require.NotEqual(t, etag, pr.ETag)

	require.ErrorIs(t, s.DeleteResource("other", "WH_test0"), ErrResourceNotFound)
	require.NoError(t, s.DeleteResource("good", "WH_test0"))
	select {
	case err := <-pub.closed:
		require.NoError(t, err, "a clean end, as the client's DELETE")
	case <-ctx.Done():
		t.Fatal("the publisher was not closed")
	}
	require.ErrorIs(t, s.DeleteResource("good", "WH_test0"), ErrResourceNotFound, "the ended session is gone")
}

// proxyPublisher is a Proxy that records the offer it is handed.
type proxyPublisher struct {
	*dummyPublisher
	offers chan [2]string // offer, user agent
	errs   chan error     // what each Forward returns, in order
}

func (p *proxyPublisher) Forward(_ context.Context, offer, ua string) (string, string, error) {
	p.offers <- [2]string{offer, ua}
	if err := <-p.errs; err != nil {
		return "", "", err
	}
	return "answer from elsewhere", "sfu-etag", nil
}

type proxyAuthorizer struct{ pub *proxyPublisher }

func (a proxyAuthorizer) AuthorizeWHIP(string, string) (Publisher, error) { return a.pub, nil }

// TestProxy: a Publisher that is a Proxy gets the offer as sent (no local
// negotiation) and its answer and ETag go back with the resource's
// Location; its refusal reaches the client with its status.
func TestProxy(t *testing.T) {
	pub := &proxyPublisher{dummyPublisher: newDummyPublisher("WH_px"), offers: make(chan [2]string, 2), errs: make(chan error, 2)}
	pub.errs <- nil
	pub.errs <- statusErr{http.StatusForbidden}
	s := &Server{Address: "127.0.0.1:0", Authorizer: proxyAuthorizer{pub}}
	require.NoError(t, s.Initialize())
	t.Cleanup(s.Close)
	base := "http://" + s.Addr().String()
	offer := offerFor(t, "")
	res, body := do(t, "POST", base+"/w/key", map[string]string{"Content-Type": "application/sdp", "User-Agent": "obs"}, offer)
	require.Equal(t, http.StatusCreated, res.StatusCode, body)
	require.Equal(t, "answer from elsewhere", body)
	require.Equal(t, "/w/key/WH_px", res.Header.Get("Location"))
	require.Equal(t, "sfu-etag", res.Header.Get("ETag"))
	require.Equal(t, [2]string{offer, "obs"}, <-pub.offers)
	select {
	case <-pub.started:
		t.Fatal("a proxied offer is not negotiated here")
	default:
	}

	res, body = do(t, "POST", base+"/w/key", map[string]string{"Content-Type": "application/sdp"}, offer)
	require.Equal(t, http.StatusForbidden, res.StatusCode, body)
}
