package mp4

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/Eyevinn/mp4ff/bits"
	mp4ff "github.com/Eyevinn/mp4ff/mp4"

	"github.com/tributary-ingress/tributary/codec/aac"
	"github.com/tributary-ingress/tributary/codec/av1"
	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/h265"
	"github.com/tributary-ingress/tributary/codec/opus"
	"github.com/tributary-ingress/tributary/codec/pcm"
	"github.com/tributary-ingress/tributary/codec/vp9"
	"github.com/tributary-ingress/tributary/media"
)

// Sample entry layouts.
//
// Specification: ISO/IEC 14496-12, sections 8.5.2 and 12.1.3 (visual),
// 12.2.3 (audio); QuickTime File Format, "Sound Sample Descriptions"
// (versions 1 and 2).
const (
	stsdHeaderSize        = 8  // version, flags, entry_count
	visualSampleEntrySize = 78 // before the child boxes
	audioSampleEntrySize  = 28
	// QuickTime sound description version 1 adds samples per packet,
	// bytes per packet, bytes per frame and bytes per sample; version 2
	// replaces the rate and channel fields by a struct of 36 bytes.
	qtSoundV1Extra = 16
	qtSoundV2Extra = 36
	maxChannels    = 255
	maxSampleRate  = 768000
)

// MPEG-4 objectTypeIndication values of DecoderConfigDescriptor.
//
// Specification: ISO/IEC 14496-1, table 5; mp4ra.org "Object Types".
const (
	otiMPEG4Audio   = 0x40
	otiMPEG2AACMain = 0x66
	otiMPEG2AACLC   = 0x67
	otiMPEG2AACSSR  = 0x68
	otiMPEG2Audio   = 0x69 // MPEG-2 BC audio: MP3 at 16/22.05/24 kHz
	otiMPEG1Audio   = 0x6b
)

var otiNames = map[byte]string{
	0xa5: "AC-3", 0xa6: "E-AC-3", 0xa9: "DTS", 0xaa: "DTS-HD", 0xdd: "Vorbis", 0xe1: "QCELP",
	0xa3: "VC-1", 0x20: "MPEG-4 Visual", 0x6a: "MPEG-1 Video", 0x61: "MPEG-2 Video", 0x6c: "JPEG",
}

// sampleEntryNames names the sample entries we refuse.
var sampleEntryNames = map[string]string{
	"ac-3": "AC-3", "ec-3": "E-AC-3", "ac-4": "AC-4", "alac": "ALAC", "fLaC": "FLAC", "dtsc": "DTS",
	"samr": "AMR-NB", "sawb": "AMR-WB", "sowt": "PCM", "twos": "PCM", "lpcm": "PCM", "ipcm": "PCM",
	"fpcm": "PCM", "in24": "PCM", "in32": "PCM", "fl32": "PCM", "fl64": "PCM", "raw ": "PCM",
	"NONE": "PCM", "ulaw": "G.711 µ-law", "alaw": "G.711 A-law", "ima4": "IMA ADPCM", "mha1": "MPEG-H 3D Audio",
	"mp4v": "MPEG-4 Visual", "s263": "H.263", "jpeg": "Motion JPEG", "mjpa": "Motion JPEG", "apch": "Apple ProRes",
	"apcn": "Apple ProRes", "apcs": "Apple ProRes", "apco": "Apple ProRes", "ap4h": "Apple ProRes",
	"vvc1": "H.266", "vvi1": "H.266", "dvh1": "Dolby Vision", "dvhe": "Dolby Vision", "avs3": "AVS3",
	"encv": "encrypted video", "enca": "encrypted audio", "mp2v": "MPEG-2 Video", "xvid": "Xvid",
	"SVQ3": "Sorenson Video 3", "cvid": "Cinepak", "png ": "PNG", "rle ": "QuickTime Animation",
	"Opus": "Opus", "mp4a": "MPEG-4 audio", "vp08": "VP8",
}

// entryInfo is what a sample entry tells about its track.
type entryInfo struct {
	track media.Track
	// lengthSize is the NAL unit length size of H.264/H.265 samples.
	lengthSize int
	// pcm is the layout of uncompressed samples (media.CodecPCM tracks),
	// converted to 16-bit little-endian; blockAlign is the size of one
	// sample of all channels (uncompressed tracks, G.711 included).
	pcm        *pcm.Layout
	blockAlign int
}

