package rtmp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	gortmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/handshake"
	"github.com/yutopp/go-rtmp/message"

	"github.com/tributary-ingress/tributary/internal/testutil"

	"github.com/tributary-ingress/tributary/internal/testutil/rtmptest"
)

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestHugeMessagesRefusedBeforeAuth: a client that has only shaken hands
// sets a 4 MiB chunk size, declares 16 MiB messages on four chunk streams
// and sends one 4 MiB chunk of each. The connection is dropped at the
// first header, so the server never buffers them (the RTMP library alone
// held every byte sent, 2 connections × 4 chunk streams × 4 MiB, and
// waited for the rest, before any stream key was presented).
func TestHugeMessagesRefusedBeforeAuth(t *testing.T) {
	good := newRecorder()
	s := startServer(t, authFunc(func(string) (Publisher, error) { return good, nil }), 5*time.Second)
	before := heapInUse()
	var conns []net.Conn
	payload := make([]byte, 4<<20)
	for range 2 {
		c, err := net.Dial("tcp", s.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, handshake.HandshakeWithServer(c, c, &handshake.Config{}))
		_, err = c.Write(rtmptest.SetChunkSize(4 << 20))
		require.NoError(t, err)
		for csid := byte(3); csid < 7; csid++ {
			if _, err := c.Write(rtmptest.ChunkHeader0(csid, 20, 0xfffff0, 0)); err != nil {
				break
			}
			if _, err := c.Write(payload); err != nil {
				break // the server closed the connection: expected
			}
		}
		conns = append(conns, c)
	}
	time.Sleep(time.Second)
	grown := int64(heapInUse()) - int64(before)
	t.Logf("server heap grew by %.1f MiB", float64(grown)/(1<<20))
	require.Less(t, grown, int64(8<<20), "the declared messages are not buffered")
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server closed the connection")
	}

	// The listener still serves encoders.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := ffmpegPush(ctx, t, "rtmp://"+s.Addr().String()+"/live/good", 2).CombinedOutput()
	require.NoError(t, err, string(out))
	require.NoError(t, <-good.closed)
}

// TestMessageOverBoundEndsPublish: an authorized publisher declaring a
// video message over maxMessageSize ends with ErrMessageTooLarge in its
// session's error (the library accepted any 24-bit length).
func TestMessageOverBoundEndsPublish(t *testing.T) {
	rec := newRecorder()
	s := startServer(t, authFunc(func(string) (Publisher, error) { return rec, nil }), 5*time.Second)
	cc, err := gortmp.Dial("rtmp", s.Addr().String(), &gortmp.ConnConfig{})
	require.NoError(t, err)
	defer cc.Close()
	require.NoError(t, cc.Connect(&message.NetConnectionConnect{Command: message.NetConnectionConnectCommand{App: "live"}}))
	st, err := cc.CreateStream(&message.NetConnectionCreateStream{}, 4096)
	require.NoError(t, err)
	require.NoError(t, st.Publish(&message.NetStreamPublish{PublishingName: "key", PublishingType: "live"}))
	_ = st.Write(6, 33, &message.VideoMessage{Payload: bytes.NewReader(make([]byte, maxMessageSize+1))})
	select {
	case err := <-rec.closed:
		require.ErrorIs(t, err, ErrMessageTooLarge)
		require.ErrorContains(t, err, "a message of 8388609 bytes, over the bound of 8388608 bytes")
	case <-time.After(10 * time.Second):
		t.Fatal("the publish was not ended")
	}
}

