package server

import (
	"os"

	"github.com/tributary-ingress/tributary/internal/isolate"
	"github.com/tributary-ingress/tributary/pipeline"
	"github.com/tributary-ingress/tributary/transcode"
)

// transcoderOpts says how a session's transcoders run.
type transcoderOpts struct {
	// Blocking makes a transcoder's Write wait for room rather than drop
	// (files and other sources that can be read slower).
	Blocking bool
}

// transcoders returns the transcoders of one session: in a child process
// of this binary (crash isolation), or in process when
// isolate_transcoding says so (default: the authority's) or the
// executable cannot be found.
func (n *Node) transcoders(info pipeline.Reporter, opts transcoderOpts) pipeline.Transcoders {
	blocking := opts.Blocking
	reuse := n.Config.TranscodingReuseTopLayer == nil || *n.Config.TranscodingReuseTopLayer
	on := n.auth.isolateByDefault()
	if n.Config.IsolateTranscoding != nil {
		on = *n.Config.IsolateTranscoding
	}
	if !on {
		return inProcess{blocking: blocking, reuseTop: reuse}
	}
	bin, err := os.Executable()
	if err != nil {
		n.Logger.Warnw("cannot find this executable: transcoding runs in process, without crash isolation", err)
		return inProcess{blocking: blocking, reuseTop: reuse}
	}
	return &isolate.ChildTranscoders{
		Bin: bin,
		Args: []string{"--ingress", info.Info().GetIngressId(), "--resource", info.ResourceID(),
			"--room", info.Info().GetRoomName(), "--participant", info.Info().GetParticipantIdentity()},
		Blocking: blocking,
		ReuseTop: reuse,
		Logger:   info.Logger(),
	}
}

// inProcess adapts the transcode package to what sessions ask for, in
// this process.
type inProcess struct {
	blocking bool
	reuseTop bool // see config.Config.TranscodingReuseTopLayer
}

func (t inProcess) NewVideo(c pipeline.VideoTranscodeConfig) (pipeline.VideoTranscoder, error) {
	layers := make([]transcode.LayerTarget, len(c.Layers))
	for i, l := range c.Layers {
		layers[i] = transcode.LayerTarget{Width: int(l.Width), Height: int(l.Height), Bitrate: int(l.Bitrate)}
	}
	return transcode.NewVideo(transcode.VideoConfig{
		Source: c.Source, Codec: c.Codec, MaxFrameRate: c.FrameRate, Layers: layers,
		Output: c.Output, OnDrop: c.OnDrop, OnStale: c.OnStale, Logger: c.Logger, Blocking: t.blocking,
		ReuseTop: t.reuseTop,
	})
}

func (t inProcess) NewAudio(c pipeline.AudioTranscodeConfig) (pipeline.AudioTranscoder, error) {
	return transcode.NewAudio(transcode.AudioConfig{
		Source: c.Source, Channels: c.Channels, Bitrate: c.Bitrate, DTX: c.DTX,
		Output: c.Output, Logger: c.Logger,
	})
}

// Unavailable is transcode.ErrUnavailable in the passthrough build.
func (t inProcess) Unavailable() error { return transcode.Unavailable() }
