package msgstream

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// udpConn reads datagrams of a real UDP socket.
type udpConn struct{ net.PacketConn }

func (c udpConn) ReadMessage(p []byte) (int, error) {
	n, _, err := c.ReadFrom(p)
	return n, err
}

func TestReaderDatagrams(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	out, err := net.Dial("udp", pc.LocalAddr().String())
	require.NoError(t, err)
	defer out.Close()

	errIdle := errors.New("idle")
	r := New(udpConn{pc}, 1500, 200*time.Millisecond, func(d time.Duration) error {
		return fmt.Errorf("%w: nothing for %v", errIdle, d)
	})
	msgs := [][]byte{make([]byte, 1316), []byte("second"), make([]byte, 188)}
	for i, m := range msgs {
		for j := range m {
			m[j] = byte(i + j)
		}
		_, err := out.Write(m)
		require.NoError(t, err)
	}
	var want []byte
	for _, m := range msgs {
		want = append(want, m...)
	}
	// Small reads: a message is handed out over several reads, none lost.
	got := make([]byte, len(want))
	for off := 0; off < len(got); {
		n, err := r.Read(got[off:min(off+100, len(got))])
		require.NoError(t, err)
		off += n
	}
	require.Equal(t, want, got)

	start := time.Now()
	_, err = r.Read(make([]byte, 10))
	require.ErrorIs(t, err, errIdle, "a read waiting past the timeout fails with the idle error")
	require.Contains(t, err.Error(), "200ms")
	require.Less(t, time.Since(start), 2*time.Second)
}

// scripted returns its messages and errors in order.
type scripted struct {
	msgs []string
	errs []error
}

func (s *scripted) ReadMessage(p []byte) (int, error) {
	if len(s.msgs) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.msgs[0])
	err := s.errs[0]
	s.msgs, s.errs = s.msgs[1:], s.errs[1:]
	return n, err
}

func (s *scripted) SetReadDeadline(time.Time) error { return nil }

func TestReaderDataBeforeError(t *testing.T) {
	boom := errors.New("connection closed")
	r := New(&scripted{msgs: []string{"last", ""}, errs: []error{boom, boom}}, 16, time.Second, nil)
	b, err := io.ReadAll(r)
	require.Equal(t, "last", string(b), "the data that came with the error is read first")
	require.ErrorIs(t, err, boom)
}