// TestChunkGuardFollowsSplits: the guard's verdict on a byte stream does
// not depend on how reads split it, and it follows a stream the way the
// RTMP library does: chunk size changes, the 1- and 2-byte basic header
// forms (the 3-byte one is refused), extended timestamps, interleaved
// chunk streams.
func TestChunkGuardFollowsSplits(t *testing.T) {
	var b bytes.Buffer
	b.Write(make([]byte, handshakeSize))
	b.Write(rtmptest.SetChunkSize(130))
	// A 300-byte command on chunk stream 3 in three chunks (130, 130,
	// 40), interleaved with two 2-byte-basic-header streams (ids 70 and
	// 300), the second using extended timestamps.
	b.Write(rtmptest.ChunkHeader0(3, 20, 300, 0))
	b.Write(make([]byte, 130))
	b.Write([]byte{0 << 6, 70 - 64, 0xff, 0xff, 0xff, 0, 0, 10, 8, 1, 0, 0, 0, 0, 0, 0, 1})
	b.Write(make([]byte, 10))
	b.Write([]byte{3<<6 | 3})
	b.Write(make([]byte, 130))
	b.Write([]byte{1<<6 | 0, 300 - 64, 0xff, 0xff, 0xff, 0, 0, 5, 9, 0, 0, 0, 9})
	b.Write(make([]byte, 5))
	b.Write([]byte{2<<6 | 3, 0, 0, 33})
	b.Write(make([]byte, 40))
	// Chunk stream 3 again, after completion: a new message by format 3
	// (same length and type).
	b.Write([]byte{3<<6 | 3})
	b.Write(make([]byte, 130))
	stream := b.Bytes()

	whole := newChunkGuard(func() bool { return false })
	require.NoError(t, whole.feed(stream))
	require.Equal(t, uint32(130), whole.chunkSize)
	require.Len(t, whole.streams, 4)
	require.Equal(t, uint32(130), whole.streams[3].have, "mid-message on chunk stream 3")
	require.True(t, whole.streams[70].done)
	require.True(t, whole.streams[300].done)

	bytewise := newChunkGuard(func() bool { return false })
	for i := range stream {
		require.NoError(t, bytewise.feed(stream[i:i+1]))
	}
	require.Equal(t, whole.streams[3].have, bytewise.streams[3].have)
	require.Equal(t, whole.payload, bytewise.payload)

	// A chunk on a stream with no message to continue, as the library
	// would panic on, ends the connection with a reason.
	bad := newChunkGuard(func() bool { return false })
	err := bad.feed(append(make([]byte, handshakeSize), 3<<6|5))
	require.ErrorContains(t, err, "carries no message")

	// A 3-byte basic header is refused at its first byte: go-rtmp would
	// read everything buffered after it as part of it (the fuzz seed
	// FuzzChunkGuard/881256439ae270e8: the guard saw a 1-byte message the
	// library never assembled).
	three := newChunkGuard(func() bool { return false })
	err = three.feed(append(make([]byte, handshakeSize), 1<<6|1))
	require.ErrorContains(t, err, "3-byte basic header refused")
}

// libraryMessages runs the RTMP library's chunk reader over a stream
// (without handshake) and lists the messages it completes, applying a
// Set Chunk Size where the guard saw one (as the library's connection
// does when it handles the message).
func libraryMessages(stream []byte, types []byte) (out []uint32) {
	cs := gortmp.NewChunkStreamer(bytes.NewReader(stream), io.Discard, &gortmp.StreamControlStateConfig{
		DefaultChunkSize: defaultChunkSize, MaxChunkSize: maxChunkSize, MaxChunkStreams: maxChunkStreams,
		DefaultAckWindowSize: math.MaxInt32, MaxAckWindowSize: math.MaxInt32,
	})
	defer func() {
		_ = cs.Close()
		<-cs.Done()
		_ = recover() // the library panics on some malformed chunks
	}()
	for {
		r, err := cs.NewChunkReader()
		if err != nil {
			return out
		}
		body, _ := io.ReadAll(r)
		out = append(out, uint32(len(body)))
		if i := len(out) - 1; i < len(types) && types[i] == typeSetChunkSize && len(body) >= 4 {
			_ = cs.PeerState().SetChunkSize(binary.BigEndian.Uint32(body) & 0x7fffffff)
		}
	}
}

func FuzzChunkGuard(f *testing.F) {
	f.Add(rtmptest.SetChunkSize(4096), uint8(7))
	f.Add(append(rtmptest.SetChunkSize(64), rtmptest.ChunkHeader0(4, 9, 300, 1)...), uint8(1))
	f.Add([]byte{0x03, 0xff, 0xff, 0xff, 0, 1, 0, 20, 0, 0, 0, 0, 1, 2, 3, 4}, uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		stream := append(make([]byte, handshakeSize), data...)
		var lengths []uint32
		var types []byte
		whole := newChunkGuard(func() bool { return true })
		whole.onMessage = func(_ int, length uint32, typ byte) {
			lengths = append(lengths, length)
			types = append(types, typ)
		}
		errWhole := whole.feed(stream)
		split := newChunkGuard(func() bool { return true })
		var errSplit error
		n := int(step%31) + 1
		for i := 0; i < len(stream) && errSplit == nil; i += n {
			errSplit = split.feed(stream[i:min(i+n, len(stream))])
		}
		if (errWhole == nil) != (errSplit == nil) {
			t.Fatalf("verdict depends on the split: %v vs %v", errWhole, errSplit)
		}
		if errWhole == nil && (whole.held > maxHeld || len(whole.streams) > maxChunkStreams) {
			t.Fatalf("bounds exceeded: held %d, streams %d", whole.held, len(whole.streams))
		}
		// The guard sees the messages the library assembles, in order:
		// all of them, or those before the point where it ends the
		// connection.
		lib := libraryMessages(data, types)
		if errWhole == nil && len(lib) != len(lengths) || len(lib) < len(lengths) {
			t.Fatalf("guard saw messages %v, the library %v (guard error %v)", lengths, lib, errWhole)
		}
		for i := range lengths {
			if lib[i] != lengths[i] {
				t.Fatalf("guard saw messages %v, the library %v", lengths, lib)
			}
		}
	})
}

