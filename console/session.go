package console

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// session is one login: when it was opened and last used.
type session struct {
	opened, used time.Time
}

// expires returns when the session ends if left unused.
func (s session) expires(idle, maxAge time.Duration) time.Time {
	e := s.used.Add(idle)
	if m := s.opened.Add(maxAge); m.Before(e) {
		return m
	}
	return e
}

// sessions holds the live sessions by their random cookie value. A
// restart logs everybody out, which is fine for a console.
type sessions struct {
	now         func() time.Time
	idle, max   time.Duration
	maxSessions int

	mu   sync.Mutex
	byID map[string]session
}

func newSessions(now func() time.Time, idle, maxAge time.Duration, maxSessions int) *sessions {
	return &sessions{now: now, idle: idle, max: maxAge, maxSessions: maxSessions, byID: map[string]session{}}
}

// open starts a session and returns its id. Expired sessions are dropped;
// beyond maxSessions, the least recently used one is ended.
func (ss *sessions) open() (string, session) {
	id := randomID(32)
	now := ss.now()
	s := session{opened: now, used: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	var oldest string
	for k, v := range ss.byID {
		if !now.Before(v.expires(ss.idle, ss.max)) {
			delete(ss.byID, k)
		} else if oldest == "" || v.used.Before(ss.byID[oldest].used) {
			oldest = k
		}
	}
	if len(ss.byID) >= ss.maxSessions {
		delete(ss.byID, oldest)
	}
	ss.byID[id] = s
	return id, s
}

// touch returns the live session of id, marking it used now.
func (ss *sessions) touch(id string) (session, bool) {
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byID[id]
	if !ok {
		return session{}, false
	}
	if !now.Before(s.expires(ss.idle, ss.max)) {
		delete(ss.byID, id)
		return session{}, false
	}
	s.used = now
	ss.byID[id] = s
	return s, true
}

// close ends the session of id, if any.
func (ss *sessions) close(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byID, id)
}

// randomID returns n random bytes from crypto/rand, base64url-encoded.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand: "Read ... never returns an error")
	return base64.RawURLEncoding.EncodeToString(b)
}
