package rtsp

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	mch264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	mch265 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"github.com/tributary-ingress/tributary/codec/aac"
	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/h265"
	"github.com/tributary-ingress/tributary/codec/pcm"
	"github.com/tributary-ingress/tributary/media"
)

// Clock rates of the media frames: video in 90 kHz (the RTP clock of
// H.264 and H.265, RFC 6184 section 5.1), audio in its sample rate.
const videoClockRate = 90000

// auDecoder turns RTP packets into access units (a list of NAL units for
// video, of AAC frames for audio).
type auDecoder interface {
	Decode(pkt *rtp.Packet) ([][]byte, error)
}

// dtsExtractor computes the decoding time of a video access unit
// (mediacommon's, for H.264 and H.265).
type dtsExtractor interface {
	Extract(au [][]byte, pts int64) (int64, error)
}

// track turns the RTP packets of one format into frames. Its methods run
// on the reader goroutine of its media only.
type track struct {
	id    int
	kind  media.Kind
	codec media.CodecID
	medi  *description.Media
	forma format.Format
	dec   auDecoder

	// video
	vps, sps, pps []byte // parameter sets of the current track
	newDTS        func() dtsExtractor
	dts           dtsExtractor // nil until a random-access unit
	// An access unit is returned when the packet after it (new RTP
	// timestamp) arrives if the sender omitted the marker bit: bufPTS is
	// the time of the unit being assembled.
	buffering bool
	bufTS     uint32
	bufPTS    int64

	// audio
	samples int64 // per AAC access unit, in the RTP clock

	cur       *media.Track // the track (video: nil before the parameter sets)
	ann       [3][]byte    // video: SPS, PPS, VPS of cur
	announced bool         // audio: cur was given to the sink
}