// TestPublishLargeMessagesAndExtendedTimestamps: what the guard must let
// through — an encoder whose keyframes are far over the pre-publish bound
// and whose timestamps are past 2^24 ms (4.7 hours, extended timestamps in
// every chunk header) — publishes every frame.
func TestPublishLargeMessagesAndExtendedTimestamps(t *testing.T) {
	rec := newRecorder()
	s := startServer(t, authFunc(func(string) (Publisher, error) { return rec, nil }), 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bin := testutil.FFmpeg(t)
	out, err := exec.CommandContext(ctx, bin, "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", "sine=frequency=440",
		"-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "20M", "-g", "30", "-c:a", "aac",
		// 16777 s: the RTMP timestamps cross 0xffffff ms after 0.2 s.
		"-output_ts_offset", "16777", "-f", "flv", "rtmp://"+s.Addr().String()+"/live/k").CombinedOutput()
	require.NoError(t, err, string(out))
	require.NoError(t, <-rec.closed)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.InDelta(t, 90, rec.video, 3, "3 s of 30 fps video")
	require.InDelta(t, 129, rec.audio, 5, "3 s of AAC")
}

// TestLibraryTrapsRefused: messages that make go-rtmp or go-amf0 misbehave
// on content they trust end the connection before the library reads
// them, and the server goes on serving encoders. Before the guard, the
// 40-byte command ended the whole process (go-amf0 allocated the 2^31
// elements its strict array declares: fatal out of memory), a type change
// halfway through a message led the guard to read the stream differently
// from go-rtmp (and held 64 MiB before a key), and a tiny chunk size with
// a tiny acknowledgement window cost seconds of CPU per megabyte.
func TestLibraryTrapsRefused(t *testing.T) {
	good := newRecorder()
	s := startServer(t, authFunc(func(string) (Publisher, error) { return good, nil }), 5*time.Second)
	bomb := []byte{0x02, 0x00, 0x01, 'x', 0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x0a, 0x7f, 0xff, 0xff, 0xff}
	typeChange := append(rtmptest.ChunkHeader0(6, 8, 132, 1), append([]byte{0x00, 0x80, 0x00, 0x00}, make([]byte, 124)...)...)
	typeChange = append(typeChange, 0x46, 0, 0, 0, 0, 0, 132, typeSetChunkSize)
	winAck := binary.BigEndian.AppendUint32(rtmptest.ChunkHeader0(2, typeWinAckSize, 4, 0), 1)
	for _, c := range []struct {
		name, why string
		send      []byte
	}{
		{"AMF0 array bomb", "an AMF0 array declares 2147483647 elements and has 0 bytes left", append(rtmptest.ChunkHeader0(3, 20, len(bomb), 0), bomb...)},
		{"type changed halfway", "changes its message from type 8, 132 bytes to type 1, 132 bytes halfway", typeChange},
		{"chunk size 1", "RTMP chunk size 1 refused (at least 128)", rtmptest.SetChunkSize(1)},
		{"chunk size 0", "RTMP chunk size 0 refused", rtmptest.SetChunkSize(0)},
		{"acknowledgement window 1", "RTMP acknowledgement window of 1 bytes refused", winAck},
		{"AMF message over 64 KiB after a big chunk size", "over the bound of 65536 bytes", append(rtmptest.SetChunkSize(1<<20), rtmptest.ChunkHeader0(3, 20, 70_000, 0)...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newChunkGuard(func() bool { return true })
			err := g.feed(append(make([]byte, handshakeSize), c.send...))
			require.ErrorContains(t, err, c.why)

			cn, err := net.Dial("tcp", s.Addr().String())
			require.NoError(t, err)
			defer cn.Close()
			require.NoError(t, handshake.HandshakeWithServer(cn, cn, &handshake.Config{}))
			_, _ = cn.Write(c.send)
			_ = cn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.Copy(io.Discard, cn)
			var ne net.Error
			require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server closed the connection")
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := ffmpegPush(ctx, t, "rtmp://"+s.Addr().String()+"/live/good", 2).CombinedOutput()
	require.NoError(t, err, string(out))
	require.NoError(t, <-good.closed)
}

func TestCheckAMF0(t *testing.T) {
	str := func(s string) []byte { return append([]byte{0x02, 0, byte(len(s))}, s...) }
	num := []byte{0x00, 0x40, 0x08, 0, 0, 0, 0, 0, 0}
	obj := append(append([]byte{0x03, 0, 3}, "app"...), str("live")...)
	obj = append(obj, 0, 0, 0x09)
	connect := append(append(str("connect"), num...), obj...)
	require.NoError(t, checkAMF0(connect))
	arr := append([]byte{0x0a, 0, 0, 0, 2}, append(num, num...)...)
	require.NoError(t, checkAMF0(append(str("x"), arr...)))
	require.NoError(t, checkAMF0([]byte{0x02, 0x00}), "truncated: left to go-amf0's own error")
	require.ErrorContains(t, checkAMF0([]byte{0x0a, 0, 0, 0, 3, 0x05, 0x05}), "declares 3 elements and has 2 bytes left")
	deep := bytes.Repeat([]byte{0x0a, 0, 0, 0, 1}, 40)
	require.ErrorContains(t, checkAMF0(append(deep, 0x05)), "nested deeper than 32")
}
