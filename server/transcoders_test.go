package server

import (
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/config"
	"github.com/tributary-ingress/tributary/internal/isolate"
	"github.com/tributary-ingress/tributary/pipeline/pipelinetest"
)

// TestTranscodersReuseTopLayer: transcoding_reuse_top_layer reaches the
// transcoders, in process and isolated: on when unset, off when false.
func TestTranscodersReuseTopLayer(t *testing.T) {
	off := false
	rep := pipelinetest.NewReporter(&livekit.IngressInfo{IngressId: "IN_x"})
	for _, c := range []struct {
		name    string
		reuse   *bool
		isolate bool
		want    bool
	}{
		{"default, in process", nil, false, true},
		{"false, in process", &off, false, false},
		{"default, isolated", nil, true, true},
		{"false, isolated", &off, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			conf := &config.Config{TranscodingReuseTopLayer: c.reuse, IsolateTranscoding: &c.isolate}
			n := &Node{Config: conf, Logger: logger.GetLogger(), auth: &standalone{}}
			switch tc := n.transcoders(rep, transcoderOpts{}).(type) {
			case inProcess:
				require.False(t, c.isolate)
				require.Equal(t, c.want, tc.reuseTop)
			case *isolate.ChildTranscoders:
				require.True(t, c.isolate)
				require.Equal(t, c.want, tc.ReuseTop)
			default:
				t.Fatalf("unexpected transcoders %T", tc)
			}
		})
	}
}
