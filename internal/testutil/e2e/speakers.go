package e2e

import (
	"slices"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
)

// maxSpeakerChanges bounds the active-speaker updates kept.
const maxSpeakerChanges = 10_000

// SpeakerChange is one active-speaker update as the [Subscriber] got it:
// LiveKit sends the participants it hears speaking, loudest first, with
// their audio level (0 to 1), whenever the set changes.
type SpeakerChange struct {
	At time.Time
	// Levels maps the identities speaking to their level.
	Levels map[string]float32
}

// SpeakerChanges returns the active-speaker updates received so far.
func (s *Subscriber) SpeakerChanges() []SpeakerChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.speakers)
}

// onActiveSpeakers records an active-speaker update.
func (s *Subscriber) onActiveSpeakers(ps []lksdk.Participant) {
	c := SpeakerChange{At: time.Now(), Levels: make(map[string]float32, len(ps))}
	for _, p := range ps {
		c.Levels[p.Identity()] = p.AudioLevel()
	}
	s.mu.Lock()
	if len(s.speakers) < maxSpeakerChanges {
		s.speakers = append(s.speakers, c)
	}
	s.mu.Unlock()
}
