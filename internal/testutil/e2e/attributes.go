package e2e

import (
	"slices"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
)

// maxAttributeChanges bounds the attribute changes kept per participant.
const maxAttributeChanges = 10_000

// AttributeChange is a participant attribute value as the [Subscriber]
// first saw it.
type AttributeChange struct {
	// At is the wall-clock time the change reached the subscriber (the
	// SDK's callback).
	At time.Time
	// Key and Value are the attribute; Value is "" when it was removed.
	Key, Value string
}

// AttributeChanges returns the attribute changes of the participant with
// the given identity, in arrival order: its attributes when it was first
// seen, then every change the server signalled. Timestamps let a test
// relate an attribute to the media received meanwhile.
func (s *Subscriber) AttributeChanges(identity string) []AttributeChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attrChanges[identity])
}

// recordAttributesLocked appends changed attributes of a participant.
// s.mu must be held.
func (s *Subscriber) recordAttributesLocked(identity string, changed map[string]string, at time.Time) {
	if s.attrChanges == nil {
		s.attrChanges = make(map[string][]AttributeChange)
	}
	keys := make([]string, 0, len(changed))
	for k := range changed {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if len(s.attrChanges[identity]) >= maxAttributeChanges {
			return
		}
		s.attrChanges[identity] = append(s.attrChanges[identity], AttributeChange{At: at, Key: k, Value: changed[k]})
	}
}

// onAttributesChanged records an attribute change and wakes the waiters.
func (s *Subscriber) onAttributesChanged(changed map[string]string, p lksdk.Participant) {
	now := time.Now()
	s.mu.Lock()
	s.recordAttributesLocked(p.Identity(), changed, now)
	s.mu.Unlock()
	s.participantChanged(p)
}