// forEachChild calls fn for each box in buf with its type, header and
// body, and stops at the first error. Boxes that run past buf are an error.
func forEachChild(buf []byte, fn func(typ string, hdr, body []byte) error) error {
	for len(buf) > 0 {
		if len(buf) < boxHeaderSize {
			return errs.Malformed("%d stray bytes after the child boxes", len(buf))
		}
		size := uint64(binary.BigEndian.Uint32(buf))
		hl := uint64(boxHeaderSize)
		switch size {
		case boxSizeToEnd:
			size = uint64(len(buf))
		case boxSizeLarge:
			if len(buf) < largeBoxHeaderSize {
				return errs.Malformed("truncated large box header")
			}
			size, hl = binary.BigEndian.Uint64(buf[8:]), largeBoxHeaderSize
		}
		if size < hl || size > uint64(len(buf)) {
			if size == 0 && len(buf) == 4 { // a QuickTime terminator atom
				return nil
			}
			return errs.Malformed("%q box of %d bytes in %d", buf[4:8], size, len(buf))
		}
		if err := fn(string(buf[4:8]), buf[:hl], buf[hl:size]); err != nil {
			return err
		}
		buf = buf[size:]
	}
	return nil
}

// findChild returns the body of the first child box of a type, searching
// QuickTime 'wave' boxes too (ffmpeg puts esds in mp4a/wave in MOV).
func findChild(buf []byte, typ string) []byte {
	var found []byte
	_ = forEachChild(buf, func(t string, _, body []byte) error {
		switch {
		case found != nil:
		case t == typ:
			found = body
		case t == "wave":
			found = findChild(body, typ)
		}
		return nil
	})
	return found
}

