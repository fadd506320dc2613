package rtpdepack

import (
	"fmt"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"github.com/tributary-ingress/tributary/codec/aac"
	"github.com/tributary-ingress/tributary/codec/pcm"
	"github.com/tributary-ingress/tributary/media"
)

// audioState describes an audio track.
type audioState struct {
	// cur is the track (nil for LATM before its in-band configuration);
	// announced is true once it was given to the sink.
	cur       *media.Track
	announced bool
	// samples is the duration of an AAC frame in the RTP clock: the
	// frames of one packet follow each other.
	samples int64
}

// Bounds of uncompressed audio (G.711, LPCM) announced by an SDP.
const (
	maxPCMRate     = 192000
	maxPCMChannels = pcm.MaxChannels
)

func checkPCMParams(rate, channels int) error {
	if rate <= 0 || rate > maxPCMRate || channels <= 0 || channels > maxPCMChannels {
		return fmt.Errorf("uncompressed audio of %d Hz, %d channels (at most %d Hz, %d channels)",
			rate, channels, maxPCMRate, maxPCMChannels)
	}
	return nil
}

func (t *TrackDepacketizer) initAudio() error {
	a := &audioState{}
	t.kind, t.audio = media.KindAudio, a
	switch f := t.conf.Format.(type) {
	case *format.MPEG4Audio:
		if f.Config == nil {
			return fmt.Errorf("%w: MPEG-4 audio without config", ErrUnsupported)
		}
		asc, err := f.Config.Marshal()
		if err != nil {
			return fmt.Errorf("MPEG-4 audio config: %w", err)
		}
		t.codec = media.CodecAAC
		t.newDec = func() (decoder, error) { return f.CreateDecoder() }
		a.samples = mpeg4audio.SamplesPerAccessUnit
		if f.Config.FrameLengthFlag {
			a.samples = 960
		}
		a.cur = &media.Track{Kind: media.KindAudio, Codec: media.CodecAAC, ClockRate: f.ClockRate(),
			Config: asc, SampleRate: f.Config.SampleRate, Channels: f.Config.ChannelCount}
	case *format.MPEG4AudioLATM:
		l := &aac.LATM{InBand: f.CPresent}
		if !f.CPresent {
			if err := l.SetStreamMuxConfig(f.StreamMuxConfig); err != nil {
				return fmt.Errorf("LATM config: %w", err)
			}
		}
		t.codec = media.CodecAAC
		ld := &latmDecoder{latm: l, clockRate: f.ClockRate(), a: a}
		t.newDec = func() (decoder, error) {
			d, err := f.CreateDecoder()
			ld.d = d
			return ld, err
		}
		if !f.CPresent {
			ld.configure()
		}
	case *format.G711:
		if err := checkPCMParams(f.SampleRate, f.ChannelCount); err != nil {
			return err
		}
		t.codec = media.CodecPCMA
		if f.MULaw {
			t.codec = media.CodecPCMU
		}
		t.newDec = func() (decoder, error) {
			d, err := f.CreateDecoder()
			return oneFrame{d: d}, err
		}
		a.cur = &media.Track{Kind: media.KindAudio, Codec: t.codec, ClockRate: f.SampleRate,
			SampleRate: f.SampleRate, Channels: f.ChannelCount}
	case *format.LPCM:
		if err := checkPCMParams(f.SampleRate, f.ChannelCount); err != nil {
			return err
		}
		// RTP carries L8 unsigned, L16 and L24 big-endian (RFC 3551
		// section 4.5.10, RFC 3190); frames are 16-bit little-endian.
		pf := pcm.Layout{Bits: f.BitDepth, BigEndian: true, Unsigned: f.BitDepth == 8}
		if err := pf.Valid(); err != nil {
			return err
		}
		t.codec = media.CodecPCM
		t.newDec = func() (decoder, error) {
			d, err := f.CreateDecoder()
			return oneFrame{d: d, convert: &pf}, err
		}
		a.cur = &media.Track{Kind: media.KindAudio, Codec: media.CodecPCM, ClockRate: f.SampleRate,
			SampleRate: f.SampleRate, Channels: f.ChannelCount}
	case *format.Opus:
		t.codec = media.CodecOpus
		t.newDec = func() (decoder, error) {
			d, err := f.CreateDecoder()
			return oneFrame{d: d}, err
		}
		channels := f.ChannelCount
		if channels == 0 {
			channels = 2
		}
		a.cur = &media.Track{Kind: media.KindAudio, Codec: media.CodecOpus, ClockRate: 48000,
			SampleRate: 48000, Channels: channels}
	default:
		return fmt.Errorf("%w: %s", ErrUnsupported, t.conf.Format.Codec())
	}
	return nil
}

// audioUnits hands over the audio frames of one packet; the first one
// announces the track.
func (t *TrackDepacketizer) audioUnits(frames [][]byte, pts int64, sink Sink) error {
	a := t.audio
	if a.cur == nil || len(frames) == 0 {
		return nil // LATM before its in-band configuration
	}
	if !a.announced {
		a.announced = true
		a.cur.ID = t.conf.ID
		if err := sink.Track(a.cur); err != nil {
			return err
		}
	}
	for i, fr := range frames {
		p := pts + int64(i)*a.samples
		if err := sink.Frame(&media.Frame{Track: a.cur, PTS: p, DTS: p, Key: true, Data: [][]byte{fr}}); err != nil {
			return err
		}
	}
	return nil
}

// oneFrame adapts the decoders that make one frame of a packet or of its
// fragments: VP8, VP9, Opus, G.711 and LPCM (converted to 16-bit
// little-endian when convert is set).
type oneFrame struct {
	d interface {
		Decode(pkt *rtp.Packet) ([]byte, error)
	}
	convert *pcm.Layout
}

func (o oneFrame) Decode(pkt *rtp.Packet) ([][]byte, error) {
	fr, err := o.d.Decode(pkt)
	if err != nil || len(fr) == 0 {
		return nil, err
	}
	if o.convert != nil {
		fr = pcm.Convert(nil, fr, *o.convert)
	}
	return [][]byte{fr}, nil
}

// latmDecoder takes the AAC frames out of the AudioMuxElements of RTP
// MP4A-LATM (RFC 6416): one element per packet, or fragmented over
// several (rtpfragmented reassembles it). The track is (re)described when
// the configuration is first known or changes in band.
type latmDecoder struct {
	d interface {
		Decode(pkt *rtp.Packet) ([]byte, error)
	}
	latm      *aac.LATM
	clockRate int
	a         *audioState
}

// configure sets the track from the LATM configuration: a new track, to
// be announced with the next frame.
func (l *latmDecoder) configure() {
	asc, conf := l.latm.Config()
	l.a.cur = &media.Track{Kind: media.KindAudio, Codec: media.CodecAAC, ClockRate: l.clockRate,
		Config: asc, SampleRate: conf.SampleRate, Channels: conf.Channels}
	l.a.samples = media.Rescale(int64(l.latm.SamplesPerFrame()), conf.SampleRate, l.clockRate)
	l.a.announced = false
}

func (l *latmDecoder) Decode(pkt *rtp.Packet) ([][]byte, error) {
	ame, err := l.d.Decode(pkt)
	if err != nil {
		return nil, err
	}
	frames, changed, err := l.latm.Decode(ame)
	if err != nil {
		return nil, err
	}
	if changed {
		l.configure()
	}
	return frames, nil
}
