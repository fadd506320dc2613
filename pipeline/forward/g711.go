package forward

import (
	"strings"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/pipeline"
	"github.com/tributary-ingress/tributary/simulcast"
)

// g711Clock is the RTP clock of G.711, one byte per sample (RFC 3551).
const g711Clock = 8000

// maxReorder is how far back, in G.711 samples (1 s), a packet's timestamp
// may be and still be taken for a late packet, which is dropped: the
// transcoder takes samples in order. A timestamp further back is a source
// that restarted its timeline, which the transcoder re-anchors on.
const maxReorder = g711Clock

// g711Track is the media track of G.711 audio negotiated as c, nil for
// any other codec.
func g711Track(c *webrtc.RTPCodecCapability) *media.Track {
	if c == nil {
		return nil
	}
	var codec media.CodecID
	switch {
	case strings.EqualFold(c.MimeType, webrtc.MimeTypePCMA):
		codec = media.CodecPCMA
	case strings.EqualFold(c.MimeType, webrtc.MimeTypePCMU):
		codec = media.CodecPCMU
	default:
		return nil
	}
	return &media.Track{Kind: media.KindAudio, Codec: codec, ClockRate: g711Clock, SampleRate: g711Clock,
		Channels: max(int(c.Channels), 1)}
}

// g711Audio transcodes the G.711 audio of a WebRTC source (a SIP gateway,
// a camera) into the Opus track a room carries, while the video is
// forwarded: the one stream of a forwarding session that is decoded. G.711
// packets are taken on the reader's goroutine and transcoded at once
// (decoding G.711 is a table lookup; the Opus encoder costs about 1 % of
// a core), so an Opus packet leaves as soon as the G.711 that completes it
// has arrived, with no queue or pacing.
//
// Lip sync: the room's sender reports map each track's RTP time to the
// time its packets are sent, whatever the RTP times are, and a forwarded
// packet is sent as it arrives, so a viewer sees the video and audio in
// the relation they arrived in. An Opus packet leaves when the G.711
// holding the end of its 20 ms and the encoder's look-ahead (6.5 ms) has
// arrived, 26.5 ms of audio after its first sample — the delay of a
// client's own Opus encoder — so its audio is sent 6.5 to 26.5 ms after
// the G.711 carrying it arrived, and is played that much later against
// the video: within the 40 ms of lip sync. The delay is fixed (the Opus
// packets stay 20 ms apart on the source's timeline, which the transcoder
// keeps), so it does not jitter.
type g711Audio struct {
	f   *Forwarder
	src *media.Track

	mu sync.Mutex
	// Set while published.
	tc   pipeline.AudioTranscoder
	sink pipeline.AudioSink
	// The source's timeline: its last packet's RTP timestamp, and that
	// timestamp unwrapped.
	started bool
	lastTS  uint32
	pts     int64
}

// publish publishes the Opus track in rm and starts the transcoder.
func (g *g711Audio) publish(rm pipeline.RoomConn, plan simulcast.AudioPlan) (pipeline.AudioSink, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	sink, tc, err := g.f.s.PublishOpus(rm, plan, g.src, g.output)
	if err != nil {
		return sink, err
	}
	g.sink, g.tc = sink, tc
	return sink, nil
}

// unpublish stops the transcoder: what it still holds is dropped, the
// track is going.
func (g *g711Audio) unpublish() {
	g.mu.Lock()
	defer g.mu.Unlock()
	tc := g.tc
	g.tc, g.sink = nil, nil
	if tc != nil {
		if err := tc.Close(); err != nil {
			g.f.log.Debugw("G.711 transcoder close", "error", err.Error())
		}
	}
}

// write transcodes one G.711 packet; it is called from the audio reader.
func (g *g711Audio) write(p *rtp.Packet) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := len(p.Payload)
	if g.started {
		d := int64(int32(p.Timestamp - g.lastTS))
		if d <= 0 && d > -maxReorder {
			return // late or repeated
		}
		g.pts += d
	}
	g.started, g.lastTS = true, p.Timestamp
	if g.tc == nil {
		return
	}
	g.f.s.Stats().AddInput(media.KindAudio, n)
	g.f.audio.bytes.Add(int64(n))
	f := &media.Frame{Track: g.src, PTS: g.pts, DTS: g.pts, Key: true, Wall: g.f.s.Clock().Now(), Data: [][]byte{p.Payload}}
	if err := g.tc.Write(f); err != nil {
		g.f.log.Infow("G.711 audio not transcoded", "error", err.Error())
	}
}

// output writes an Opus packet of the transcoder (called from write,
// under the lock).
func (g *g711Audio) output(f *media.Frame) {
	if g.sink == nil {
		return // the transcoder's flush as the track goes
	}
	if err := g.sink.WriteFrame(f); err != nil {
		g.f.log.Debugw("G.711 audio as Opus", "error", err.Error())
		return
	}
	stats := g.f.s.Stats()
	stats.AddOutput(-1, len(f.Data[0]))
	g.f.s.Published()
}
