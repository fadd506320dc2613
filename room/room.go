// Package room joins a LiveKit room as the ingress participant and
// publishes media into it: one video track (simulcast layers or a single
// layer) and one Opus audio track, with RTP timestamps derived from the
// frames' PTS so audio and video stay in sync from one clock origin.
package room

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// Config says where and as whom to join.
type Config struct {
	// URL of the LiveKit server (ws:// or wss://).
	URL       string
	APIKey    string
	APISecret string

	RoomName            string
	ParticipantIdentity string
	ParticipantName     string
	ParticipantMetadata string
	IngressID           string
	ResourceID          string

	Logger logger.Logger
}

// Room is the joined room. Close leaves it.
type Room struct {
	conf Config
	log  logger.Logger
	room *lksdk.Room

	mu           sync.Mutex
	disconnected chan struct{}
	closed       bool
}

// ErrDisconnected is the cause when the LiveKit server ends the connection
// and the SDK's own reconnection has given up.
var ErrDisconnected = errors.New("disconnected from the LiveKit server")

// tokenValidity bounds the join token; the SDK refreshes it while connected.
const tokenValidity = 24 * time.Hour

// Token returns the join token of the ingress participant: kind INGRESS,
// publish only, with the ingress and resource IDs as attributes.
func Token(c Config) (string, error) {
	f, t := false, true
	return auth.NewAccessToken(c.APIKey, c.APISecret).
		SetVideoGrant(&auth.VideoGrant{
			RoomJoin:             true,
			Room:                 c.RoomName,
			CanSubscribe:         &f,
			CanPublish:           &t,
			CanPublishData:       &f,
			CanUpdateOwnMetadata: &t,
		}).
		SetIdentity(c.ParticipantIdentity).
		SetName(c.ParticipantName).
		SetMetadata(c.ParticipantMetadata).
		SetKind(livekit.ParticipantInfo_INGRESS).
		SetAttributes(map[string]string{
			livekit.AttrIngressID:         c.IngressID,
			livekit.AttrIngressResourceID: c.ResourceID,
		}).
		SetValidFor(tokenValidity).
		ToJWT()
}

// Join connects to the room. It fails with the server's reason if the
// room cannot be joined (bad credentials, unreachable server).
func Join(ctx context.Context, c Config) (*Room, error) {
	if c.Logger == nil {
		c.Logger = logger.GetLogger()
	}
	token, err := Token(c)
	if err != nil {
		return nil, fmt.Errorf("room token: %w", err)
	}
	r := &Room{conf: c, log: c.Logger, disconnected: make(chan struct{})}
	cb := lksdk.NewRoomCallback()
	cb.OnDisconnectedWithReason = func(reason lksdk.DisconnectionReason) {
		r.log.Infow("left the room", "reason", reason)
		r.markDisconnected()
	}
	cb.OnReconnecting = func() { r.log.Infow("connection to LiveKit lost, reconnecting") }
	cb.OnReconnected = func() { r.log.Infow("reconnected to LiveKit") }

	type result struct {
		room *lksdk.Room
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// The SDK's own lines ("published track", reconnections) carry
		// the session's fields, in the process's log format.
		room := lksdk.NewRoom(cb)
		room.SetLogger(c.Logger)
		if err := room.JoinWithToken(c.URL, token, lksdk.WithAutoSubscribe(false)); err != nil {
			done <- result{nil, err}
			return
		}
		done <- result{room, nil}
	}()
	select {
	case res := <-done:
		if res.err != nil {
			return nil, fmt.Errorf("join room %q on %s: %w", c.RoomName, c.URL, res.err)
		}
		r.room = res.room
	case <-ctx.Done():
		// The connect attempt finishes on its own; leave if it succeeded.
		go func() {
			if res := <-done; res.room != nil {
				res.room.Disconnect()
			}
		}()
		return nil, fmt.Errorf("join room %q: %w", c.RoomName, context.Cause(ctx))
	}
	r.log.Infow("joined the room", "room", c.RoomName, "roomID", r.room.SID(), "identity", c.ParticipantIdentity)
	return r, nil
}

func (r *Room) markDisconnected() {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.disconnected:
	default:
		close(r.disconnected)
	}
}

// Disconnected is closed when the connection is gone for good (the SDK's
// own resumption has given up, or the server ended it).
func (r *Room) Disconnected() <-chan struct{} { return r.disconnected }

// DisconnectReason tells why the connection ended, and whether joining
// again makes sense: not when the participant was removed, the room
// deleted, or another participant took the identity.
func (r *Room) DisconnectReason() (reason livekit.DisconnectReason, retry bool) {
	reason = r.room.DisconnectReason()
	switch reason {
	case livekit.DisconnectReason_PARTICIPANT_REMOVED, livekit.DisconnectReason_ROOM_DELETED,
		livekit.DisconnectReason_DUPLICATE_IDENTITY, livekit.DisconnectReason_CLIENT_INITIATED,
		livekit.DisconnectReason_ROOM_CLOSED, livekit.DisconnectReason_USER_REJECTED:
		return reason, false
	}
	return reason, true
}

// SID returns the room's ID.
func (r *Room) SID() string { return r.room.SID() }

// SetAttributes updates participant attributes (e.g. ad markers).
func (r *Room) SetAttributes(attrs map[string]string) {
	r.room.LocalParticipant.SetAttributes(attrs)
}

// Close unpublishes everything and leaves the room. It is idempotent.
func (r *Room) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.mu.Unlock()
	r.room.Disconnect()
	r.markDisconnected()
}
