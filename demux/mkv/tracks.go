package mkv

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/tributary-ingress/tributary/codec/aac"
	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/h265"
	"github.com/tributary-ingress/tributary/codec/opus"
	"github.com/tributary-ingress/tributary/codec/pcm"
	"github.com/tributary-ingress/tributary/media"
)

// Matroska track types. Specification: RFC 9559, section 5.1.4.1.3.
const (
	trackTypeVideo = 1
	trackTypeAudio = 2
)

// trackState is a TrackEntry and what the demuxer keeps for it.
type trackState struct {
	number   uint64
	typ      uint64
	codecID  string
	private  []byte
	defDurNs uint64
	// delayNs is CodecDelay: Opus pre-skip, which block timestamps
	// include and presentation times do not.
	delayNs   uint64
	width     uint64
	height    uint64
	rate      float64
	outRate   float64
	channels  uint64
	bitDepth  uint64
	encodings bool
	// pcm is the sample layout of an A_PCM track, converted to 16-bit
	// little-endian frame by frame.
	pcm *pcm.Layout

	track *media.Track
	skip  bool
	// lengthSize is the NAL unit length size of H.264/H.265 samples.
	lengthSize int
	dts        dtsGen
}

// codecs maps Matroska codec IDs to ours.
//
// Specification: Matroska codec mappings
// (https://www.matroska.org/technical/codec_specs.html).
var codecs = map[string]media.CodecID{
	"V_VP8":            media.CodecVP8,
	"V_VP9":            media.CodecVP9,
	"V_AV1":            media.CodecAV1,
	"V_MPEG4/ISO/AVC":  media.CodecH264,
	"V_MPEGH/ISO/HEVC": media.CodecH265,
	"A_OPUS":           media.CodecOpus,
	"A_VORBIS":         media.CodecVorbis,
	"A_AAC":            media.CodecAAC,
	"A_MPEG/L3":        media.CodecMP3,
	"A_MPEG/L2":        media.CodecMP2,
	"A_FLAC":           media.CodecFLAC,
	"A_AC3":            media.CodecAC3,
	"A_EAC3":           media.CodecEAC3,
	"A_PCM/INT/LIT":    media.CodecPCM,
	"A_PCM/INT/BIG":    media.CodecPCM,
	"A_PCM/FLOAT/IEEE": media.CodecPCM,
}

func codecOf(id string) media.CodecID {
	if c, ok := codecs[id]; ok {
		return c
	}
	// Old Matroska files name the AAC profile: A_AAC/MPEG4/LC, …
	if strings.HasPrefix(id, "A_AAC/") {
		return media.CodecAAC
	}
	return media.CodecUnknown
}

// parseTrackEntry decodes a TrackEntry.
//
// Specification: RFC 9559, section 5.1.4.1.
func parseTrackEntry(b []byte) (*trackState, error) {
	els, err := children(b)
	if err != nil {
		return nil, err
	}
	t := &trackState{}
	for _, e := range els {
		var err error
		switch e.id {
		case idTrackNumber:
			t.number, err = uintValue(e.data)
		case idTrackType:
			t.typ, err = uintValue(e.data)
		case idCodecID:
			t.codecID = stringValue(e.data)
		case idCodecPrivate:
			t.private = e.data
		case idDefaultDur:
			t.defDurNs, err = uintValue(e.data)
		case idCodecDelay:
			t.delayNs, err = uintValue(e.data)
			t.delayNs = min(t.delayNs, 1e9)
		case idContentEncs:
			t.encodings = true
		case idVideo:
			err = t.parseVideo(e.data)
		case idAudio:
			err = t.parseAudio(e.data)
		}
		if err != nil {
			return nil, err
		}
	}
	if t.number == 0 {
		return nil, errs.Malformed("TrackEntry without TrackNumber")
	}
	return t, nil
}

