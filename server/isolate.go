package server

import (
	"os"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/internal/isolate"
	"github.com/tributary-ingress/tributary/internal/monitor"
	"github.com/tributary-ingress/tributary/session"
)

// trackable is a session of either mode, as the metrics see it.
type trackable interface {
	Info() *livekit.IngressInfo
	ResourceID() string
	OnEnd(func())
}

// trackSession exports a session's counters in the metrics until it ends.
func trackSession(mon *monitor.Monitor, s trackable) *session.Stats {
	st := &session.Stats{}
	s.OnEnd(mon.Track(s.Info(), s.ResourceID(), st))
	return st
}

// transcoderOpts says how a session's transcoders run.
type transcoderOpts struct {
	// Blocking makes a transcoder's Write wait for room rather than drop
	// (files and other sources that can be read slower).
	Blocking bool
	// IsolateByDefault is isolate_transcoding's default: true in cluster
	// mode, false standalone.
	IsolateByDefault bool
}

// isolatedTranscoders returns the transcoders of one session: in a child
// process of this binary (crash isolation), or in process when
// isolate_transcoding says so (default: opts.IsolateByDefault) or the
// executable cannot be found.
func isolatedTranscoders(conf *config.Config, info session.Reporter, opts transcoderOpts, log logger.Logger) session.Transcoders {
	blocking := opts.Blocking
	reuse := conf.TranscodingReuseTopLayer == nil || *conf.TranscodingReuseTopLayer
	on := opts.IsolateByDefault
	if conf.IsolateTranscoding != nil {
		on = *conf.IsolateTranscoding
	}
	if !on {
		return transcoders{blocking: blocking, reuseTop: reuse}
	}
	bin, err := os.Executable()
	if err != nil {
		log.Warnw("cannot find this executable: transcoding runs in process, without crash isolation", err)
		return transcoders{blocking: blocking, reuseTop: reuse}
	}
	return &isolate.Transcoders{
		Bin: bin,
		Args: []string{"--ingress", info.Info().GetIngressId(), "--resource", info.ResourceID(),
			"--room", info.Info().GetRoomName(), "--participant", info.Info().GetParticipantIdentity()},
		Blocking: blocking,
		ReuseTop: reuse,
		Logger:   info.Logger(),
	}
}
