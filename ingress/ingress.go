package ingress

import (
	"errors"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// ErrURLInputUnavailable is returned for URL ingresses while no URL input
// is installed in this build.
var ErrURLInputUnavailable = errors.New("URL input is not available in this build of Tributary")

// ErrInputDisabled is returned when the input type's endpoint is disabled
// in the configuration (rtmp_port or whip_port -1).
var ErrInputDisabled = errors.New("this input type is disabled in the server configuration")

// Create validates a request and stores a new ingress. A URL ingress starts
// its session at once.
func (m *Manager) Create(req *livekit.CreateIngressRequest) (*livekit.IngressInfo, error) {
	info := &livekit.IngressInfo{
		IngressId:           NewIngressID(),
		Name:                req.Name,
		InputType:           req.InputType,
		Audio:               req.Audio,
		Video:               req.Video,
		EnableTranscoding:   req.EnableTranscoding,
		BypassTranscoding:   req.BypassTranscoding, //nolint:staticcheck // deprecated field, still honoured
		RoomName:            req.RoomName,
		ParticipantIdentity: req.ParticipantIdentity,
		ParticipantName:     req.ParticipantName,
		ParticipantMetadata: req.ParticipantMetadata,
		Enabled:             req.Enabled,
		State:               &livekit.IngressState{},
	}
	switch req.InputType {
	case livekit.IngressInput_RTMP_INPUT:
		info.Url = m.conf.RTMPBaseURL
		info.StreamKey = NewStreamKey()
		info.Reusable = true
	case livekit.IngressInput_WHIP_INPUT:
		info.Url = m.conf.WHIPBaseURL
		info.StreamKey = NewStreamKey()
		info.Reusable = true
	case livekit.IngressInput_URL_INPUT:
		info.Url = req.Url
	}
	if err := validateInfo(info, validation{AllowUDP: m.conf.EnableUDPURLPull}); err != nil {
		return nil, err
	}
	if info.InputType != livekit.IngressInput_URL_INPUT && info.Url == "" {
		return nil, ErrInputDisabled
	}
	if info.InputType == livekit.IngressInput_URL_INPUT && m.launchURL == nil {
		return nil, ErrURLInputUnavailable
	}
	settleTranscoding(info)
	if err := m.conf.Store.Create(info); err != nil {
		return nil, err
	}
	m.log.Infow("ingress created", "ingressID", info.IngressId, "inputType", inputName(info.InputType), "room", info.RoomName)

	if info.InputType == livekit.IngressInput_URL_INPUT {
		s, err := m.start(info)
		if errors.As(err, new(notAdmitted)) {
			// The ingress exists; its state says why it does not run.
			_ = m.refused(info, info.InputType, err)
			return m.conf.Store.Get(info.IngressId)
		}
		if err != nil {
			return nil, err
		}
		m.launchURL(s)
		return m.conf.Store.Get(info.IngressId)
	}
	return info, nil
}

// Update changes an ingress as LiveKit does: URL ingresses refuse; one in
// ERROR goes back to INACTIVE and takes the update; an active one stores
// the update and its running session is ended, so the encoder's reconnect
// picks up the new settings.
func (m *Manager) Update(req *livekit.UpdateIngressRequest) (*livekit.IngressInfo, error) {
	var wasActive bool
	info, err := m.conf.Store.Modify(req.IngressId, func(info *livekit.IngressInfo) error {
		if !info.Reusable {
			return ErrNotReusable
		}
		next := proto.Clone(info).(*livekit.IngressInfo)
		applyUpdate(req, next)
		if err := validateInfo(next, validation{AllowUDP: m.conf.EnableUDPURLPull}); err != nil {
			return err
		}
		settleTranscoding(next)
		switch next.State.GetStatus() {
		case livekit.IngressState_ENDPOINT_ERROR:
			next.State.Status = livekit.IngressState_ENDPOINT_INACTIVE
			next.State.Error = ""
		case livekit.IngressState_ENDPOINT_BUFFERING, livekit.IngressState_ENDPOINT_PUBLISHING:
			wasActive = true
		}
		proto.Reset(info)
		proto.Merge(info, next)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if wasActive || m.ActiveSession(req.IngressId) != nil {
		m.stopActive(req.IngressId, ErrUpdated)
	}
	m.log.Infow("ingress updated", "ingressID", info.IngressId)
	return info, nil
}

func applyUpdate(req *livekit.UpdateIngressRequest, info *livekit.IngressInfo) {
	if req.Name != "" {
		info.Name = req.Name
	}
	if req.RoomName != "" {
		info.RoomName = req.RoomName
	}
	if req.ParticipantIdentity != "" {
		info.ParticipantIdentity = req.ParticipantIdentity
	}
	if req.ParticipantName != "" {
		info.ParticipantName = req.ParticipantName
	}
	if req.ParticipantMetadata != "" {
		info.ParticipantMetadata = req.ParticipantMetadata
	}
	if req.EnableTranscoding != nil {
		info.EnableTranscoding = req.EnableTranscoding
		info.BypassTranscoding = false
	} else if req.BypassTranscoding != nil { //nolint:staticcheck // deprecated field, still honoured
		on := !*req.BypassTranscoding //nolint:staticcheck
		info.EnableTranscoding = &on
	}
	if req.Audio != nil {
		info.Audio = req.Audio
	}
	if req.Video != nil {
		info.Video = req.Video
	}
	if req.Enabled != nil {
		info.Enabled = req.Enabled
	}
}

// List returns all ingresses, those of a room, or the one with an ID.
func (m *Manager) List(req *livekit.ListIngressRequest) ([]*livekit.IngressInfo, error) {
	if req.IngressId != "" {
		info, err := m.conf.Store.Get(req.IngressId)
		if err != nil {
			return nil, err
		}
		if req.RoomName != "" && info.RoomName != req.RoomName {
			return []*livekit.IngressInfo{}, nil
		}
		return []*livekit.IngressInfo{info}, nil
	}
	return m.conf.Store.List(req.RoomName)
}

// Delete ends the ingress's running session, if any, and removes it.
func (m *Manager) Delete(ingressID string) (*livekit.IngressInfo, error) {
	info, err := m.conf.Store.Get(ingressID)
	if err != nil {
		return nil, err
	}
	m.stopActive(ingressID, ErrDeleted)
	if err := m.conf.Store.Delete(ingressID); err != nil {
		return nil, err
	}
	info.State.Status = livekit.IngressState_ENDPOINT_INACTIVE
	m.log.Infow("ingress deleted", "ingressID", ingressID)
	return info, nil
}
