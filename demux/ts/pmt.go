package ts

import (
	"fmt"

	"github.com/asticode/go-astits"

	"github.com/tributary-ingress/tributary/codec/aac"
	"github.com/tributary-ingress/tributary/media"
)

// Stream types and descriptors of the PMT.
//
// Specification: ITU-T Rec. H.222.0, Table 2-34; ATSC A/52 Annex A (AC-3);
// ETSI EN 300 468 Annex D; ETSI TS Opus 0.1.3-draft, section 6.
const (
	streamTypeMPEG1Video = 0x01
	streamTypeMPEG2Video = 0x02
	streamTypeMPEG1Audio = 0x03
	streamTypeMPEG2Audio = 0x04
	streamTypePrivate    = 0x06
	streamTypeADTS       = 0x0f
	streamTypeMPEG4Video = 0x10
	streamTypeLATM       = 0x11
	streamTypeH264       = 0x1b
	streamTypeH265       = 0x24
	streamTypeVVC        = 0x33
	streamTypeCAVS       = 0x42
	streamTypeAC3        = 0x81
	streamTypeDTS        = 0x82
	streamTypeTrueHD     = 0x83
	streamTypeEAC3       = 0x87
	streamTypeDirac      = 0xd1
	streamTypeVC1        = 0xea

	formatOpus = 0x4f707573 // "Opus"
	formatAC3  = 0x41432d33 // "AC-3"
	formatEAC3 = 0x45414333 // "EAC3"

	descriptorExtensionOpus = 0x80
)

// unsupportedTypes names the audio and video stream types we refuse.
var unsupportedTypes = map[astits.StreamType]struct {
	kind media.Kind
	name string
}{
	streamTypeMPEG4Video: {media.KindVideo, "MPEG-4 Part 2 video"},
	streamTypeVVC:        {media.KindVideo, "H.266/VVC"},
	streamTypeCAVS:       {media.KindVideo, "AVS"},
	streamTypeDirac:      {media.KindVideo, "Dirac"},
	streamTypeVC1:        {media.KindVideo, "VC-1"},
	streamTypeDTS:        {media.KindAudio, "DTS"},
	streamTypeTrueHD:     {media.KindAudio, "Dolby TrueHD"},
}

// classify returns the codec of an elementary stream, or the name of an
// unsupported audio/video codec, or neither for data streams.
func classify(es *astits.PMTElementaryStream) (codec media.CodecID, opusChannels int, unsupported error) {
	st := es.StreamType
	switch st {
	case streamTypeH264:
		return media.CodecH264, 0, nil
	case streamTypeH265:
		return media.CodecH265, 0, nil
	case streamTypeADTS, streamTypeLATM:
		return media.CodecAAC, 0, nil // LATM: see stream.latm
	case streamTypeMPEG1Audio, streamTypeMPEG2Audio:
		return media.CodecMP3, 0, nil // or MP2: the layer is read from each frame
	case streamTypeMPEG1Video, streamTypeMPEG2Video:
		return media.CodecMPEG2Video, 0, nil
	case streamTypeAC3:
		return media.CodecAC3, 0, nil // or E-AC-3: the bsid is read from each frame
	case streamTypeEAC3:
		return media.CodecEAC3, 0, nil
	case streamTypePrivate:
		return classifyPrivate(es)
	}
	if u, ok := unsupportedTypes[st]; ok {
		return 0, 0, errs.UnsupportedCodec(u.kind, fmt.Sprintf("%s (stream type 0x%02x)", u.name, uint8(st)), fmt.Sprintf("PID %d", es.ElementaryPID))
	}
	return 0, 0, nil
}

// classifyPrivate looks at the descriptors of a private data stream
// (stream type 0x06), which carries Opus, AC-3 and E-AC-3 as well as
// subtitles and data.
func classifyPrivate(es *astits.PMTElementaryStream) (media.CodecID, int, error) {
	var opus bool
	channels := 0
	for _, desc := range es.ElementaryStreamDescriptors {
		switch {
		case desc.Registration != nil && desc.Registration.FormatIdentifier == formatOpus:
			opus = true
		case desc.Registration != nil && desc.Registration.FormatIdentifier == formatAC3, desc.AC3 != nil:
			return media.CodecAC3, 0, nil // DVB (ETSI EN 300 468 Annex D)
		case desc.Registration != nil && desc.Registration.FormatIdentifier == formatEAC3, desc.EnhancedAC3 != nil:
			return media.CodecEAC3, 0, nil
		case desc.Extension != nil && desc.Extension.Tag == descriptorExtensionOpus && desc.Extension.Unknown != nil && len(*desc.Extension.Unknown) > 0:
			// channel_config_code: 1 and 2 are mono and stereo with
			// mapping family 0; others need a mapping we do not build.
			switch code := (*desc.Extension.Unknown)[0]; code {
			case 1, 2:
				channels = int(code)
			default:
				channels = -int(code) - 1
			}
		}
	}
	if !opus {
		return 0, 0, nil
	}
	if channels < 0 {
		return 0, 0, errs.UnsupportedCodec(media.KindAudio, fmt.Sprintf("Opus with channel_config_code 0x%02x", -channels-1), fmt.Sprintf("PID %d", es.ElementaryPID))
	}
	if channels == 0 {
		channels = 2 // descriptor absent: stereo, as ffmpeg assumes
	}
	return media.CodecOpus, channels, nil
}

// handlePMT sets up the streams of a PMT. PMTs repeat: known PIDs keep
// their state unless their stream type changes.
func (d *Demuxer) handlePMT(pmt *astits.PMTData) error {
	supported := 0
	var lastUnsupported error
	for _, es := range pmt.ElementaryStreams {
		pid := es.ElementaryPID
		if es.StreamType == StreamTypeSCTE35 {
			d.scte35PIDs[pid] = true
			continue
		}
		if s := d.streams[pid]; s != nil && s.streamType == es.StreamType {
			if !s.skip {
				supported++
			}
			continue
		}
		codec, channels, unsup := classify(es)
		switch {
		case unsup != nil && !d.SkipUnsupported:
			return unsup
		case unsup != nil:
			lastUnsupported = unsup
			d.stats.SkippedStreams++
			d.streams[pid] = &stream{pid: pid, streamType: es.StreamType, skip: true}
		case codec != 0:
			supported++
			st := &stream{pid: pid, streamType: es.StreamType, codec: codec, opusChannels: channels}
			if es.StreamType == streamTypeLATM {
				st.latm = &aac.LATM{InBand: true}
			}
			d.streams[pid] = st
		}
	}
	if supported == 0 && lastUnsupported != nil {
		return errs.NoTracks("program %d: %w", pmt.ProgramNumber, lastUnsupported)
	}
	return nil
}
