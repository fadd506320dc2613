package e2e

import (
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Ports for the servers a test starts (livekit-server, redis-server,
// Tributary) come from below the kernel's ephemeral range. A port asked
// of the kernel with ":0" is an ephemeral one, and between the probe and
// the server's own bind any outgoing connection on the machine (ffmpeg,
// Chromium, an HTTP client of another test) may be given it as its local
// port — the server then fails with "address already in use". Below the
// range, only another listener can take a port, and this process never
// hands out the same port twice.
var ports struct {
	sync.Mutex
	given map[int]bool
}

// portRangeLow is the lowest port handed out; the highest is one below
// the ephemeral range's start.
const portRangeLow = 20000

// ephemeralLow reads the first port of the kernel's ephemeral range
// (32768 when it cannot be read, Linux's default).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > portRangeLow+1000 {
				return n
			}
		}
	}
	return 32768
}

// FreePort returns a port below the ephemeral range that is free for both
// TCP and UDP on every address right now and that no earlier call in this
// process returned.
func FreePort() (int, error) {
	ports.Lock()
	defer ports.Unlock()
	if ports.given == nil {
		ports.given = map[int]bool{}
	}
	high := ephemeralLow() - 1
	span := high - portRangeLow + 1
	start := rand.IntN(span)
	for i := range span {
		p := portRangeLow + (start+i)%span
		if ports.given[p] || !bindable(p) {
			continue
		}
		ports.given[p] = true
		return p, nil
	}
	return 0, errors.New("no free port below the ephemeral range")
}

// bindable reports whether TCP and UDP port p can be bound on all
// addresses (servers under test listen on ":port").
func bindable(p int) bool {
	addr := ":" + strconv.Itoa(p)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer l.Close()
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// MustFreePort is FreePort for tests: it fails t when there is none.
func MustFreePort(t testing.TB) int {
	t.Helper()
	p, err := FreePort()
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	return p
}
