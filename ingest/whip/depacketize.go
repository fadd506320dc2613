package whip

import (
	"strings"

	"github.com/livekit/protocol/logger"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/tributary-ingress/tributary/ingest/rtpdepack"
	"github.com/tributary-ingress/tributary/media"
)

// FramePublisher receives the depacketized frames of a WHIP session (a
// frame-based session that transcodes implements it).
type FramePublisher interface {
	Track(t *media.Track) error
	Frame(f *media.Frame) error
	Close(err error)
	Done() <-chan struct{}
}

// Depacketizer is a Publisher that turns the RTP packets into frames for
// a FramePublisher (ingest/rtpdepack: H.264 access units, VP8, VP9 and AV1
// frames, Opus packets, G.711 samples). Only the first (highest)
// simulcast layer is used. Timestamps are unwrapped and put on one
// timeline from the arrival of each track's first packet. A lost packet
// drops the frame and asks the client for a keyframe.
type Depacketizer struct {
	// ID is the resource ID.
	ID        string
	Publisher FramePublisher
	Logger    logger.Logger

	video, audio *rtpdepack.TrackDepacketizer
}

// SessionLogger makes the WHIP lines of the session carry its fields.
func (d *Depacketizer) SessionLogger() logger.Logger { return d.Logger }

// ResourceID implements Publisher.
func (d *Depacketizer) ResourceID() string { return d.ID }

// Done implements Publisher.
func (d *Depacketizer) Done() <-chan struct{} { return d.Publisher.Done() }

// Close implements Publisher.
func (d *Depacketizer) Close(err error) { d.Publisher.Close(err) }

// Start implements Publisher: it prepares a depacketizer per stream, on
// one clock. Its errors wrap rtpdepack.ErrUnsupported for a codec no
// frame is made of.
func (d *Depacketizer) Start(n Negotiated) error {
	if d.Logger == nil {
		d.Logger = logger.GetLogger()
	}
	clock := rtpdepack.NewClock()
	var err error
	if n.Video != nil {
		request := func() {}
		if n.RequestKeyframe != nil {
			request = func() { n.RequestKeyframe(0) }
		}
		if d.video, err = newTrack("video", n.Video, 1, clock, request); err != nil {
			return err
		}
	}
	if n.Audio != nil {
		if d.audio, err = newTrack("audio", n.Audio, 2, clock, nil); err != nil {
			return err
		}
	}
	return nil
}

// newTrack returns the depacketizer of a negotiated codec.
func newTrack(kind string, c *webrtc.RTPCodecParameters, id int, clock *rtpdepack.Timeline, request func()) (*rtpdepack.TrackDepacketizer, error) {
	_, encoding, _ := strings.Cut(c.MimeType, "/")
	f, err := rtpdepack.ParseFormat(kind, uint8(c.PayloadType), encoding, int(c.ClockRate), int(c.Channels), c.SDPFmtpLine)
	if err != nil {
		return nil, err
	}
	return rtpdepack.New(rtpdepack.Config{Format: f, ID: id, Clock: clock, RequestKeyframe: request})
}

// TranscodesAudio implements AudioTranscodingPublisher: the frames go to a session
// that transcodes, which takes G.711 as well as Opus.
func (d *Depacketizer) TranscodesAudio() bool { return true }

// WriteVideoRTP implements Publisher.
func (d *Depacketizer) WriteVideoRTP(layer int, p *rtp.Packet) {
	if layer == 0 && d.video != nil {
		d.write(d.video, p)
	}
}

// WriteAudioRTP implements Publisher.
func (d *Depacketizer) WriteAudioRTP(p *rtp.Packet) {
	if d.audio != nil {
		d.write(d.audio, p)
	}
}

// write depacketizes a packet; the session reports its own errors (it
// ends), so they are only logged here.
func (d *Depacketizer) write(t *rtpdepack.TrackDepacketizer, p *rtp.Packet) {
	if err := t.Write(p, d.Publisher); err != nil {
		d.Logger.Debugw("WHIP frame", "error", err.Error())
	}
}
