package e2e

import (
	"cmp"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

const (
	// subscriberConnectTimeout bounds joining the room (signalling and the
	// first ICE/DTLS handshake) on a busy machine.
	subscriberConnectTimeout = 20 * time.Second
	// subscriberCloseTimeout bounds the wait for the track readers to end
	// after the room is left.
	subscriberCloseTimeout = 10 * time.Second
	// waitRecheck re-evaluates wait predicates even without new events, so
	// that conditions depending on time (a rate decaying after a stall)
	// are noticed.
	waitRecheck = 200 * time.Millisecond
)

// ErrSubscriberClosed is returned by the wait methods of a closed
// [Subscriber].
var ErrSubscriberClosed = errors.New("subscriber closed")

// subscriberSeq makes subscriber identities unique within a test binary.
var subscriberSeq atomic.Int64

// Participant is a snapshot of a remote participant as the [Subscriber]
// sees it.
type Participant struct {
	// SID is the server-assigned participant id.
	SID string
	// Identity is the participant identity from its token.
	Identity string
	// Name is the display name.
	Name string
	// Kind is the participant kind (STANDARD, INGRESS, …).
	Kind livekit.ParticipantInfo_Kind
	// Metadata is the participant metadata.
	Metadata string
	// Attributes are the participant attributes.
	Attributes map[string]string
	// Tracks are the tracks the participant publishes, as advertised by the
	// server (subscribed or not).
	Tracks []*livekit.TrackInfo
	// Connected is false once the participant left the room.
	Connected bool
}

// participantEntry is the Subscriber's record of one remote participant.
type participantEntry struct {
	rp   *lksdk.RemoteParticipant
	left bool
	last Participant // snapshot taken when the participant left
}

// trackEntry is the Subscriber's record of one subscribed track.
type trackEntry struct {
	rec *trackRecorder
	pub *lksdk.RemoteTrackPublication
}

// Subscriber is a hidden participant that subscribes to every track of a
// room and measures what arrives. Create it with [NewSubscriber]; all its
// methods are safe for concurrent use.
type Subscriber struct {
	// Room is the room name.
	Room string
	// Identity is the subscriber's own (hidden) identity.
	Identity string

	room *lksdk.Room

	mu           sync.Mutex
	closed       bool
	changed      chan struct{} // closed and cleared on every change; nil when nobody waits
	participants map[string]*participantEntry
	tracks       map[string]*trackEntry       // by track SID
	capturing    bool                         // keep every packet (see CapturePackets)
	attrChanges  map[string][]AttributeChange // by identity (see AttributeChanges)
	speakers     []SpeakerChange              // see SpeakerChanges

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup // track readers
}

// NewSubscriber joins room on lk as a hidden participant that may
// subscribe but not publish, with auto-subscribe on. It fails the test if
// the join fails. Close is registered with t.Cleanup.
func NewSubscriber(t testing.TB, lk *LiveKit, room string) *Subscriber {
	t.Helper()
	s := &Subscriber{
		Room:         room,
		Identity:     fmt.Sprintf("e2e-subscriber-%d", subscriberSeq.Add(1)),
		participants: make(map[string]*participantEntry),
		tracks:       make(map[string]*trackEntry),
		done:         make(chan struct{}),
	}

	grant := &auth.VideoGrant{RoomJoin: true, Room: room, Hidden: true}
	grant.SetCanSubscribe(true)
	grant.SetCanPublish(false)
	grant.SetCanPublishData(false)
	token, err := auth.NewAccessToken(lk.APIKey, lk.APISecret).
		SetIdentity(s.Identity).
		SetName(s.Identity).
		SetVideoGrant(grant).
		SetValidFor(24 * time.Hour).
		ToJWT()
	if err != nil {
		t.Fatalf("subscriber token: %v", err)
	}

	cb := &lksdk.RoomCallback{
		ParticipantCallback: lksdk.ParticipantCallback{
			OnTrackSubscribed:   s.onTrackSubscribed,
			OnTrackUnsubscribed: s.onTrackUnsubscribed,
			OnTrackPublished: func(_ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
				s.addParticipant(rp)
			},
			OnTrackUnpublished: func(_ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
				s.addParticipant(rp)
			},
			OnMetadataChanged: func(_ string, p lksdk.Participant) {
				s.participantChanged(p)
			},
			OnAttributesChanged: s.onAttributesChanged,
		},
		OnParticipantConnected:    s.addParticipant,
		OnParticipantDisconnected: s.removeParticipant,
		OnActiveSpeakersChanged:   s.onActiveSpeakers,
	}
	lkRoom, err := lksdk.ConnectToRoomWithToken(lk.URL, token, cb,
		lksdk.WithAutoSubscribe(true),
		lksdk.WithConnectTimeout(subscriberConnectTimeout),
	)
	if err != nil {
		t.Fatalf("subscriber %s join room %q on %s: %v", s.Identity, room, lk.URL, err)
	}
	s.room = lkRoom
	// Participants already in the room come with the join response, for
	// which the SDK fires no OnParticipantConnected.
	for _, rp := range lkRoom.GetRemoteParticipants() {
		s.addParticipant(rp)
	}
	t.Cleanup(func() {
		if cerr := s.Close(); cerr != nil {
			t.Errorf("close subscriber: %v", cerr)
		}
	})
	return s
}

// Close leaves the room and waits for every track reader to end. It is
// idempotent and also registered with t.Cleanup by NewSubscriber.
func (s *Subscriber) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.done)
		s.broadcastLocked()
		s.mu.Unlock()

		s.room.Disconnect() // closes the peer connections: ReadRTP returns

		readersDone := make(chan struct{})
		go func() {
			s.wg.Wait()
			close(readersDone)
		}()
		select {
		case <-readersDone:
		case <-time.After(subscriberCloseTimeout):
			s.closeErr = fmt.Errorf("track readers still running %v after leaving the room", subscriberCloseTimeout)
		}
	})
	return s.closeErr
}