// newTrack returns the track for a format, nil for an unsupported one.
func newTrack(f format.Format) (*track, error) {
	t := &track{forma: f}
	switch f := f.(type) {
	case *format.H264:
		d, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		t.kind, t.codec, t.dec = media.KindVideo, media.CodecH264, d
		t.sps, t.pps = f.SPS, f.PPS
		t.newDTS = func() dtsExtractor { e := &mch264.DTSExtractor{}; e.Initialize(); return e }
	case *format.H265:
		d, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		t.kind, t.codec, t.dec = media.KindVideo, media.CodecH265, d
		t.vps, t.sps, t.pps = f.VPS, f.SPS, f.PPS
		t.newDTS = func() dtsExtractor { e := &mch265.DTSExtractor{}; e.Initialize(); return e }
	case *format.MPEG4Audio:
		if f.Config == nil {
			return nil, errors.New("MPEG-4 audio without config")
		}
		d, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		asc, err := f.Config.Marshal()
		if err != nil {
			return nil, err
		}
		t.kind, t.codec, t.dec = media.KindAudio, media.CodecAAC, d
		t.samples = mpeg4audio.SamplesPerAccessUnit
		if f.Config.FrameLengthFlag {
			t.samples = 960
		}
		t.cur = &media.Track{Kind: media.KindAudio, Codec: media.CodecAAC, ClockRate: f.ClockRate(),
			Config: asc, SampleRate: f.Config.SampleRate, Channels: f.Config.ChannelCount}
	case *format.MPEG4AudioLATM:
		l := &aac.LATM{InBand: f.CPresent}
		if !f.CPresent {
			if err := l.SetStreamMuxConfig(f.StreamMuxConfig); err != nil {
				return nil, err
			}
		}
		d, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		t.kind, t.codec = media.KindAudio, media.CodecAAC
		t.dec = &latmDecoder{d: d, latm: l, clockRate: f.ClockRate(), t: t}
		if !f.CPresent {
			t.dec.(*latmDecoder).configure()
		}
	case *format.G711:
		if err := checkPCMParams(f.SampleRate, f.ChannelCount); err != nil {
			return nil, err
		}
		d, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		codec := media.CodecPCMA
		if f.MULaw {
			codec = media.CodecPCMU
		}
		t.kind, t.codec, t.dec = media.KindAudio, codec, pcmDecoder{d: d}
		t.cur = &media.Track{Kind: media.KindAudio, Codec: codec, ClockRate: f.SampleRate,
			SampleRate: f.SampleRate, Channels: f.ChannelCount}
	case *format.LPCM:
		if err := checkPCMParams(f.SampleRate, f.ChannelCount); err != nil {
			return nil, err
		}
		// RTP carries L8 unsigned, L16 and L24 big-endian (RFC 3551
		// section 4.5.10, RFC 3190).
		pf := pcm.Format{Bits: f.BitDepth, BigEndian: true, Unsigned: f.BitDepth == 8}
		if err := pf.Valid(); err != nil {
			return nil, err
		}
		d, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		t.kind, t.codec, t.dec = media.KindAudio, media.CodecPCM, pcmDecoder{d: d, convert: &pf}
		t.cur = &media.Track{Kind: media.KindAudio, Codec: media.CodecPCM, ClockRate: f.SampleRate,
			SampleRate: f.SampleRate, Channels: f.ChannelCount}
	case *format.Opus:
		d, err := f.CreateDecoder()
		if err != nil {
			return nil, err
		}
		t.kind, t.codec, t.dec = media.KindAudio, media.CodecOpus, opusDecoder{d}
		channels := f.ChannelCount
		if channels == 0 {
			channels = 2
		}
		t.cur = &media.Track{Kind: media.KindAudio, Codec: media.CodecOpus, ClockRate: 48000,
			SampleRate: 48000, Channels: channels}
	default:
		return nil, nil
	}
	return t, nil
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

// pcmDecoder passes the samples of a G.711 or LPCM packet on as one
// frame, LPCM converted to 16-bit little-endian.
type pcmDecoder struct {
	d interface {
		Decode(pkt *rtp.Packet) ([]byte, error)
	}
	convert *pcm.Format
}

func (p pcmDecoder) Decode(pkt *rtp.Packet) ([][]byte, error) {
	fr, err := p.d.Decode(pkt)
	if err != nil || len(fr) == 0 {
		return nil, err
	}
	if p.convert != nil {
		fr = pcm.Convert(nil, fr, *p.convert)
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
	t         *track
}

// configure sets the track from the LATM configuration: a new track, to
// be announced with the next frame.
func (l *latmDecoder) configure() {
	asc, conf := l.latm.Config()
	l.t.cur = &media.Track{Kind: media.KindAudio, Codec: media.CodecAAC, ClockRate: l.clockRate,
		Config: asc, SampleRate: conf.SampleRate, Channels: conf.Channels}
	l.t.samples = media.Rescale(int64(l.latm.SamplesPerFrame()), conf.SampleRate, l.clockRate)
	l.t.announced = false
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

// opusDecoder adapts the one-frame-per-packet decoder of Opus.
type opusDecoder struct {
	d interface {
		Decode(pkt *rtp.Packet) ([]byte, error)
	}
}

func (o opusDecoder) Decode(pkt *rtp.Packet) ([][]byte, error) {
	fr, err := o.d.Decode(pkt)
	if err != nil {
		return nil, err
	}
	return [][]byte{fr}, nil
}

// handle depacketizes one packet whose PTS (in the track's clock) is pts
// and hands what completes to the sink. Errors of the sink are returned;
// depacketization errors (loss, a unit that started before PLAY) drop the
// unit, as RTP over UDP must expect.
func (t *track) handle(pkt *rtp.Packet, pts int64, sink Sink) error {
	if t.kind == media.KindAudio {
		return t.handleAudio(pkt, pts, sink)
	}
	tsChanged := t.buffering && pkt.Timestamp != t.bufTS
	auPTS := pts
	if tsChanged {
		auPTS = t.bufPTS
	}
	au, err := t.dec.Decode(pkt)
	switch {
	case err == nil && tsChanged:
		// The previous unit, completed by this packet's new timestamp;
		// this packet starts the next one.
		t.buffering, t.bufTS, t.bufPTS = true, pkt.Timestamp, pts
	case err == nil:
		t.buffering = false
	case errors.Is(err, rtph264.ErrMorePacketsNeeded), errors.Is(err, rtph265.ErrMorePacketsNeeded):
		if !t.buffering || tsChanged {
			t.buffering, t.bufTS, t.bufPTS = true, pkt.Timestamp, pts
		}
		return nil
	default:
		t.buffering = false
		return nil
	}
	return t.videoUnit(au, auPTS, sink)
}

// videoUnit hands over one access unit: it announces a track when the
// parameter sets are first known or change, and waits for a random-access
// unit before the first frame.
func (t *track) videoUnit(au [][]byte, pts int64, sink Sink) error {
	key := false
	var vps, sps, pps []byte
	for _, n := range au {
		if t.codec == media.CodecH264 {
			switch h264.Type(n) {
			case h264.NALUTypeSPS:
				sps = n
			case h264.NALUTypePPS:
				pps = n
			case h264.NALUTypeIDR:
				key = true
			}
			continue
		}
		switch typ := h265.Type(n); {
		case typ == h265.NALUTypeVPS:
			vps = n
		case typ == h265.NALUTypeSPS:
			sps = n
		case typ == h265.NALUTypePPS:
			pps = n
		case h265.IsIRAP(typ):
			key = true
		}
	}
	if sps != nil && !bytes.Equal(sps, t.sps) {
		t.sps = bytes.Clone(sps)
	}
	if pps != nil && !bytes.Equal(pps, t.pps) {
		t.pps = bytes.Clone(pps)
	}
	if vps != nil && !bytes.Equal(vps, t.vps) {
		t.vps = bytes.Clone(vps)
	}
	if err := t.announceVideo(sink); err != nil {
		return err
	}
	if t.cur == nil {
		return nil // no parameter sets yet
	}
	if t.dts == nil {
		if !key {
			return nil // wait for a random-access unit
		}
		t.dts = t.newDTS()
	}
	if key && sps == nil {
		// Parameter sets only in the SDP: put them in front of every
		// random-access unit, where the DTS extractor and decoders
		// joining mid-stream look for them.
		params := [][]byte{t.sps, t.pps}
		if t.codec == media.CodecH265 {
			params = [][]byte{t.vps, t.sps, t.pps}
		}
		au = append(params, au...)
	}
	dts, err := t.dts.Extract(au, pts)
	if err != nil {
		// A broken reference chain (a lost packet): start again at the
		// next random-access unit.
		t.dts = nil
		return nil
	}
	return sink.Frame(&media.Frame{Track: t.cur, PTS: pts, DTS: dts, Key: key, Data: au})
}

// announceVideo announces the video track when its parameter sets are
// complete and differ from the announced ones.
func (t *track) announceVideo(sink Sink) error {
	if t.sps == nil || t.pps == nil || (t.codec == media.CodecH265 && t.vps == nil) {
		return nil
	}
	if t.cur != nil && bytes.Equal(t.sps, t.ann[0]) && bytes.Equal(t.pps, t.ann[1]) && bytes.Equal(t.vps, t.ann[2]) {
		return nil
	}
	nt := &media.Track{ID: t.id, Kind: media.KindVideo, Codec: t.codec, ClockRate: videoClockRate}
	if t.codec == media.CodecH264 {
		info, err := h264.ParseSPS(t.sps)
		if err != nil || len(t.sps) < 4 {
			return fmt.Errorf("H.264 SPS of the RTSP stream: %w", errOr(err, "too short"))
		}
		nt.Width, nt.Height = info.Width, info.Height
		cfg := h264.DecoderConfig{
			ProfileIndication: t.sps[1], ProfileCompatibility: t.sps[2], LevelIndication: t.sps[3],
			LengthSize: 4, SPS: [][]byte{t.sps}, PPS: [][]byte{t.pps},
		}
		if nt.Config, err = cfg.Marshal(); err != nil {
			return fmt.Errorf("H.264 decoder configuration: %w", err)
		}
	} else {
		info, err := h265.ParseSPS(t.sps)
		if err != nil {
			return fmt.Errorf("H.265 SPS of the RTSP stream: %w", err)
		}
		nt.Width, nt.Height = info.Width, info.Height
		if nt.Config, err = h265.MarshalDecoderConfig(info, t.vps, t.sps, t.pps); err != nil {
			return fmt.Errorf("H.265 decoder configuration: %w", err)
		}
	}
	t.cur, t.ann = nt, [3][]byte{t.sps, t.pps, t.vps}
	t.dts = nil // a new sequence starts at a random-access unit
	return sink.Track(nt)
}

// handleAudio hands over the audio frames of one packet; the first packet
// announces the track (its configuration comes from the SDP).
func (t *track) handleAudio(pkt *rtp.Packet, pts int64, sink Sink) error {
	frames, err := t.dec.Decode(pkt)
	if err != nil {
		// rtpmpeg4audio.ErrMorePacketsNeeded (a fragmented unit), or a
		// lost fragment: the unit is dropped.
		return nil
	}
	if t.cur == nil || len(frames) == 0 {
		return nil // LATM before its in-band configuration
	}
	if !t.announced {
		t.announced = true
		t.cur.ID = t.id
		if err := sink.Track(t.cur); err != nil {
			return err
		}
	}
	for i, fr := range frames {
		p := pts + int64(i)*t.samples
		if err := sink.Frame(&media.Frame{Track: t.cur, PTS: p, DTS: p, Key: true, Data: [][]byte{fr}}); err != nil {
			return err
		}
	}
	return nil
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New(msg)
}
