package ts

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/asticode/go-astits"

	"github.com/tributary-ingress/tributary/codec/aac"
	"github.com/tributary-ingress/tributary/codec/ac3"
	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/h265"
	"github.com/tributary-ingress/tributary/codec/mp3"
	"github.com/tributary-ingress/tributary/codec/mpeg2"
	"github.com/tributary-ingress/tributary/codec/paramsets"
	"github.com/tributary-ingress/tributary/media"
)

// stream is the state of one elementary stream of the PMT.
type stream struct {
	pid          uint16
	streamType   astits.StreamType
	codec        media.CodecID
	opusChannels int
	skip         bool
	// latm reads AAC in LATM (stream type 0x11), nil for ADTS.
	latm *aac.LATM

	track *media.Track
	// params are the parameter sets the track was built from.
	params paramsets.Sets
	// seen is set when the stream pushed a frame since the last anchoring.
	seen bool

	// haveLast, lastDTS and delta extrapolate PES packets without PTS:
	// the unwrapped DTS of the last frame and the distance to the one
	// before (video), or the unwrapped time after the last audio frame.
	haveLast bool
	lastDTS  int64
	delta    int64
	audioEnd int64
}

func (s *stream) resetTiming() {
	s.haveLast, s.lastDTS, s.delta, s.audioEnd, s.seen = false, 0, 0, 0, false
}

// timestamps returns the unwrapped DTS and PTS of a PES packet, or
// ok=false when it has none and none can be extrapolated.
func (d *Demuxer) timestamps(s *stream, pes *astits.PESData) (dts, pts int64, ok bool) {
	var oh *astits.PESOptionalHeader
	if pes.Header != nil {
		oh = pes.Header.OptionalHeader
	}
	if oh == nil || oh.PTS == nil {
		if !s.haveLast {
			return 0, 0, false
		}
		if s.track != nil && s.track.Kind == media.KindAudio {
			return s.audioEnd, s.audioEnd, true
		}
		v := s.lastDTS + s.delta
		return v, v, true
	}
	rawDTS := oh.PTS.Base
	if oh.DTS != nil {
		rawDTS = oh.DTS.Base
	}
	dts = d.tl.unwrap(rawDTS)
	return dts, relative(dts, oh.PTS.Base), true
}

func (d *Demuxer) handlePES(s *stream, pes *astits.PESData) error {
	if len(pes.Data) == 0 {
		return nil
	}
	switch s.codec {
	case media.CodecH264, media.CodecH265:
		return d.handleVideo(s, pes)
	case media.CodecMPEG2Video:
		return d.handleMPEG2(s, pes)
	case media.CodecAAC:
		if s.latm != nil {
			return d.handleLATM(s, pes)
		}
		return d.handleAAC(s, pes)
	case media.CodecMP3, media.CodecMP2:
		return d.handleMP3(s, pes)
	case media.CodecAC3, media.CodecEAC3:
		return d.handleAC3(s, pes)
	case media.CodecOpus:
		return d.handleOpus(s, pes)
	}
	return nil
}

func (d *Demuxer) handleVideo(s *stream, pes *astits.PESData) error {
	au, err := h264.SplitAnnexB(pes.Data)
	if err != nil {
		d.stats.DecodeErrors++
		return nil
	}
	// Empty NAL units (double start codes) are not NAL units.
	n := 0
	for _, u := range au {
		if len(u) > 0 {
			au[n] = u
			n++
		}
	}
	au = au[:n]
	if len(au) == 0 {
		return nil
	}
	if err := d.updateVideoTrack(s, au); err != nil {
		return err
	}
	if s.track == nil {
		d.stats.DroppedBeforeConfig++
		return nil
	}
	var key bool
	if s.codec == media.CodecH264 {
		key = h264.IsKeyframe(au)
	} else {
		key = h265.IsKeyframe(au)
	}
	return d.pushVideo(s, pes, key, au)
}

// pushVideo times and pushes one access unit of the stream's track.
func (d *Demuxer) pushVideo(s *stream, pes *astits.PESData, key bool, data [][]byte) error {
	dts, pts, ok := d.timestamps(s, pes)
	if !ok {
		d.stats.DroppedNoTimestamp++
		return nil
	}
	if s.haveLast && dts > s.lastDTS {
		s.delta = dts - s.lastDTS
	}
	s.haveLast, s.lastDTS, s.seen = true, dts, true
	f := &media.Frame{Track: s.track, Key: key, Data: data}
	return d.push(pending{frame: f, s: s, dts90: dts, pts90: pts, dur: s.delta})
}

