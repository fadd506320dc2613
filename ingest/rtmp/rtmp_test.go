package rtmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/guard"
	"github.com/tributary-ingress/tributary/media"

	"github.com/tributary-ingress/tributary/internal/testutil"

	"github.com/tributary-ingress/tributary/internal/testutil/rtmptest"
)

func TestStreamKey(t *testing.T) {
	cases := []struct{ name, want string }{
		{"abc123", "abc123"},
		{"live/abc123", "abc123"},
		{"x/y/abc123/", "abc123"},
		{"abc123?token=1", "abc123"},
		{"", ""},
	}
	for _, c := range cases {
		require.Equal(t, c.want, StreamKey(c.name), c.name)
	}
}

// recorder is a Publisher that counts what it gets.
type recorder struct {
	mu               sync.Mutex
	video, audio     int
	tracks           []*media.Track
	firstVideo       *media.Frame
	closed           chan error
	done             chan struct{}
	failOnVideoAfter int
}

func newRecorder() *recorder {
	return &recorder{closed: make(chan error, 1), done: make(chan struct{})}
}

func (r *recorder) Track(t *media.Track) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tracks = append(r.tracks, t)
	return nil
}

func (r *recorder) Frame(f *media.Frame) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f.Track.Kind == media.KindAudio {
		r.audio++
		return nil
	}
	r.video++
	if r.firstVideo == nil {
		r.firstVideo = f
	}
	if r.failOnVideoAfter > 0 && r.video > r.failOnVideoAfter {
		return errors.New("unsupported codec: test")
	}
	return nil
}
func (r *recorder) Close(err error)       { r.closed <- err }
func (r *recorder) Done() <-chan struct{} { return r.done }

type authFunc func(key string) (Publisher, error)

func (f authFunc) AuthorizeRTMP(key string, _ net.Addr) (Publisher, error) { return f(key) }

func startServer(t *testing.T, auth Authorizer, timeout time.Duration) *Server {
	t.Helper()
	s := &Server{Address: "127.0.0.1:0", Authorizer: auth, ReadTimeout: timeout}
	require.NoError(t, s.Initialize())
	t.Cleanup(s.Close)
	return s
}

func ffmpegPush(ctx context.Context, t *testing.T, url string, seconds int) *exec.Cmd {
	t.Helper()
	bin := testutil.FFmpeg(t)
	return exec.CommandContext(ctx, bin, "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-f", "lavfi", "-i", "sine=frequency=440",
		"-t", fmt.Sprint(seconds), "-c:v", "libx264", "-g", "30", "-c:a", "aac", "-f", "flv", url)
}

