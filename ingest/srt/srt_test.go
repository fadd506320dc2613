package srt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil"
)

func TestStreamKey(t *testing.T) {
	cases := []struct{ id, want string }{
		{"abc123", "abc123"},
		{"#!::r=abc123,m=publish", "abc123"},
		{"#!::m=publish,r=abc123", "abc123"},
		{"#!::m=publish", ""},
		{"publish:abc123", "abc123"},
		{"live/abc123", "abc123"},
		{"", ""},
	}
	for _, c := range cases {
		require.Equal(t, c.want, StreamKey(c.id), c.id)
	}
}

func ffmpeg(t *testing.T) string {
	t.Helper()
	return testutil.FFmpeg(t)
}

// tsCounter checks and counts MPEG-TS packets.
type tsCounter struct {
	mu      sync.Mutex
	packets int
	bad     int
	done    chan error
}

func (c *tsCounter) Serve(r io.Reader) error {
	buf := make([]byte, 188)
	var err error
	for {
		if _, err = io.ReadFull(r, buf); err != nil {
			break
		}
		c.mu.Lock()
		if buf[0] == 0x47 {
			c.packets++
		} else {
			c.bad++
		}
		c.mu.Unlock()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	c.done <- err
	return err
}

type authFunc func(key string) (Publisher, error)

func (f authFunc) AuthorizeSRT(key string, _ net.Addr) (Publisher, error) { return f(key) }

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestListenerWithFFmpeg: ffmpeg pushes MPEG-TS over SRT with the stream
// key as streamid; an unknown key is rejected.
func TestListenerWithFFmpeg(t *testing.T) {
	bin := ffmpeg(t)
	counter := &tsCounter{done: make(chan error, 1)}
	port := freeUDPPort(t)
	s := &Server{Address: fmt.Sprintf("127.0.0.1:%d", port), Authorizer: authFunc(func(key string) (Publisher, error) {
		if key != "goodkey" {
			return nil, errors.New("stream key not found")
		}
		return counter, nil
	})}
	require.NoError(t, s.Initialize())
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	push := func(streamid string) ([]byte, error) {
		return exec.CommandContext(ctx, bin, "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
			"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", "2", "-c:v", "libx264", "-f", "mpegts",
			fmt.Sprintf("srt://127.0.0.1:%d?streamid=%s", port, streamid)).CombinedOutput()
	}
	out, err := push("#!::r=goodkey,m=publish")
	require.NoError(t, err, string(out))
	select {
	case err := <-counter.done:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("push did not end")
	}
	counter.mu.Lock()
	// SRT drops packets that miss the latency window on a loaded machine,
	// so only the flow and the alignment are checked here; reading whole
	// messages is checked by TestWholeMessages.
	require.Greater(t, counter.packets, 50)
	require.Zero(t, counter.bad, "the byte stream is aligned MPEG-TS")
	counter.mu.Unlock()

	out, err = push("nosuchkey")
	require.Error(t, err, "rejected: %s", out)
}

// TestCallerWithFFmpegListener: Dial pulls from ffmpeg acting as an SRT
// listener, with a passphrase and latency in the URL.
func TestCallerWithFFmpegListener(t *testing.T) {
	bin := ffmpeg(t)
	port := freeUDPPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", "3", "-c:v", "libx264", "-f", "mpegts",
		fmt.Sprintf("srt://127.0.0.1:%d?mode=listener&passphrase=correcthorse1&pbkeylen=16", port))
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Wait() }()

	var conn io.ReadCloser
	var err error
	for i := 0; i < 50; i++ { // ffmpeg needs a moment to bind its listener
		conn, err = Dial(ctx, DialConfig{URL: fmt.Sprintf("srt://127.0.0.1:%d?passphrase=correcthorse1&latency=200", port)})
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	require.NoError(t, err)
	c := &tsCounter{done: make(chan error, 1)}
	go func() { _ = c.Serve(conn) }()
	select {
	case <-c.done:
	case <-ctx.Done():
		t.Fatal("pull did not end")
	}
	conn.Close()
	require.Greater(t, c.packets, 50)
	require.Zero(t, c.bad)

	_, err = Dial(ctx, DialConfig{URL: "srt://127.0.0.1:1?mode=rendezvous"})
	require.ErrorContains(t, err, "mode=rendezvous is not supported")
}