// Participants returns a snapshot of the remote participants seen so far
// (hidden ones excluded), sorted by identity. Participants who left are
// included with Connected false.
func (s *Subscriber) Participants() []Participant {
	s.mu.Lock()
	entries := make([]participantEntry, 0, len(s.participants))
	for _, e := range s.participants {
		entries = append(entries, *e)
	}
	s.mu.Unlock()

	// The SDK accessors take the SDK's locks: call them without ours.
	out := make([]Participant, 0, len(entries))
	for _, e := range entries {
		if e.left {
			out = append(out, e.last)
		} else {
			out = append(out, snapshotParticipant(e.rp, true))
		}
	}
	slices.SortFunc(out, func(a, b Participant) int { return cmp.Compare(a.Identity, b.Identity) })
	return out
}

// Stats returns a snapshot of every track subscribed so far, sorted by
// participant identity, kind and track SID. Tracks that stopped are
// included with Ended true.
func (s *Subscriber) Stats() []TrackStats {
	now := time.Now()
	type item struct {
		stats TrackStats
		pub   *lksdk.RemoteTrackPublication
	}
	s.mu.Lock()
	items := make([]item, 0, len(s.tracks))
	for _, e := range s.tracks {
		items = append(items, item{stats: e.rec.snapshot(now), pub: e.pub})
	}
	s.mu.Unlock()

	out := make([]TrackStats, 0, len(items))
	for _, it := range items {
		st := it.stats
		if info := it.pub.TrackInfo(); info != nil {
			st.Simulcast = info.GetSimulcast()
			st.Layers = info.GetLayers()
			st.AdvertisedWidth = info.GetWidth()
			st.AdvertisedHeight = info.GetHeight()
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b TrackStats) int {
		return cmp.Or(
			cmp.Compare(a.ParticipantIdentity, b.ParticipantIdentity),
			cmp.Compare(a.Kind.String(), b.Kind.String()),
			cmp.Compare(a.TrackSID, b.TrackSID),
		)
	})
	return out
}

// SliceHashes returns the SHA-1 of every H.264 slice NAL unit received on
// a track (see trackRecorder.slices).
func (s *Subscriber) SliceHashes(trackSID string) map[[sha1.Size]byte]struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.tracks[trackSID]
	if !ok {
		return nil
	}
	return maps.Clone(e.rec.slices)
}

