package flv

import (
	"bytes"
	"fmt"

	"github.com/tributary-ingress/tributary/codec/aac"
	"github.com/tributary-ingress/tributary/codec/mp3"
	"github.com/tributary-ingress/tributary/codec/opus"
	"github.com/tributary-ingress/tributary/media"
)

// Legacy audio tag header values.
//
// Specification: FLV v10.1, E.4.2.1 AUDIODATA.
const (
	soundFormatMP3      = 2
	soundFormatExHeader = 9 // Enhanced RTMP: not a codec, an extended header
	soundFormatAAC      = 10

	aacPacketSequenceHeader = 0
	aacPacketRaw            = 1
)

var legacySoundFormatNames = map[uint8]string{
	0: "Linear PCM, platform endian", 1: "ADPCM", 3: "Linear PCM, little endian",
	4: "Nellymoser 16 kHz mono", 5: "Nellymoser 8 kHz mono", 6: "Nellymoser",
	7: "G.711 A-law", 8: "G.711 mu-law", 11: "Speex", 14: "MP3 8 kHz",
	15: "Device-specific sound",
}

// Enhanced RTMP audio packet types and FourCCs.
//
// Specification: Enhanced RTMP v2, "ExAudioTagHeader".
const (
	audioPacketSequenceStart      = 0
	audioPacketCodedFrames        = 1
	audioPacketSequenceEnd        = 2
	audioPacketMultichannelConfig = 4
	audioPacketMultitrack         = 5
	audioPacketModEx              = 7
)

var (
	fourCCOpus = fourCC("Opus")
	fourCCAAC  = fourCC("mp4a")
	fourCCMP3  = fourCC(".mp3")
)

// audioFrame puts a frame and its Data backing array in one allocation.
type audioFrame struct {
	frame media.Frame
	data  [1][]byte
}

type audioState struct {
	track *media.Track
}

// WriteAudio demuxes the body of an audio tag (RTMP message type 8) with
// its timestamp in milliseconds.
func (d *Demuxer) WriteAudio(timestampMs uint32, body []byte) error {
	if len(body) > MaxTagSize {
		return errs.OverLimit("audio tag of %d bytes exceeds %d", len(body), MaxTagSize)
	}
	ms := d.tl.unwrap(timestampMs)
	if len(body) < 1 {
		d.stats.DroppedEmpty++
		return nil
	}
	format := body[0] >> 4
	switch format {
	case soundFormatExHeader:
		return d.writeExAudio(ms, body)
	case soundFormatAAC:
		if len(body) < 2 {
			return errs.Malformed("AAC audio tag of %d bytes", len(body))
		}
		switch body[1] {
		case aacPacketSequenceHeader:
			return d.setAACConfig(body[2:])
		case aacPacketRaw:
			return d.writeAudioFrame(media.CodecAAC, ms, 0, body[2:])
		}
		return errs.Malformed("AAC packet type %d", body[1])
	case soundFormatMP3:
		return d.writeMP3(ms, 0, body[1:])
	}
	name, ok := legacySoundFormatNames[format]
	if !ok {
		name = "unknown"
	}
	return errs.UnsupportedCodec(media.KindAudio, fmt.Sprintf("%s (FLV sound format %d)", name, format), "")
}

func (d *Demuxer) writeExAudio(ms int64, body []byte) error {
	buf, pt, nano, err := parseModEx(body[1:], body[0]&0x0f, audioPacketModEx)
	if err != nil {
		return err
	}
	return forEachTrack(buf, pt, audioPacketMultitrack, func(p exPacket) error {
		if p.trackID != 0 {
			d.stats.DroppedOtherTracks++
			return nil
		}
		switch p.fourCC {
		case fourCCAAC, fourCCOpus, fourCCMP3:
		default:
			return errs.UnsupportedCodec(media.KindAudio, "FourCC "+fourCCString(p.fourCC), "")
		}
		switch p.packetType {
		case audioPacketSequenceStart:
			switch p.fourCC {
			case fourCCAAC:
				return d.setAACConfig(p.body)
			case fourCCOpus:
				return d.setOpusConfig(p.body)
			}
			return nil // .mp3 needs no configuration
		case audioPacketCodedFrames:
			switch p.fourCC {
			case fourCCAAC:
				return d.writeAudioFrame(media.CodecAAC, ms, nano, p.body)
			case fourCCOpus:
				if t := d.audio.track; t == nil || t.Codec != media.CodecOpus {
					// OpusHead is optional for mono/stereo: assume stereo.
					if err := d.setOpusConfig(nil); err != nil {
						return err
					}
				}
				return d.writeAudioFrame(media.CodecOpus, ms, nano, p.body)
			}
			return d.writeMP3(ms, nano, p.body)
		case audioPacketSequenceEnd, audioPacketMultichannelConfig:
			return nil
		}
		return errs.Malformed("audio packet type %d", p.packetType)
	})
}