// handleMPEG2 takes one picture of MPEG-1 or MPEG-2 video, whole as the
// decoder takes it. The track is announced at the first sequence header
// (its size, and the header as the decoder's configuration), and again
// when the picture size changes; pictures before it are dropped.
func (d *Demuxer) handleMPEG2(s *stream, pes *astits.PESData) error {
	info, err := mpeg2.Parse(pes.Data)
	if err != nil {
		d.stats.DecodeErrors++
		return nil
	}
	if info.Sequence && info.Config != nil &&
		(s.track == nil || s.track.Width != info.Width || s.track.Height != info.Height) {
		s.track = &media.Track{ID: int(s.pid), Kind: media.KindVideo, Codec: media.CodecMPEG2Video,
			ClockRate: VideoClockRate, Width: info.Width, Height: info.Height, Config: bytes.Clone(info.Config)}
		if err := d.OnTrack(s.track); err != nil {
			return err
		}
	}
	if s.track == nil {
		d.stats.DroppedBeforeConfig++
		return nil
	}
	if info.PictureType == 0 {
		d.stats.DecodeErrors++ // headers without a picture
		return nil
	}
	return d.pushVideo(s, pes, info.PictureType == mpeg2.PictureI, [][]byte{pes.Data})
}

// updateVideoTrack takes the parameter sets of an access unit and sets up
// a new track when they are complete and differ from the current ones.
func (d *Demuxer) updateVideoTrack(s *stream, au [][]byte) error {
	params, _ := paramsets.Scan(s.codec, au, s.params)
	if !params.Complete(s.codec) || (s.track != nil && params.Equal(s.params)) {
		return nil
	}
	t := &media.Track{ID: int(s.pid), Kind: media.KindVideo, Codec: s.codec, ClockRate: VideoClockRate}
	var err error
	if t.Width, t.Height, t.Config, err = paramsets.Config(s.codec, params); err != nil {
		d.stats.DecodeErrors++
		return nil
	}
	// The parameter sets alias a PES payload that also backs frames: keep
	// copies so nothing retains more than it needs.
	s.params = params.Clone()
	s.track = t
	return d.OnTrack(t)
}

// audioFrames pushes the frames of one audio PES packet; samples[i] is the
// duration of frames[i] in track ticks.
func (d *Demuxer) audioFrames(s *stream, pes *astits.PESData, frames [][]byte, samples []int64) error {
	dts, _, ok := d.timestamps(s, pes)
	if !ok {
		d.stats.DroppedNoTimestamp++
		return nil
	}
	s.seen = true
	var extra int64
	for i, fr := range frames {
		f := &media.Frame{Track: s.track, Key: true, Data: [][]byte{fr}}
		if err := d.push(pending{frame: f, s: s, dts90: dts, pts90: dts, extra: extra, dur: samples[i]}); err != nil {
			return err
		}
		extra += samples[i]
	}
	s.haveLast = true
	s.audioEnd = dts + media.Rescale(extra, s.track.ClockRate, VideoClockRate)
	return nil
}

// setAudioTrack sets up a new audio track when the configuration changed.
func (d *Demuxer) setAudioTrack(s *stream, rate, channels int, config []byte) error {
	if s.track != nil && s.track.SampleRate == rate && s.track.Channels == channels && bytes.Equal(s.track.Config, config) {
		return nil
	}
	s.track = &media.Track{
		ID: int(s.pid), Kind: media.KindAudio, Codec: s.codec, ClockRate: rate,
		Config: config, SampleRate: rate, Channels: channels,
	}
	return d.OnTrack(s.track)
}

func (d *Demuxer) handleAAC(s *stream, pes *astits.PESData) error {
	frames, h, err := aac.SplitADTS(pes.Data)
	if err != nil {
		d.stats.DecodeErrors++
		return nil
	}
	if h.SampleRate <= 0 || h.Channels <= 0 {
		d.stats.DecodeErrors++
		return nil
	}
	cfg, err := h.Config()
	if err != nil {
		d.stats.DecodeErrors++
		return nil
	}
	if err := d.setAudioTrack(s, h.SampleRate, h.Channels, cfg); err != nil {
		return err
	}
	samples := make([]int64, len(frames))
	for i := range samples {
		samples[i] = aac.SamplesPerFrame
	}
	return d.audioFrames(s, pes, frames, samples)
}

