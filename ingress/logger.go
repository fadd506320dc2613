package ingress

import (
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
)

// SessionLogger is the logger of one session: every line of the session,
// of the pipeline behind it, of the LiveKit SDK's room connection and of
// pion's WebRTC stack for it carries the ingress, the resource, the room
// and the participant identity, as the official worker's session lines
// do (the process logger adds the node ID).
func SessionLogger(log logger.Logger, info *livekit.IngressInfo, resourceID string) logger.Logger {
	return log.WithValues("ingressID", info.GetIngressId(), "resourceID", resourceID,
		"room", info.GetRoomName(), "participant", info.GetParticipantIdentity())
}
