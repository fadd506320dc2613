package server

import (
	"os"

	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/internal/isolate"
	"github.com/tributary-ingress/tributary/session"
)

// isolatedTranscoders returns the transcoders of one session: in a child
// process of this binary (crash isolation), or in process when
// isolate_transcoding is false or the executable cannot be found.
func isolatedTranscoders(conf *config.Config, info session.Reporter, blocking bool, log logger.Logger) session.Transcoders {
	if conf.IsolateTranscoding != nil && !*conf.IsolateTranscoding {
		return transcoders{blocking: blocking}
	}
	bin, err := os.Executable()
	if err != nil {
		log.Warnw("cannot find this executable: transcoding runs in process, without crash isolation", err)
		return transcoders{blocking: blocking}
	}
	return &isolate.Transcoders{
		Bin:      bin,
		Args:     []string{"--ingress", info.Info().GetIngressId(), "--resource", info.ResourceID()},
		Blocking: blocking,
		Logger:   info.Logger(),
	}
}
