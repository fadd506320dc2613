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

// begin counts a login attempt from remote before its credentials are
// looked at, and returns how long the address must still wait (0: go
// ahead). Counting first means attempts sent at the same moment cannot
// all slip in before the first failure is recorded.
func (l *loginLimiter) begin(remote string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	k := clientOf(remote)
	f := l.by[k]
	if f != nil && now.Sub(f.last) > loginFailureMemory {
		delete(l.by, k)
		f = nil
	}
	if f != nil && f.until.After(now) {
		return f.until.Sub(now)
	}
	if f == nil {
		if !l.makeRoom(now) {
			// The table is full of addresses that are waiting (one
			// client spreading over many addresses): the newcomers
			// share one count.
			k = overflowClient
			if f = l.by[k]; f != nil && f.until.After(now) {
				return f.until.Sub(now)
			}
		}
		if f == nil {
			f = &loginFailures{}
			l.by[k] = f
		}
	}
	f.n++
	f.last = now
	if f.n >= freeLoginFailures {
		w := firstLoginWait << min(f.n-freeLoginFailures, 20)
		f.until = now.Add(min(w, maxLoginWait))
	}
	return 0
}

// wait is how long the address must wait before its next attempt (0:
// none), e.g. after the attempt begin let through failed.
func (l *loginLimiter) wait(remote string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.by[clientOf(remote)]
	if f == nil {
		f = l.by[overflowClient]
		if f == nil {
			return 0
		}
	}
	return max(0, f.until.Sub(l.now()))
}

// succeeded clears the address's count.
func (l *loginLimiter) succeeded(remote string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.by, clientOf(remote))
}

// overflowClient is the shared count of the addresses that found the table
// full.
var overflowClient = netip.PrefixFrom(netip.IPv6Unspecified(), 0)

// makeRoom makes room for one more address when the table is full: it
// forgets expired addresses, else the one whose last attempt is oldest
// among those not waiting. It reports false when every address is
// waiting (those are never forgotten early: a client could otherwise
// flush its own wait by filling the table).
func (l *loginLimiter) makeRoom(now time.Time) bool {
	if len(l.by) < maxLoginAddresses {
		return true
	}
	var oldest netip.Prefix
	var at time.Time
	for k, f := range l.by {
		if now.Sub(f.last) > loginFailureMemory {
			delete(l.by, k)
			continue
		}
		if k != overflowClient && !f.until.After(now) && (at.IsZero() || f.last.Before(at)) {
			oldest, at = k, f.last
		}
	}
	if len(l.by) < maxLoginAddresses {
		return true
	}
	if at.IsZero() {
		return false
	}
	delete(l.by, oldest)
	return true
}
