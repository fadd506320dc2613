package ingress

import (
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// applyState merges a state reported by a session into the stored record,
// following LiveKit's rules, and reports whether anything was written:
//
//   - an update whose started_at is older than the stored one comes from a
//     session that has been replaced, and is ignored;
//   - within one session the first error sticks: once ERROR, later statuses
//     and error texts do not overwrite it.
func applyState(info *livekit.IngressInfo, upd *livekit.IngressState) bool {
	cur := info.State
	if cur == nil {
		info.State = proto.Clone(upd).(*livekit.IngressState)
		return true
	}
	if upd.StartedAt < cur.StartedAt {
		return false
	}
	next := proto.Clone(upd).(*livekit.IngressState)
	if upd.StartedAt == cur.StartedAt && cur.Status == livekit.IngressState_ENDPOINT_ERROR {
		next.Status = livekit.IngressState_ENDPOINT_ERROR
		next.Error = cur.Error
	}
	info.State = next
	return true
}
