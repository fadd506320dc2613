package flv

import (
	"math"
)

// Metadata is what an onMetaData script tag says about the stream. It is
// informational: tracks are set up from the sequence headers, which are
// authoritative. Zero values mean "not given".
type Metadata struct {
	Width, Height float64
	FrameRate     float64
	// VideoDataRate and AudioDataRate are in kbit/s.
	VideoDataRate, AudioDataRate float64
	// VideoCodecID and AudioCodecID are the FLV codec id (7 for AVC, 10
	// for AAC) or, with Enhanced RTMP, a FourCC such as 'hvc1' as a
	// number.
	VideoCodecID, AudioCodecID uint32
	AudioSampleRate            float64
	AudioChannels              int
	Encoder                    string
	// Properties holds every top-level property of the metadata object
	// as decoded from AMF0.
	Properties map[string]any
}

// WriteScriptData demuxes a script data tag (RTMP data message, type 18).
// It reports onMetaData, also when wrapped in "@setDataFrame" as RTMP
// publishers send it, through OnMetadata; other script tags are ignored.
func (d *Demuxer) WriteScriptData(body []byte) error {
	if d.OnMetadata == nil {
		return nil
	}
	if len(body) > MaxTagSize {
		return errs.OverLimit("script tag of %d bytes exceeds %d", len(body), MaxTagSize)
	}
	dec := amf0Decoder{buf: body}
	name, _ := dec.value(0).(string)
	if name == "@setDataFrame" {
		name, _ = dec.value(0).(string)
	}
	if dec.err != nil {
		return dec.err
	}
	if name != "onMetaData" {
		return nil
	}
	props, _ := dec.value(0).(map[string]any)
	if dec.err != nil {
		return dec.err
	}
	m := &Metadata{Properties: props}
	num := func(k string) float64 {
		v, _ := props[k].(float64)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0
		}
		return v
	}
	m.Width, m.Height = num("width"), num("height")
	m.FrameRate = num("framerate")
	if m.FrameRate == 0 {
		m.FrameRate = num("fps")
	}
	m.VideoDataRate, m.AudioDataRate = num("videodatarate"), num("audiodatarate")
	m.VideoCodecID = codecIDOf(props["videocodecid"])
	m.AudioCodecID = codecIDOf(props["audiocodecid"])
	m.AudioSampleRate = num("audiosamplerate")
	if c := num("audiochannels"); c > 0 && c < 256 {
		m.AudioChannels = int(c)
	} else if stereo, ok := props["stereo"].(bool); ok {
		m.AudioChannels = 1
		if stereo {
			m.AudioChannels = 2
		}
	}
	m.Encoder, _ = props["encoder"].(string)
	return d.OnMetadata(m)
}

// codecIDOf reads a codec id given as a number or, as some Enhanced RTMP
// publishers do, as a FourCC string.
func codecIDOf(v any) uint32 {
	switch v := v.(type) {
	case float64:
		if v >= 0 && v <= math.MaxUint32 {
			return uint32(v)
		}
	case string:
		if len(v) == 4 {
			return fourCC(v)
		}
	}
	return 0
}