// handleMP3 splits a PES packet of MPEG audio into frames: Layer III
// (MP3) or Layer II (MP2), as the first frame says; frames of another
// layer end the packet.
//
// Specification: ISO/IEC 11172-3, section 2.4.2.3.
func (d *Demuxer) handleMP3(s *stream, pes *astits.PESData) error {
	var frames [][]byte
	var samples []int64
	var first mp3.FrameHeader
	buf := pes.Data
	for len(buf) >= 4 {
		h, err := mp3.ParseFrameHeader(buf)
		if err != nil {
			break
		}
		if h.Layer != 3 && h.Layer != 2 {
			return errs.UnsupportedCodec(media.KindAudio, fmt.Sprintf("MPEG audio layer %d", h.Layer), fmt.Sprintf("PID %d", s.pid))
		}
		if len(frames) > 0 && h.Layer != first.Layer {
			break
		}
		n := h.Length
		if n <= 4 || n > len(buf) {
			break
		}
		if len(frames) == 0 {
			first = h
		}
		frames = append(frames, buf[:n:n])
		samples = append(samples, int64(h.SamplesPerFrame))
		buf = buf[n:]
	}
	if len(frames) == 0 {
		d.stats.DecodeErrors++
		return nil
	}
	s.codec = media.CodecMP3
	if first.Layer == 2 {
		s.codec = media.CodecMP2
	}
	if err := d.setAudioTrack(s, first.SampleRate, first.Channels, nil); err != nil {
		return err
	}
	return d.audioFrames(s, pes, frames, samples)
}

// handleAC3 splits a PES packet of AC-3 or E-AC-3 into the units a
// decoder takes (an E-AC-3 frame with its dependent substreams); the
// first frame's bsid tells which of the two the stream is.
func (d *Demuxer) handleAC3(s *stream, pes *astits.PESData) error {
	units, heads, err := ac3.SplitFrames(pes.Data)
	if err != nil {
		d.stats.DecodeErrors++
		return nil
	}
	s.codec = media.CodecAC3
	if heads[0].EAC3 {
		s.codec = media.CodecEAC3
	}
	if err := d.setAudioTrack(s, heads[0].SampleRate, heads[0].Channels, nil); err != nil {
		return err
	}
	samples := make([]int64, len(units))
	for i, h := range heads {
		samples[i] = int64(h.Samples)
	}
	return d.audioFrames(s, pes, units, samples)
}

// handleLATM takes the AAC frames out of the LOAS elements of a PES
// packet. Elements before the first in-band StreamMuxConfig are dropped.
func (d *Demuxer) handleLATM(s *stream, pes *astits.PESData) error {
	elems, err := aac.SplitLOAS(pes.Data)
	if err != nil {
		d.stats.DecodeErrors++
		return nil
	}
	var frames [][]byte
	for _, e := range elems {
		fr, _, err := s.latm.Decode(e)
		switch {
		case errors.Is(err, aac.ErrNoLATMConfig):
			d.stats.DroppedBeforeConfig++
		case err != nil:
			d.stats.DecodeErrors++
		default:
			frames = append(frames, fr...)
		}
	}
	if len(frames) == 0 {
		return nil
	}
	asc, conf := s.latm.Config()
	if err := d.setAudioTrack(s, conf.SampleRate, conf.Channels, asc); err != nil {
		return err
	}
	samples := make([]int64, len(frames))
	for i := range samples {
		samples[i] = int64(s.latm.SamplesPerFrame())
	}
	return d.audioFrames(s, pes, frames, samples)
}

func (d *Demuxer) handleOpus(s *stream, pes *astits.PESData) error {
	packets, err := splitOpusAUs(pes.Data)
	if err != nil || len(packets) == 0 {
		d.stats.DecodeErrors++
		return nil
	}
	if err := d.setAudioTrack(s, opusClockRate, s.opusChannels, opusHead(s.opusChannels)); err != nil {
		return err
	}
	samples := make([]int64, len(packets))
	for i, p := range packets {
		samples[i] = int64(opusPacketSamples(p))
	}
	return d.audioFrames(s, pes, packets, samples)
}
