package ingress

import (
	"errors"
	"fmt"

	"github.com/livekit/protocol/livekit"
)

// ErrInterrupted is the error an ingress shows when its session was cut
// because the server stopped without ending it (kill -9, a crash, power
// loss) and was started again.
var ErrInterrupted = errors.New("session interrupted: the ingress server restarted")

// EndInterrupted ends, in the store, the sessions that a previous run of
// the server left BUFFERING or PUBLISHING: ERROR with ErrInterrupted and
// ended_at now, keeping the resource ID and started_at of the session that
// was cut. Call it once at start-up, before the API and the inputs are
// served.
//
// In standalone mode the store belongs to this process alone (bbolt locks
// the file), so at start-up no session can be running: a record that says
// so is stale. Without this, such a record claims PUBLISHING until the
// next publish on its key (LiveKit's own ingress leaves the same stale
// state in livekit-server's Redis; its users have no way to clear it). A
// reused stream key works either way: a new session has a newer started_at
// and replaces the state.
func (m *Manager) EndInterrupted() (int, error) {
	infos, err := m.conf.Store.List("")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, info := range infos {
		if !isActive(info.State.GetStatus()) {
			continue
		}
		var prev livekit.IngressState_Status
		stored, err := m.conf.Store.Modify(info.IngressId, func(info *livekit.IngressInfo) error {
			prev = info.State.GetStatus()
			if !isActive(prev) {
				return errStale
			}
			now := m.conf.Now().UnixNano()
			info.State.Status = livekit.IngressState_ENDPOINT_ERROR
			info.State.Error = ErrInterrupted.Error()
			info.State.EndedAt = now
			info.State.UpdatedAt = now
			return nil
		})
		if err != nil && !errors.Is(err, errStale) {
			return n, fmt.Errorf("store: ending the interrupted session of %s: %w", info.IngressId, err)
		}
		if err == nil {
			m.statusChanged(stored, prev)
		}
		n++
		m.log.Infow("ended a session interrupted by the restart", "ingressID", info.IngressId,
			"resourceID", info.State.GetResourceId(), "status", info.State.GetStatus().String())
	}
	return n, nil
}

func isActive(s livekit.IngressState_Status) bool {
	return s == livekit.IngressState_ENDPOINT_BUFFERING || s == livekit.IngressState_ENDPOINT_PUBLISHING
}