func TestPublishWithFFmpeg(t *testing.T) {
	rec := newRecorder()
	var keys []string
	var mu sync.Mutex
	s := startServer(t, authFunc(func(key string) (Publisher, error) {
		mu.Lock()
		defer mu.Unlock()
		keys = append(keys, key)
		if key != "goodkey" {
			return nil, errors.New("stream key not found")
		}
		return rec, nil
	}), 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	out, err := ffmpegPush(ctx, t, "rtmp://"+s.Addr().String()+"/live/goodkey", 2).CombinedOutput()
	require.NoError(t, err, string(out))
	select {
	case err := <-rec.closed:
		require.NoError(t, err, "a clean unpublish ends without error")
	case <-ctx.Done():
		t.Fatal("publisher not closed")
	}
	rec.mu.Lock()
	require.InDelta(t, 60, rec.video, 3, "2 s of 30 fps video")
	require.InDelta(t, 86, rec.audio, 4, "2 s of 1024-sample AAC frames at 44.1 kHz")
	require.Len(t, rec.tracks, 2)
	require.Equal(t, media.CodecH264, rec.tracks[0].Codec)
	require.Equal(t, 320, rec.tracks[0].Width)
	require.Equal(t, 180, rec.tracks[0].Height)
	require.Equal(t, media.CodecAAC, rec.tracks[1].Codec)
	require.True(t, rec.firstVideo.Key, "the first frame is a keyframe")
	rec.mu.Unlock()

	// An unknown key is refused: ffmpeg fails.
	out, err = ffmpegPush(ctx, t, "rtmp://"+s.Addr().String()+"/live/badkey", 2).CombinedOutput()
	require.Error(t, err)
	require.NotEmpty(t, out)
	mu.Lock()
	require.Equal(t, []string{"goodkey", "badkey"}, keys)
	mu.Unlock()
}

func TestSessionEndClosesConnection(t *testing.T) {
	rec := newRecorder()
	s := startServer(t, authFunc(func(string) (Publisher, error) { return rec, nil }), 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := ffmpegPush(ctx, t, "rtmp://"+s.Addr().String()+"/app/key", 30)
	require.NoError(t, cmd.Start())
	// Wait for media, then end the session from the service side.
	for {
		rec.mu.Lock()
		n := rec.video
		rec.mu.Unlock()
		if n > 5 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no video")
		case <-time.After(20 * time.Millisecond):
		}
	}
	close(rec.done)
	select {
	case <-rec.closed:
	case <-ctx.Done():
		t.Fatal("publisher not closed after Done")
	}
	err := cmd.Wait()
	require.Error(t, err, "ffmpeg sees its connection closed")
}

func TestWriteErrorEndsPublish(t *testing.T) {
	rec := newRecorder()
	rec.failOnVideoAfter = 3
	s := startServer(t, authFunc(func(string) (Publisher, error) { return rec, nil }), 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_ = ffmpegPush(ctx, t, "rtmp://"+s.Addr().String()+"/app/key", 10).Run()
	select {
	case err := <-rec.closed:
		require.ErrorContains(t, err, "unsupported codec: test")
	case <-ctx.Done():
		t.Fatal("publisher not closed")
	}
}

func TestSilentClientTimesOut(t *testing.T) {
	s := startServer(t, authFunc(func(string) (Publisher, error) { return newRecorder(), nil }), 300*time.Millisecond)
	c, err := net.Dial("tcp", s.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	buf := make([]byte, 1)
	_, err = c.Read(buf)
	require.Error(t, err, "the server closes a connection that sends nothing")
	require.False(t, strings.Contains(err.Error(), "timeout"), "closed by the server, not by our own deadline: %v", err)
}

func TestGarbageAfterConnect(t *testing.T) {
	s := startServer(t, authFunc(func(string) (Publisher, error) { return newRecorder(), nil }), 2*time.Second)
	c, err := net.Dial("tcp", s.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	junk := make([]byte, 4096)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	_, _ = c.Write(junk)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = c.Read(make([]byte, 8192))
	for err == nil {
		_, err = c.Read(make([]byte, 8192))
	}
	require.False(t, strings.Contains(err.Error(), "timeout"), "the server drops a client that sends garbage: %v", err)
}

// TestDripClientDropped: a client that drips a byte every 300 ms never
// trips the read timeout (5 s), but is dropped when it has not published
// within PublishTimeout (2 s) of connecting; an encoder that publishes in
// time streams on well past that bound.
func TestDripClientDropped(t *testing.T) {
	rec := newRecorder()
	s := &Server{Address: "127.0.0.1:0", ReadTimeout: 5 * time.Second, PublishTimeout: 2 * time.Second,
		Authorizer: authFunc(func(string) (Publisher, error) { return rec, nil })}
	require.NoError(t, s.Initialize())
	t.Cleanup(s.Close)

	c, err := net.Dial("tcp", s.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	start := time.Now()
	var werr error
	for time.Since(start) < 6*time.Second {
		if _, werr = c.Write([]byte{3}); werr != nil {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	require.Error(t, werr, "the server closed the dripping connection")
	took := time.Since(start)
	require.Less(t, took, 4*time.Second, "dropped at PublishTimeout, not later")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := ffmpegPush(ctx, t, "rtmp://"+s.Addr().String()+"/live/key", 4).CombinedOutput()
	require.NoError(t, err, "a publish outlives PublishTimeout: %s", out)
	require.NoError(t, <-rec.closed)
}

// TestConnsPerIP: one address cannot hold more than MaxConnsPerIP
// connections; the next is closed at once, another address still gets in.
func TestConnsPerIP(t *testing.T) {
	s := &Server{Address: "127.0.0.1:0", MaxConnsPerIP: 4,
		Authorizer: authFunc(func(string) (Publisher, error) { return nil, errors.New("no") })}
	require.NoError(t, s.Initialize())
	t.Cleanup(s.Close)
	port := s.Addr().(*net.TCPAddr).Port
	dial := func(from string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	closed := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		return err != nil && !(errors.As(err, &ne) && ne.Timeout())
	}
	var held []net.Conn
	for range 4 {
		held = append(held, dial("127.0.0.2"))
	}
	for _, c := range held {
		require.False(t, closed(c), "within the bound")
	}
	require.True(t, closed(dial("127.0.0.2")), "the fifth from one address is closed")
	require.False(t, closed(dial("127.0.0.3")), "another address gets in")
}

// panicker is a Publisher whose parsing path panics (as a demuxer bug
// met by a malformed stream would).
type panicker struct{ recorder }

func (p *panicker) Track(*media.Track) error { panic("malformed stream met a bug") }

// TestPanicEndsOnlyThatPublish: a panic while handling one connection's
// media ends that publish with an error saying so; the process and the
// listener go on, and the next publish works.
func TestPanicEndsOnlyThatPublish(t *testing.T) {
	bad := &panicker{recorder: *newRecorder()}
	good := newRecorder()
	s := startServer(t, authFunc(func(key string) (Publisher, error) {
		if key == "bad" {
			return bad, nil
		}
		return good, nil
	}), 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = ffmpegPush(ctx, t, "rtmp://"+s.Addr().String()+"/live/bad", 2).CombinedOutput()
	select {
	case err := <-bad.closed:
		require.ErrorIs(t, err, guard.ErrPanic)
		require.ErrorContains(t, err, "in the FLV demuxer: malformed stream met a bug")
	case <-ctx.Done():
		t.Fatal("the panicking publish was not closed")
	}
	out, err := ffmpegPush(ctx, t, "rtmp://"+s.Addr().String()+"/live/good", 2).CombinedOutput()
	require.NoError(t, err, string(out))
	require.NoError(t, <-good.closed)
}

// TestUnpublishRestoresPublishDeadline: once its publish ends
// (FCUnpublish, deleteStream), a connection is held to the bounds of one
// that has not published: the publish deadline and the small message
// bounds, so it cannot keep its slot and the larger bounds by dripping a
// byte now and then.
func TestUnpublishRestoresPublishDeadline(t *testing.T) {
	rec := newRecorder()
	s := &Server{PublishTimeout: 2 * time.Second}
	tc := &trackedConn{s: s}
	h := &handler{s: s, conn: tc, pub: rec, stop: make(chan struct{})}
	tc.h = h
	tc.published.Store(true)
	tc.publishBy.Store(time.Now().Add(-time.Hour).UnixNano())
	before := time.Now()
	h.end()
	require.NoError(t, <-rec.closed)
	require.False(t, tc.published.Load())
	by := time.Unix(0, tc.publishBy.Load())
	require.WithinDuration(t, before.Add(2*time.Second), by, time.Second)
	g := newChunkGuard(tc.published.Load)
	require.ErrorIs(t, g.feed(append(make([]byte, handshakeSize), rtmptest.ChunkHeader0(6, 9, 70_000, 1)...)), ErrMessageTooLarge,
		"the chunk guard is back to the bounds before a publish")
}
