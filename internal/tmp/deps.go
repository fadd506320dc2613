package tmp

import (
	_ "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	_ "github.com/livekit/protocol/auth"
	_ "github.com/livekit/protocol/ingress"
	_ "github.com/livekit/protocol/livekit"
	_ "github.com/livekit/server-sdk-go/v2"
	_ "github.com/pion/webrtc/v4"
	_ "github.com/twitchtv/twirp"
	_ "go.etcd.io/bbolt"
	_ "gopkg.in/yaml.v3"
	_ "github.com/stretchr/testify/require"
)