// parseStsd parses the first sample entry of an stsd box body of a track
// of the given handler kind.
func parseStsd(kind media.Kind, body []byte) (*entryInfo, error) {
	if len(body) < stsdHeaderSize+boxHeaderSize {
		return nil, errs.Malformed("stsd of %d bytes", len(body))
	}
	if binary.BigEndian.Uint32(body[4:]) == 0 {
		return nil, errs.Malformed("stsd without entries")
	}
	var info *entryInfo
	err := forEachChild(body[stsdHeaderSize:], func(typ string, _, entry []byte) error {
		if info != nil {
			return nil // further entries are alternatives we do not switch to
		}
		var err error
		if kind == media.KindVideo {
			info, err = parseVisualEntry(typ, entry)
		} else {
			info, err = parseAudioEntry(typ, entry)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if info == nil {
		return nil, errs.Malformed("stsd without entries")
	}
	return info, nil
}

func unsupported(kind media.Kind, typ string) error {
	name := sampleEntryNames[typ]
	if name == "" {
		name = "unknown"
	}
	return errs.UnsupportedCodec(kind, fmt.Sprintf("%s (%s)", name, fourCCString(typ)), "")
}

func fourCCString(typ string) string {
	return "'" + typ + "'"
}

func parseVisualEntry(typ string, entry []byte) (*entryInfo, error) {
	if len(entry) < visualSampleEntrySize {
		return nil, errs.Malformed("%s sample entry of %d bytes", typ, len(entry))
	}
	info := &entryInfo{track: media.Track{
		Kind: media.KindVideo, ClockRate: VideoClockRate,
		Width:  int(binary.BigEndian.Uint16(entry[24:])),
		Height: int(binary.BigEndian.Uint16(entry[26:])),
	}}
	children := entry[visualSampleEntrySize:]
	need := func(name string) ([]byte, error) {
		b := findChild(children, name)
		if b == nil {
			return nil, errs.Malformed("%s sample entry without %s", typ, name)
		}
		return b, nil
	}
	t := &info.track
	switch typ {
	case "avc1", "avc3":
		rec, err := need("avcC")
		if err != nil {
			return nil, err
		}
		var c h264.DecoderConfig
		if err := c.Unmarshal(rec); err != nil {
			return nil, errs.Malformed("avcC: %v", err)
		}
		t.Codec, t.Config, info.lengthSize = media.CodecH264, rec, c.LengthSize
		if sps, err := h264.ParseSPS(c.SPS[0]); err == nil && sps.Width > 0 {
			t.Width, t.Height = sps.Width, sps.Height
		}
	case "hvc1", "hev1":
		rec, err := need("hvcC")
		if err != nil {
			return nil, err
		}
		var c h265.DecoderConfig
		if err := c.Unmarshal(rec); err != nil {
			return nil, errs.Malformed("hvcC: %v", err)
		}
		t.Codec, t.Config, info.lengthSize = media.CodecH265, rec, c.LengthSize
		if len(c.SPS) > 0 {
			if sps, err := h265.ParseSPS(c.SPS[0]); err == nil && sps.Width > 0 {
				t.Width, t.Height = sps.Width, sps.Height
			}
		}
	case "av01":
		rec, err := need("av1C")
		if err != nil {
			return nil, err
		}
		c, err := av1.ParseConfig(rec)
		if err != nil {
			return nil, errs.Malformed("av1C: %v", err)
		}
		t.Codec, t.Config = media.CodecAV1, rec
		if c.Width > 0 {
			t.Width, t.Height = c.Width, c.Height
		}
	case "vp09":
		rec, err := need("vpcC")
		if err != nil {
			return nil, err
		}
		if len(rec) < 4 {
			return nil, errs.Malformed("vpcC of %d bytes", len(rec))
		}
		// The box is a FullBox: the record follows version and flags.
		if _, err := vp9.ParseConfig(rec[4:]); err != nil {
			return nil, errs.Malformed("vpcC: %v", err)
		}
		t.Codec, t.Config = media.CodecVP9, rec[4:]
	case "vp08":
		t.Codec = media.CodecVP8
		if rec := findChild(children, "vpcC"); len(rec) > 4 {
			t.Config = rec[4:]
		}
	default:
		return nil, unsupported(media.KindVideo, typ)
	}
	t.Config = append([]byte(nil), t.Config...)
	return info, nil
}

func parseAudioEntry(typ string, entry []byte) (*entryInfo, error) {
	if len(entry) < audioSampleEntrySize {
		return nil, errs.Malformed("%s sample entry of %d bytes", typ, len(entry))
	}
	if _, ok := sampleEntryNames[typ]; ok && typ != "mp4a" && typ != "Opus" && typ != "ac-3" && typ != "ec-3" &&
		typ != "ulaw" && typ != "alaw" && !uncompressed(typ) {
		return nil, unsupported(media.KindAudio, typ)
	}
	sampleBits := int(binary.BigEndian.Uint16(entry[18:]))
	var lpcmFlags uint32
	version := binary.BigEndian.Uint16(entry[8:])
	channels := int(binary.BigEndian.Uint16(entry[16:]))
	rate := int(binary.BigEndian.Uint32(entry[24:]) >> 16)
	children := entry[audioSampleEntrySize:]
	switch version {
	case 0:
	case 1:
		if len(children) < qtSoundV1Extra {
			return nil, errs.Malformed("%s sound description v1 of %d bytes", typ, len(entry))
		}
		children = children[qtSoundV1Extra:]
	case 2:
		if len(children) < qtSoundV2Extra {
			return nil, errs.Malformed("%s sound description v2 of %d bytes", typ, len(entry))
		}
		r := math.Float64frombits(binary.BigEndian.Uint64(children[4:]))
		if r >= 1 && r <= maxSampleRate {
			rate = int(r)
		}
		channels = int(binary.BigEndian.Uint32(children[12:]))
		sampleBits = int(min(binary.BigEndian.Uint32(children[20:]), 64))
		lpcmFlags = binary.BigEndian.Uint32(children[24:])
		children = children[qtSoundV2Extra:]
	default:
		return nil, errs.Malformed("%s sound description version %d", typ, version)
	}
	info := &entryInfo{track: media.Track{Kind: media.KindAudio, SampleRate: rate, Channels: channels}}
	t := &info.track
	switch typ {
	case "mp4a":
		if err := parseEsds(t, findChild(children, "esds")); err != nil {
			return nil, err
		}
	case ".mp3":
		t.Codec = media.CodecMP3
	case "Opus":
		if err := parseDops(t, findChild(children, "dOps")); err != nil {
			return nil, err
		}
	case "ac-3":
		// The sample entry's rate and channels are the stream's
		// (ETSI TS 102 366 Annex F); the frames are whole sync frames.
		t.Codec = media.CodecAC3
	case "ec-3":
		t.Codec = media.CodecEAC3
	case "ulaw", "alaw":
		t.Codec = media.CodecPCMU
		if typ == "alaw" {
			t.Codec = media.CodecPCMA
		}
		info.blockAlign = channels
	default:
		if !uncompressed(typ) {
			return nil, unsupported(media.KindAudio, typ)
		}
		f, err := pcmFormat(typ, sampleBits, lpcmFlags, children)
		if err != nil {
			return nil, errs.UnsupportedCodec(media.KindAudio, fmt.Sprintf("PCM (%s): %v", fourCCString(typ), err), "")
		}
		t.Codec, info.pcm, info.blockAlign = media.CodecPCM, &f, channels*f.BytesPerSample()
	}
	if t.SampleRate <= 0 || t.SampleRate > maxSampleRate || t.Channels <= 0 || t.Channels > maxChannels {
		return nil, errs.Malformed("%s track of %d Hz, %d channels", t.Codec, t.SampleRate, t.Channels)
	}
	if info.blockAlign > 0 && t.Channels > pcm.MaxChannels {
		return nil, errs.Malformed("uncompressed audio of %d channels (at most %d)", t.Channels, pcm.MaxChannels)
	}
	t.ClockRate = t.SampleRate
	return info, nil
}

// uncompressed tells the QuickTime sample entries of linear PCM.
func uncompressed(typ string) bool {
	switch typ {
	case "sowt", "twos", "raw ", "NONE", "in24", "in32", "fl32", "fl64", "lpcm":
		return true
	}
	return false
}

// QuickTime's formatSpecificFlags of an 'lpcm' sound description v2.
const (
	lpcmFloat     = 1 << 0
	lpcmBigEndian = 1 << 1
	lpcmSigned    = 1 << 2
)

// pcmFormat is the sample layout of a QuickTime PCM sample entry: the
// fourCC says it ('sowt' 16-bit little-endian, 'twos' big-endian and
// signed, 'raw ' 8-bit unsigned, 'in24', 'in32', 'fl32', 'fl64'
// big-endian unless an 'enda' atom in 'wave' says little), or, for
// 'lpcm', the flags and bits of the version 2 description.
//
// Specification: QuickTime File Format, "Sound Sample Description
// (Version 2)" and "Endian Atom ('enda')".
func pcmFormat(typ string, bits int, flags uint32, children []byte) (pcm.Layout, error) {
	little := false
	if enda := findChild(children, "enda"); len(enda) >= 2 {
		little = binary.BigEndian.Uint16(enda) != 0
	}
	var f pcm.Layout
	switch typ {
	case "sowt":
		f = pcm.Layout{Bits: bits, Unsigned: bits == 8}
	case "twos":
		f = pcm.Layout{Bits: bits, BigEndian: true}
	case "raw ", "NONE":
		f = pcm.Layout{Bits: 8, Unsigned: true}
	case "in24":
		f = pcm.Layout{Bits: 24, BigEndian: !little}
	case "in32":
		f = pcm.Layout{Bits: 32, BigEndian: !little}
	case "fl32":
		f = pcm.Layout{Bits: 32, Float: true, BigEndian: !little}
	case "fl64":
		f = pcm.Layout{Bits: 64, Float: true, BigEndian: !little}
	case "lpcm":
		f = pcm.Layout{Bits: bits, Float: flags&lpcmFloat != 0, BigEndian: flags&lpcmBigEndian != 0,
			Unsigned: flags&(lpcmFloat|lpcmSigned) == 0}
	}
	return f, f.Valid()
}

// decodeChildBox decodes a child box body with mp4ff.
func decodeChildBox(typ string, body []byte) (mp4ff.Box, error) {
	buf := make([]byte, boxHeaderSize+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(buf)))
	copy(buf[4:], typ)
	copy(buf[boxHeaderSize:], body)
	return decodeBox(buf, 0)
}

// parseEsds reads the decoder configuration of an mp4a entry.
//
// Specification: ISO/IEC 14496-14, section 5.6; ISO/IEC 14496-1, 7.2.6.
func parseEsds(t *media.Track, body []byte) error {
	if body == nil {
		return errs.Malformed("mp4a sample entry without esds")
	}
	b, err := decodeChildBox("esds", body)
	if err != nil {
		return err
	}
	esds, ok := b.(*mp4ff.EsdsBox)
	if !ok || esds.DecConfigDescriptor == nil {
		return errs.Malformed("esds without DecoderConfigDescriptor")
	}
	dcd := esds.DecConfigDescriptor
	switch dcd.ObjectType {
	case otiMPEG4Audio, otiMPEG2AACMain, otiMPEG2AACLC, otiMPEG2AACSSR:
		if dcd.DecSpecificInfo == nil || len(dcd.DecSpecificInfo.DecConfig) == 0 {
			return errs.Malformed("AAC esds without AudioSpecificConfig")
		}
		asc := dcd.DecSpecificInfo.DecConfig
		c, err := aac.ParseConfig(asc)
		if err != nil {
			return errs.Malformed("esds: %v", err)
		}
		t.Codec, t.Config, t.SampleRate = media.CodecAAC, append([]byte(nil), asc...), c.SampleRate
		if c.Channels > 0 {
			t.Channels = c.Channels
		}
	case otiMPEG1Audio, otiMPEG2Audio:
		t.Codec = media.CodecMP3
	default:
		name := otiNames[dcd.ObjectType]
		if name == "" {
			name = "MPEG-4 object type"
		}
		return errs.UnsupportedCodec(media.KindAudio, fmt.Sprintf("%s ('mp4a' object type 0x%02x)", name, dcd.ObjectType), "")
	}
	return nil
}

// parseDops turns an Opus specific box into the OpusHead that Ogg,
// Matroska and decoders use: the same fields, but little-endian and with
// the "OpusHead" magic and version 1.
//
// Specification: Encapsulation of Opus in ISO Base Media File Format,
// section 4.3.2; RFC 7845, section 5.1.
func parseDops(t *media.Track, body []byte) error {
	if body == nil {
		return errs.Malformed("Opus sample entry without dOps")
	}
	b, err := decodeChildBox("dOps", body)
	if err != nil {
		return err
	}
	d, ok := b.(*mp4ff.DopsBox)
	if !ok {
		return errs.Malformed("invalid dOps")
	}
	head := make([]byte, 19, 21+len(d.ChannelMapping))
	copy(head, "OpusHead")
	head[8] = 1
	head[9] = d.OutputChannelCount
	binary.LittleEndian.PutUint16(head[10:], d.PreSkip)
	binary.LittleEndian.PutUint32(head[12:], d.InputSampleRate)
	binary.LittleEndian.PutUint16(head[16:], uint16(d.OutputGain))
	head[18] = d.ChannelMappingFamily
	if d.ChannelMappingFamily != 0 {
		head = append(head, d.StreamCount, d.CoupledCount)
		head = append(head, d.ChannelMapping...)
	}
	h, err := opus.ParseHead(head)
	if err != nil {
		return errs.Malformed("dOps: %v", err)
	}
	t.Codec, t.Config, t.SampleRate, t.Channels = media.CodecOpus, head, opus.ClockRate, h.Channels
	return nil
}

// decodeBox decodes one box with mp4ff. mp4ff is a large parser of
// untrusted input written without fuzzing in mind for every box: a panic
// in it becomes demux.ErrMalformed rather than a crash of the ingress.
func decodeBox(buf []byte, pos int64) (box mp4ff.Box, err error) {
	defer func() {
		if r := recover(); r != nil {
			box, err = nil, errs.Malformed("mp4ff panicked: %v", r)
		}
	}()
	box, err = mp4ff.DecodeBoxSR(uint64(pos), bits.NewFixedSliceReader(buf))
	if err != nil {
		return nil, errs.Malformed("%v", err)
	}
	return box, nil
}
