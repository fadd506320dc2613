package console

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// Bounds of login attempts.
const (
	// freeLoginFailures is how many wrong logins an address may make
	// before it has to wait.
	freeLoginFailures = 5
	// firstLoginWait is the first wait; it doubles with every further
	// failure up to maxLoginWait.
	firstLoginWait = time.Second
	maxLoginWait   = 5 * time.Minute
	// loginFailureMemory is how long an address's failures are remembered
	// after its last one.
	loginFailureMemory = 15 * time.Minute
	// maxLoginAddresses bounds the addresses remembered at once; over it
	// the one whose last failure is oldest is forgotten.
	maxLoginAddresses = 10000
)

// loginLimiter slows down guessing the API secret through the console:
// after freeLoginFailures wrong logins from one address (an IPv6 client is
// counted by its /64, which one host can fill with addresses), each
// further attempt is refused unless it waits, the wait doubling from
// firstLoginWait to maxLoginWait. A successful login clears the address.
// Behind a reverse proxy every client has the proxy's address: the limit
// then applies to all of them together.
type loginLimiter struct {
	now func() time.Time
	mu  sync.Mutex
	by  map[netip.Prefix]*loginFailures
}

type loginFailures struct {
	n     int
	last  time.Time
	until time.Time
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, by: map[netip.Prefix]*loginFailures{}}
}

// clientOf is the key a remote address is counted under.
func clientOf(remote string) netip.Prefix {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	a = a.Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// wait is how long the address must still wait before its next attempt
// is looked at (0: go ahead).
func (l *loginLimiter) wait(remote string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.by[clientOf(remote)]
	if f == nil {
		return 0
	}
	return max(0, f.until.Sub(l.now()))
}

// failed records a wrong login and returns the wait it now imposes.
func (l *loginLimiter) failed(remote string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	k := clientOf(remote)
	f := l.by[k]
	if f != nil && now.Sub(f.last) > loginFailureMemory {
		f = nil
	}
	if f == nil {
		l.makeRoom(now)
		f = &loginFailures{}
		l.by[k] = f
	}
	f.n++
	f.last = now
	if f.n >= freeLoginFailures {
		w := firstLoginWait << min(f.n-freeLoginFailures, 20)
		f.until = now.Add(min(w, maxLoginWait))
	}
	return max(0, f.until.Sub(now))
}

// succeeded clears the address's failures.
func (l *loginLimiter) succeeded(remote string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.by, clientOf(remote))
}

// makeRoom forgets expired addresses, and the oldest one if the table is
// still full.
func (l *loginLimiter) makeRoom(now time.Time) {
	if len(l.by) < maxLoginAddresses {
		return
	}
	var oldest netip.Prefix
	var at time.Time
	for k, f := range l.by {
		if now.Sub(f.last) > loginFailureMemory {
			delete(l.by, k)
			continue
		}
		if at.IsZero() || f.last.Before(at) {
			oldest, at = k, f.last
		}
	}
	if len(l.by) >= maxLoginAddresses {
		delete(l.by, oldest)
	}
}