// WaitParticipant waits until a remote participant satisfies pred and
// returns it. It fails when ctx ends or the subscriber is closed; the error
// then lists the participants seen.
func (s *Subscriber) WaitParticipant(ctx context.Context, pred func(Participant) bool) (Participant, error) {
	var found Participant
	var last []Participant
	err := s.wait(ctx, func() bool {
		last = s.Participants()
		for _, p := range last {
			if pred(p) {
				found = p
				return true
			}
		}
		return false
	})
	if err != nil {
		return Participant{}, fmt.Errorf("no matching participant: %w; participants seen: %s", err, formatParticipants(last))
	}
	return found, nil
}

// WaitTrack waits until a subscribed track's statistics satisfy pred and
// returns that snapshot. It fails when ctx ends or the subscriber is
// closed; the error then lists the last statistics of every track.
func (s *Subscriber) WaitTrack(ctx context.Context, pred func(TrackStats) bool) (TrackStats, error) {
	var found TrackStats
	var last []TrackStats
	err := s.wait(ctx, func() bool {
		last = s.Stats()
		for _, st := range last {
			if pred(st) {
				found = st
				return true
			}
		}
		return false
	})
	if err != nil {
		return TrackStats{}, fmt.Errorf("no matching track: %w; tracks seen: %s", err, formatTrackStats(last))
	}
	return found, nil
}

// SetVideoQuality asks the server to forward the given simulcast layer of
// a subscribed track (an UpdateTrackSettings signal). The effect shows in
// TrackStats.Width and Height once the new layer's keyframe arrived.
func (s *Subscriber) SetVideoQuality(trackSID string, quality livekit.VideoQuality) error {
	s.mu.Lock()
	e, ok := s.tracks[trackSID]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("track %s is not subscribed", trackSID)
	}
	return e.pub.SetVideoQuality(quality)
}

// wait calls check until it returns true, re-checking on every change and
// every waitRecheck.
func (s *Subscriber) wait(ctx context.Context, check func() bool) error {
	ticker := time.NewTicker(waitRecheck)
	defer ticker.Stop()
	for {
		// Take the change channel before checking, so that a change
		// between the check and the select is not missed.
		changed := s.changedChan()
		if check() {
			return nil
		}
		select {
		case <-changed:
		case <-ticker.C:
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-s.done:
			if check() {
				return nil
			}
			return ErrSubscriberClosed
		}
	}
}

// changedChan returns a channel closed at the next change.
func (s *Subscriber) changedChan() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}

// broadcastLocked wakes every waiter. s.mu must be held.
func (s *Subscriber) broadcastLocked() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// addParticipant records rp (or refreshes it after a change).
func (s *Subscriber) addParticipant(rp *lksdk.RemoteParticipant) {
	if rp == nil {
		return
	}
	identity := rp.Identity()
	attrs := rp.Attributes() // the SDK's lock: not under ours
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.participants[identity]; !ok || e.rp != rp || e.left {
		s.participants[identity] = &participantEntry{rp: rp}
		s.recordAttributesLocked(identity, attrs, now)
	}
	s.broadcastLocked()
}

// participantChanged handles metadata and attribute updates.
func (s *Subscriber) participantChanged(p lksdk.Participant) {
	if rp, ok := p.(*lksdk.RemoteParticipant); ok {
		s.addParticipant(rp)
	}
}

// removeParticipant marks rp as gone, keeping its last state.
func (s *Subscriber) removeParticipant(rp *lksdk.RemoteParticipant) {
	last := snapshotParticipant(rp, false)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.participants[last.Identity]; ok && e.rp != rp {
		return // a newer participant with the same identity replaced it
	}
	s.participants[last.Identity] = &participantEntry{rp: rp, left: true, last: last}
	s.broadcastLocked()
}

// onTrackSubscribed starts measuring a newly subscribed track.
func (s *Subscriber) onTrackSubscribed(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	codec := track.Codec()
	rec := newTrackRecorder(TrackStats{
		ParticipantIdentity: rp.Identity(),
		TrackSID:            pub.SID(),
		TrackName:           pub.Name(),
		Kind:                track.Kind(),
		Source:              pub.Source(),
		MimeType:            codec.MimeType,
		ClockRate:           codec.ClockRate,
		SSRC:                uint32(track.SSRC()),
	})
	entry := &trackEntry{rec: rec, pub: pub}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if s.capturing {
		rec.capture = &packetCapture{}
	}
	s.tracks[pub.SID()] = entry
	s.wg.Add(1)
	s.broadcastLocked()
	s.mu.Unlock()

	s.addParticipant(rp)
	// The SDK reads the receiver's RTCP itself and hands it to this
	// callback: the sender reports map RTP time to the sender's clock.
	pub.OnRTCP(func(p rtcp.Packet) { s.onRTCP(entry, p, time.Now()) })
	go s.readTrack(track, entry)
}