// TestPullAsListener: a pull with mode=listener binds the URL's port and
// takes ffmpeg calling in with the URL's passphrase (as an encoder that
// can only call, behind NAT, would); a caller without the passphrase is
// refused and the listener keeps waiting; a system port is refused; with
// no caller the wait ends with a reason.
func TestPullAsListener(t *testing.T) {
	bin := ffmpeg(t)
	port := freeUDPPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type res struct {
		c   io.ReadCloser
		err error
	}
	got := make(chan res, 1)
	go func() {
		c, err := Dial(ctx, DialConfig{URL: fmt.Sprintf("srt://127.0.0.1:%d?mode=listener&passphrase=correcthorse1", port)})
		got <- res{c, err}
	}()
	push := func(query string, secs int) *exec.Cmd {
		return exec.CommandContext(ctx, bin, "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
			"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", fmt.Sprint(secs), "-c:v", "libx264", "-f", "mpegts",
			fmt.Sprintf("srt://127.0.0.1:%d?%s", port, query))
	}
	time.Sleep(300 * time.Millisecond) // the listener binds
	out, err := push("connect_timeout=2000", 1).CombinedOutput()
	require.Error(t, err, "a caller without the passphrase is refused: %s", out)
	cmd := push("passphrase=correcthorse1&pbkeylen=16", 3)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Wait() }()
	var r res
	select {
	case r = <-got:
	case <-ctx.Done():
		t.Fatal("no caller taken")
	}
	require.NoError(t, r.err)
	c := &tsCounter{done: make(chan error, 1)}
	go func() { _ = c.Serve(r.c) }()
	select {
	case <-c.done:
	case <-ctx.Done():
		t.Fatal("pull did not end")
	}
	r.c.Close()
	require.Greater(t, c.packets, 50)
	require.Zero(t, c.bad)

	_, err = Dial(ctx, DialConfig{URL: "srt://127.0.0.1:554?mode=listener"})
	require.ErrorContains(t, err, "mode=listener needs a port of 1024 or above")
	_, err = Dial(ctx, DialConfig{URL: fmt.Sprintf("srt://127.0.0.1:%d?mode=listener", freeUDPPort(t)), ListenTimeout: 300 * time.Millisecond})
	require.ErrorContains(t, err, "no SRT caller connected to 127.0.0.1:")
}

// fakeMsgConn returns one message per Read, as SRT live mode does, and
// truncates it to the caller's buffer as SRT does.
type fakeMsgConn struct{ msgs [][]byte }

func (f *fakeMsgConn) Read(p []byte) (int, error) {
	if len(f.msgs) == 0 {
		return 0, io.EOF
	}
	m := f.msgs[0]
	f.msgs = f.msgs[1:]
	return copy(p, m), nil
}
func (f *fakeMsgConn) SetReadDeadline(time.Time) error { return nil }
func (f *fakeMsgConn) Close() error                    { return nil }

// TestWholeMessages: 188-byte reads of 1316-byte messages (7 TS packets)
// get every packet, not the first of each message.
func TestWholeMessages(t *testing.T) {
	var msgs [][]byte
	for m := 0; m < 10; m++ {
		msg := make([]byte, 1316)
		for p := 0; p < 7; p++ {
			msg[p*188] = 0x47
			msg[p*188+1] = byte(m*7 + p)
		}
		msgs = append(msgs, msg)
	}
	r := newConnReader(&fakeMsgConn{msgs: msgs})
	buf := make([]byte, 188)
	for i := 0; i < 70; i++ {
		_, err := io.ReadFull(r, buf)
		require.NoError(t, err)
		require.Equal(t, byte(0x47), buf[0])
		require.Equal(t, byte(i), buf[1], "packet %d", i)
	}
	_, err := io.ReadFull(r, buf)
	require.ErrorIs(t, err, io.EOF)
}

// TestListenerPassphrase: with a passphrase set, ffmpeg pushing with that
// passphrase gets in; without encryption or with a wrong passphrase it is
// refused before the stream key is looked at (so a refused caller cannot
// end the live publisher on that key). Without a passphrase set, an
// encrypting caller is refused (its stream could not be read).
func TestListenerPassphrase(t *testing.T) {
	bin := ffmpeg(t)
	const secret = "correct-horse-battery"
	for _, c := range []struct {
		name, listener, caller string
		ok                     bool
	}{
		{"right passphrase", secret, secret, true},
		{"no encryption", secret, "", false},
		{"wrong passphrase", secret, "wrong-horse-battery", false},
		{"encrypting caller, open listener", "", secret, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			counter := &tsCounter{done: make(chan error, 1)}
			var authorized atomic.Int32
			port := freeUDPPort(t)
			s := &Server{Address: fmt.Sprintf("127.0.0.1:%d", port), Passphrase: c.listener,
				Authorizer: authFunc(func(key string) (Publisher, error) {
					authorized.Add(1)
					return counter, nil
				})}
			require.NoError(t, s.Initialize())
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			url := fmt.Sprintf("srt://127.0.0.1:%d?streamid=key", port)
			if c.caller != "" {
				url += "&passphrase=" + c.caller
			}
			out, err := exec.CommandContext(ctx, bin, "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
				"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", "2", "-c:v", "libx264", "-f", "mpegts", url).CombinedOutput()
			if !c.ok {
				require.Error(t, err, "refused: %s", out)
				require.Zero(t, authorized.Load(), "the stream key was not looked at")
				return
			}
			require.NoError(t, err, string(out))
			select {
			case err := <-counter.done:
				require.NoError(t, err)
			case <-ctx.Done():
				t.Fatal("push did not end")
			}
			counter.mu.Lock()
			defer counter.mu.Unlock()
			require.Greater(t, counter.packets, 20, "decrypted MPEG-TS arrives (%d misaligned)", counter.bad)
			require.Zero(t, counter.bad)
		})
	}
}