func (t *trackState) parseVideo(b []byte) error {
	els, err := children(b)
	if err != nil {
		return err
	}
	for _, e := range els {
		switch e.id {
		case idPixelWidth:
			t.width, err = uintValue(e.data)
		case idPixelHeight:
			t.height, err = uintValue(e.data)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (t *trackState) parseAudio(b []byte) error {
	els, err := children(b)
	if err != nil {
		return err
	}
	for _, e := range els {
		switch e.id {
		case idSamplingFreq:
			t.rate, err = floatValue(e.data)
		case idOutSampFreq:
			t.outRate, err = floatValue(e.data)
		case idChannels:
			t.channels, err = uintValue(e.data)
		case idBitDepth:
			t.bitDepth, err = uintValue(e.data)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// maxSampleRate bounds audio sample rates (and so clock rates).
const maxSampleRate = 768000

// setup builds the media.Track of a TrackEntry. It returns nil, nil for
// tracks that are not audio or video.
func (t *trackState) setup() (*media.Track, error) {
	if t.typ != trackTypeVideo && t.typ != trackTypeAudio {
		return nil, nil
	}
	kind := media.KindVideo
	if t.typ == trackTypeAudio {
		kind = media.KindAudio
	}
	id := int(min(t.number, math.MaxInt32))
	codec := codecOf(t.codecID)
	if codec == media.CodecUnknown || codec.Kind() != kind {
		return nil, errs.UnsupportedCodec(kind, printable(t.codecID), fmt.Sprintf("track %d", id))
	}
	if t.encodings {
		return nil, errs.UnsupportedCodec(kind, printable(t.codecID)+" with content encoding (compression or encryption)", fmt.Sprintf("track %d", id))
	}
	tr := &media.Track{ID: id, Kind: kind, Codec: codec, Config: t.private}
	if kind == media.KindVideo {
		tr.ClockRate = VideoClockRate
		if t.width <= h264.MaxDimension && t.height <= h264.MaxDimension {
			tr.Width, tr.Height = int(t.width), int(t.height)
		}
		return tr, t.setupVideo(tr)
	}
	rate := t.rate
	if t.outRate > 0 {
		rate = t.outRate // SBR: the output rate
	}
	if rate >= 1 && rate <= maxSampleRate {
		tr.SampleRate = int(rate)
	}
	if t.channels <= 255 {
		tr.Channels = int(t.channels)
	}
	if err := t.setupAudio(tr); err != nil {
		return nil, err
	}
	if tr.SampleRate <= 0 {
		return nil, errs.Malformed("track %d: %s without sampling frequency", id, t.codecID)
	}
	if tr.Channels <= 0 {
		tr.Channels = 1 // the Matroska default
	}
	tr.ClockRate = tr.SampleRate
	return tr, nil
}

func (t *trackState) setupVideo(tr *media.Track) error {
	switch tr.Codec {
	case media.CodecH264:
		var c h264.DecoderConfig
		if err := c.Unmarshal(t.private); err != nil {
			return errs.Malformed("track %d: avcC: %v", tr.ID, err)
		}
		t.lengthSize = c.LengthSize
		reorder := 0
		if len(c.SPS) > 0 {
			if sps, err := h264.ParseSPS(c.SPS[0]); err == nil {
				if sps.MayHaveBFrames() {
					reorder = defaultReorder
					if sps.MaxNumReorderFrames >= 0 {
						reorder = sps.MaxNumReorderFrames
					}
				}
				if tr.Width == 0 {
					tr.Width, tr.Height = sps.Width, sps.Height
				}
			}
		}
		t.dts.init(reorder, t.defDurNs)
	case media.CodecH265:
		var c h265.DecoderConfig
		if err := c.Unmarshal(t.private); err != nil {
			return errs.Malformed("track %d: hvcC: %v", tr.ID, err)
		}
		t.lengthSize = c.LengthSize
		reorder := defaultReorder
		if len(c.SPS) > 0 {
			if sps, err := h265.ParseSPS(c.SPS[0]); err == nil {
				reorder = sps.MaxNumReorderPics
				if tr.Width == 0 {
					tr.Width, tr.Height = sps.Width, sps.Height
				}
			}
		}
		t.dts.init(reorder, t.defDurNs)
	}
	return nil
}

func (t *trackState) setupAudio(tr *media.Track) error {
	switch tr.Codec {
	case media.CodecOpus:
		h, err := opus.ParseHead(t.private)
		if err != nil {
			return errs.Malformed("track %d: OpusHead: %v", tr.ID, err)
		}
		tr.Channels = h.Channels
		tr.SampleRate = opus.ClockRate
	case media.CodecAAC:
		c, err := aac.ParseConfig(t.private)
		if err != nil {
			return errs.Malformed("track %d: AudioSpecificConfig: %v", tr.ID, err)
		}
		tr.SampleRate = c.SampleRate
		if c.Channels > 0 {
			tr.Channels = c.Channels
		}
	case media.CodecVorbis:
		rate, ch, err := vorbisIdent(t.private)
		if err != nil {
			return errs.Malformed("track %d: %v", tr.ID, err)
		}
		tr.SampleRate, tr.Channels = rate, ch
	case media.CodecPCM:
		// Matroska codec mappings: A_PCM/INT/LIT is little-endian and
		// unsigned at 8 bits, A_PCM/INT/BIG big-endian and signed,
		// A_PCM/FLOAT/IEEE little-endian; BitDepth says the size.
		f := pcm.Layout{Bits: int(min(t.bitDepth, 64))}
		switch t.codecID {
		case "A_PCM/INT/LIT":
			f.Unsigned = f.Bits == 8
		case "A_PCM/INT/BIG":
			f.BigEndian = true
		default:
			f.Float = true
		}
		if err := f.Valid(); err != nil {
			return errs.UnsupportedCodec(media.KindAudio, fmt.Sprintf("%s (%v)", t.codecID, err), fmt.Sprintf("track %d", tr.ID))
		}
		if tr.Channels <= 0 {
			tr.Channels = 1 // the Matroska default
		}
		if tr.Channels > pcm.MaxChannels {
			return errs.Malformed("track %d: PCM of %d channels (at most %d)", tr.ID, tr.Channels, pcm.MaxChannels)
		}
		t.pcm = &f
	}
	return nil
}

// vorbisIdent reads the sample rate and channels of the identification
// header, the first of the three Xiph-laced headers of CodecPrivate.
//
// Specification: Vorbis I specification, section 4.2.2; Matroska codec
// mappings, A_VORBIS.
func vorbisIdent(priv []byte) (rate, channels int, err error) {
	packets, err := xiphLacing(priv)
	if err != nil || len(packets) != 3 {
		return 0, 0, errs.Malformed("Vorbis CodecPrivate is not three Xiph-laced headers")
	}
	id := packets[0]
	if len(id) < 16 || id[0] != 1 || string(id[1:7]) != "vorbis" {
		return 0, 0, errs.Malformed("no Vorbis identification header")
	}
	channels = int(id[11])
	rate = int(binary.LittleEndian.Uint32(id[12:16]))
	if channels == 0 || rate <= 0 || rate > maxSampleRate {
		return 0, 0, errs.Malformed("Vorbis identification header: %d Hz, %d channels", rate, channels)
	}
	return rate, channels, nil
}

// xiphLacing splits a CodecPrivate of the form count-1, Xiph sizes,
// packets (Vorbis, Theora).
func xiphLacing(b []byte) ([][]byte, error) {
	if len(b) < 1 {
		return nil, errs.Malformed("empty Xiph lacing")
	}
	n := int(b[0]) + 1
	sizes, rest, err := xiphSizes(b[1:], n)
	if err != nil {
		return nil, err
	}
	return splitSizes(rest, sizes)
}

// printable escapes a codec ID for messages.
func printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	if len(b) > 64 {
		b = append(b[:64], "…"...)
	}
	return string(b)
}