// onTrackUnsubscribed marks a track as ended.
func (s *Subscriber) onTrackUnsubscribed(_ *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.tracks[pub.SID()]; ok {
		e.rec.stats.Ended = true
		s.broadcastLocked()
	}
}

// readTrack feeds the track's RTP packets to its recorder until the track
// ends (the peer connection closes or the track is removed).
func (s *Subscriber) readTrack(track *webrtc.TrackRemote, e *trackEntry) {
	defer s.wg.Done()
	for {
		pkt, _, err := track.ReadRTP()
		now := time.Now()
		s.mu.Lock()
		if err != nil {
			e.rec.stats.Ended = true
			s.broadcastLocked()
			s.mu.Unlock()
			return
		}
		if e.rec.handle(pkt, now) {
			s.broadcastLocked()
		}
		s.mu.Unlock()
	}
}

// snapshotParticipant copies rp's current state.
func snapshotParticipant(rp *lksdk.RemoteParticipant, connected bool) Participant {
	p := Participant{
		SID:        rp.SID(),
		Identity:   rp.Identity(),
		Name:       rp.Name(),
		Kind:       livekit.ParticipantInfo_Kind(rp.Kind()),
		Metadata:   rp.Metadata(),
		Attributes: rp.Attributes(),
		Connected:  connected,
	}
	for _, pub := range rp.TrackPublications() {
		if info := pub.TrackInfo(); info != nil {
			p.Tracks = append(p.Tracks, info)
		}
	}
	slices.SortFunc(p.Tracks, func(a, b *livekit.TrackInfo) int { return cmp.Compare(a.GetSid(), b.GetSid()) })
	return p
}

// String formats the participant for test logs.
func (p Participant) String() string {
	var tracks []string
	for _, ti := range p.Tracks {
		tracks = append(tracks, fmt.Sprintf("%s/%s/%s", ti.GetSid(), ti.GetType(), ti.GetMimeType()))
	}
	return fmt.Sprintf("{%s name=%q kind=%s connected=%v metadata=%q attributes=%v tracks=[%s]}",
		p.Identity, p.Name, p.Kind, p.Connected, p.Metadata, p.Attributes, strings.Join(tracks, " "))
}

// String formats the statistics for test logs.
func (s TrackStats) String() string {
	var layers []string
	for _, l := range s.Layers {
		layers = append(layers, fmt.Sprintf("%s:%dx%d@%dbps", l.GetQuality(), l.GetWidth(), l.GetHeight(), l.GetBitrate()))
	}
	return fmt.Sprintf("{%s %s %s %s %dx%d fps=%.2f pictureFPS=%.2f bitrate=%.0fbps window=%v frames=%d pictures=%d keyframes=%d packets=%d bytes=%d lost=%d depackErr=%d padding=%d ended=%v simulcast=%v layers=[%s]}",
		s.ParticipantIdentity, s.TrackSID, s.Kind, s.MimeType, s.Width, s.Height,
		s.FPS, s.PictureFPS, s.Bitrate, s.Window.Round(time.Millisecond), s.Frames, s.Pictures, s.Keyframes,
		s.Packets, s.Bytes, s.LostPackets, s.DepacketizeErrors, s.PaddingPackets, s.Ended, s.Simulcast,
		strings.Join(layers, " "))
}

// formatParticipants joins participant snapshots for an error message.
func formatParticipants(ps []Participant) string {
	if len(ps) == 0 {
		return "none"
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, ", ")
}

// formatTrackStats joins track snapshots for an error message.
func formatTrackStats(ts []TrackStats) string {
	if len(ts) == 0 {
		return "none"
	}
	parts := make([]string, len(ts))
	for i, st := range ts {
		parts[i] = st.String()
	}
	return strings.Join(parts, ", ")
}