// setAACConfig handles an AAC sequence header (AudioSpecificConfig). The
// sample rate and channels come from it, not from the FLV tag flags, which
// cannot express 48 kHz and always say 44 kHz stereo for AAC.
func (d *Demuxer) setAACConfig(asc []byte) error {
	if t := d.audio.track; t != nil && t.Codec == media.CodecAAC && bytes.Equal(t.Config, asc) {
		return nil
	}
	c, err := aac.ParseConfig(asc)
	if err != nil {
		return errs.Malformed("AAC sequence header: %v", err)
	}
	if c.SampleRate <= 0 {
		return errs.Malformed("AAC sequence header with sample rate %d", c.SampleRate)
	}
	return d.setAudioTrack(&media.Track{
		Codec: media.CodecAAC, ClockRate: c.SampleRate, Config: bytes.Clone(asc),
		SampleRate: c.SampleRate, Channels: c.Channels,
	})
}

// setOpusConfig handles an OpusHead; nil means none was sent.
func (d *Demuxer) setOpusConfig(head []byte) error {
	if t := d.audio.track; t != nil && t.Codec == media.CodecOpus && head != nil && bytes.Equal(t.Config, head) {
		return nil
	}
	channels := 2
	if head != nil {
		h, err := opus.ParseHead(head)
		if err != nil {
			return errs.Malformed("Opus sequence start: %v", err)
		}
		channels = h.Channels
	}
	return d.setAudioTrack(&media.Track{
		Codec: media.CodecOpus, ClockRate: opus.ClockRate, Config: bytes.Clone(head),
		SampleRate: opus.ClockRate, Channels: channels,
	})
}

func (d *Demuxer) setAudioTrack(t *media.Track) error {
	t.ID = AudioTrackID
	t.Kind = media.KindAudio
	d.audio.track = t
	return d.OnTrack(t)
}

// writeMP3 emits MP3 frame(s), setting up the track from the first frame
// header and again when the sample rate or channels change.
func (d *Demuxer) writeMP3(ms, nano int64, data []byte) error {
	if len(data) == 0 {
		d.stats.DroppedEmpty++
		return nil
	}
	h, err := mp3.ParseFrameHeader(data)
	if err != nil {
		return errs.Malformed("MP3: %v", err)
	}
	if t := d.audio.track; t == nil || t.Codec != media.CodecMP3 || t.SampleRate != h.SampleRate || t.Channels != h.Channels {
		if err := d.setAudioTrack(&media.Track{
			Codec: media.CodecMP3, ClockRate: h.SampleRate, SampleRate: h.SampleRate, Channels: h.Channels,
		}); err != nil {
			return err
		}
	}
	return d.writeAudioFrame(media.CodecMP3, ms, nano, data)
}

// writeAudioFrame emits one audio frame at ms (+nano), in sample-rate
// ticks.
func (d *Demuxer) writeAudioFrame(codec media.CodecID, ms, nano int64, data []byte) error {
	t := d.audio.track
	if t == nil || t.Codec != codec {
		d.stats.DroppedBeforeConfig++
		return nil
	}
	if codec == media.CodecAAC && len(data) >= 7 && data[0] == 0xff && data[1]&0xf6 == 0xf0 {
		// Some encoders send ADTS frames where raw AAC belongs. A raw
		// frame cannot start with 0xFFF (that would be an ID_END element
		// first), so strip the header when it describes exactly this data.
		if h, err := aac.ParseADTSHeader(data); err == nil && h.FrameLen == len(data) {
			data = data[h.HeaderLen:]
		}
	}
	if len(data) == 0 {
		d.stats.DroppedEmpty++
		return nil
	}
	if codec == media.CodecAAC && len(data) > aac.MaxFrameSize {
		return errs.OverLimit("AAC frame of %d bytes exceeds %d", len(data), aac.MaxFrameSize)
	}
	af := &audioFrame{}
	f := &af.frame
	f.Track = t
	rate := int64(t.ClockRate)
	f.DTS = media.MulDiv(ms, rate, 1000) + media.MulDiv(nano, rate, 1_000_000_000)
	f.PTS = f.DTS
	f.Key = true
	af.data[0] = make([]byte, len(data))
	copy(af.data[0], data)
	f.Data = af.data[:]
	d.stats.AudioFrames++
	return d.OnFrame(f)
}
