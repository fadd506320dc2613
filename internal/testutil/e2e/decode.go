package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/pion/rtp/codecs"

	"github.com/tributary-ingress/tributary/ffi"
)

// Decoding of captured packets (see [Subscriber.CapturePackets]) into what
// a viewer sees and hears, with libavcodec through the ffi package: the
// mean brightness of every picture, and the onsets of sounds.

// DecodedPicture is one decoded video picture.
type DecodedPicture struct {
	// RTPTime is the RTP timestamp of the access unit.
	RTPTime uint32
	// Arrival is when the last packet of the access unit arrived.
	Arrival time.Time
	// Luma is the mean luma (0–255) of the picture, sampled on a grid.
	Luma float64
	// Width and Height of the decoded picture.
	Width, Height int
	// Stamp is the frame number read from the picture's stamp (see
	// [StampFilter]), -1 when it has none or it is unreadable.
	Stamp int
}

// AudioOnset is the start of a sound after silence in a decoded audio
// stream.
type AudioOnset struct {
	// RTPTime is the RTP timestamp of the first sample above the threshold:
	// the packet's timestamp plus the sample's offset in the packet.
	RTPTime uint32
	// Arrival is when the packet holding that sample arrived.
	Arrival time.Time
	// Level is the absolute sample value (full scale 1) that crossed the
	// threshold.
	Level float64
}

// orderedPackets returns the packets with payload sorted by extended
// sequence number, duplicates (retransmissions) removed.
func orderedPackets(pkts []CapturedPacket) []CapturedPacket {
	type item struct {
		ext int64
		p   CapturedPacket
	}
	items := make([]item, 0, len(pkts))
	var last int64
	for i, p := range pkts {
		seq := p.Packet.SequenceNumber
		var ext int64
		if i == 0 {
			ext = int64(seq)
		} else {
			ext = last + int64(int16(seq-uint16(last)))
		}
		last = ext
		if len(p.Packet.Payload) == 0 {
			continue
		}
		items = append(items, item{ext: ext, p: p})
	}
	slices.SortStableFunc(items, func(a, b item) int {
		switch {
		case a.ext < b.ext:
			return -1
		case a.ext > b.ext:
			return 1
		}
		return 0
	})
	out := make([]CapturedPacket, 0, len(items))
	for i, it := range items {
		if i > 0 && it.ext == items[i-1].ext {
			continue
		}
		out = append(out, it.p)
	}
	return out
}

// DecodeH264Pictures depacketizes captured H.264 packets (RFC 6184),
// decodes them with libavcodec and returns every decoded picture in
// decoding order. Access units that fail to decode (before the first
// keyframe, after a loss) are skipped.
func DecodeH264Pictures(pkts []CapturedPacket) ([]DecodedPicture, error) {
	return decodePictures(pkts, ffi.CodecH264, func() rtpDepacketizer { return &codecs.H264Packet{} })
}

// DecodeVP8Pictures is [DecodeH264Pictures] for VP8 (RFC 7741).
func DecodeVP8Pictures(pkts []CapturedPacket) ([]DecodedPicture, error) {
	return decodePictures(pkts, ffi.CodecVP8, func() rtpDepacketizer { return &codecs.VP8Packet{} })
}

// rtpDepacketizer is what pion's codecs packets have in common.
type rtpDepacketizer interface {
	Unmarshal(payload []byte) ([]byte, error)
}

func decodePictures(pkts []CapturedPacket, codec ffi.Codec, newDepack func() rtpDepacketizer) ([]DecodedPicture, error) {
	dec, err := ffi.NewVideoDecoder(codec, nil)
	if err != nil {
		return nil, fmt.Errorf("%s decoder: %w", codec, err)
	}
	defer dec.Close()

	var (
		out     []DecodedPicture
		depack  = newDepack()
		au      []byte
		auTS    uint32
		auLast  time.Time
		haveAU  bool
		arrival = map[int64]time.Time{} // pts → arrival of the AU's last packet
		ext     int64                   // extended RTP time of the current AU
		haveExt bool
		lastSeq uint16
		haveSeq bool
	)
	takeFrames := func(frames []*ffi.VideoFrame) {
		for _, f := range frames {
			out = append(out, DecodedPicture{
				RTPTime: uint32(f.PTS), Arrival: arrival[f.PTS],
				Luma: meanLuma(f), Width: f.Width(), Height: f.Height(),
				Stamp: ReadStamp(f.Planes()[0], f.Strides()[0], f.Width(), f.Height()),
			})
			delete(arrival, f.PTS)
			f.Release()
		}
	}
	flushAU := func() {
		if !haveAU || len(au) == 0 {
			haveAU, au = false, au[:0]
			return
		}
		arrival[ext] = auLast
		frames, derr := dec.Decode(au, ext)
		if derr == nil {
			takeFrames(frames)
		}
		haveAU, au = false, au[:0]
	}
	for _, p := range orderedPackets(pkts) {
		pkt := p.Packet
		if haveSeq && pkt.SequenceNumber != lastSeq+1 {
			depack = newDepack() // a gap: drop the partial NAL unit
		}
		haveSeq, lastSeq = true, pkt.SequenceNumber
		if haveAU && pkt.Timestamp != auTS {
			flushAU()
		}
		if !haveAU {
			// A fragmented NAL unit never spans access units (RFC 6184,
			// 5.8): what a depacketizer holds of the previous one is the
			// rest of a picture cut short — LiveKit switching a viewer to
			// another layer mid-picture — and pion's FU-A reassembly
			// would prepend it to this unit's first fragmented NAL (an
			// IDR whose slice data is the cut P-picture's: "Invalid inter
			// IDR frame", and nothing decodes until the next keyframe).
			depack = newDepack()
			if haveExt {
				ext += int64(int32(pkt.Timestamp - auTS))
			} else {
				ext, haveExt = int64(pkt.Timestamp), true
			}
			haveAU, auTS = true, pkt.Timestamp
		}
		nal, derr := depack.Unmarshal(pkt.Payload)
		if derr != nil {
			depack = newDepack()
			continue
		}
		au = append(au, nal...)
		auLast = p.Arrival
		if pkt.Marker {
			flushAU()
		}
	}
	flushAU()
	frames, err := dec.Flush()
	if err == nil {
		takeFrames(frames)
	}
	return out, nil
}

// meanLuma averages the luma plane on a grid of every 8th row and column
// (enough for a flash, cheap under the race detector).
func meanLuma(f *ffi.VideoFrame) float64 {
	y := f.Planes()[0]
	stride := f.Strides()[0]
	w, h := f.Width(), f.Height()
	var sum, n int
	for row := 0; row < h; row += 8 {
		line := y[row*stride : row*stride+w]
		for col := 0; col < w; col += 8 {
			sum += int(line[col])
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(sum) / float64(n)
}

// Flashes returns the pictures whose mean luma rises to at least threshold
// from below it in the previous picture.
func Flashes(pics []DecodedPicture, threshold float64) []DecodedPicture {
	var out []DecodedPicture
	for i := 1; i < len(pics); i++ {
		if pics[i].Luma >= threshold && pics[i-1].Luma < threshold {
			out = append(out, pics[i])
		}
	}
	return out
}

// DecodeOpusOnsets decodes captured Opus packets (48 kHz RTP clock) and
// returns every onset: the first sample whose absolute value reaches
// threshold (full scale 1) after at least quiet of samples below it.
func DecodeOpusOnsets(pkts []CapturedPacket, threshold float64, quiet time.Duration) ([]AudioOnset, error) {
	const rate = 48000
	dec, err := ffi.NewAudioDecoder(ffi.CodecOpus, nil, ffi.WithAudioParams(rate, 2))
	if err != nil {
		return nil, fmt.Errorf("opus decoder: %w", err)
	}
	defer dec.Close()

	quietSamples := int64(quiet.Seconds() * rate)
	var (
		out        []AudioOnset
		below      = quietSamples // samples below threshold so far; a sound at the very start counts
		haveSeq    bool
		lastSeq    uint16
		lastTS     uint32
		haveTS     bool
		decodeErrs int
	)
	for _, p := range orderedPackets(pkts) {
		pkt := p.Packet
		if haveSeq && pkt.SequenceNumber != lastSeq+1 {
			below = 0 // unknown what was lost: do not call the next sound an onset
		}
		haveSeq, lastSeq = true, pkt.SequenceNumber
		if haveTS && int32(pkt.Timestamp-lastTS) <= 0 {
			continue
		}
		frames, derr := dec.Decode(pkt.Payload, int64(pkt.Timestamp))
		if derr != nil {
			decodeErrs++
			continue
		}
		var offset int // samples decoded from this packet so far
		for _, f := range frames {
			levels, lerr := sampleLevels(f)
			f.Release()
			if lerr != nil {
				return nil, lerr
			}
			for i, v := range levels {
				if v < threshold {
					below++
					continue
				}
				if below >= quietSamples {
					out = append(out, AudioOnset{
						RTPTime: pkt.Timestamp + uint32(offset+i), Arrival: p.Arrival, Level: v,
					})
				}
				below = 0
			}
			offset += len(levels)
		}
		haveTS, lastTS = true, pkt.Timestamp
	}
	if decodeErrs > 0 && len(out) == 0 {
		return nil, fmt.Errorf("opus decoder: %d packets failed to decode and no onset found", decodeErrs)
	}
	return out, nil
}

// sampleLevels returns, per sample, the largest absolute value over the
// channels, full scale 1.
func sampleLevels(f *ffi.AudioFrame) ([]float64, error) {
	n, ch := f.NumSamples(), f.Channels()
	planes := f.Planes()
	out := make([]float64, n)
	get := func(plane []byte, idx int, format ffi.SampleFormat) float64 {
		switch format {
		case ffi.SampleFormatFLT, ffi.SampleFormatFLTP:
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(plane[4*idx:])))
		case ffi.SampleFormatS16, ffi.SampleFormatS16P:
			return float64(int16(binary.LittleEndian.Uint16(plane[2*idx:]))) / 32768
		}
		return 0
	}
	format := f.Format()
	switch format {
	case ffi.SampleFormatFLT, ffi.SampleFormatFLTP, ffi.SampleFormatS16, ffi.SampleFormatS16P:
	default:
		return nil, fmt.Errorf("opus decoder: unexpected sample format %s", format)
	}
	if len(planes) == 0 {
		return nil, errors.New("opus decoder: frame without data")
	}
	for i := range n {
		var peak float64
		for c := range ch {
			var v float64
			if format.Planar() {
				v = get(planes[c], i, format)
			} else {
				v = get(planes[0], i*ch+c, format)
			}
			peak = max(peak, math.Abs(v))
		}
		out[i] = peak
	}
	return out, nil
}

// Tone is what a listener hears of a steady tone in decoded audio.
type Tone struct {
	// Frequency in Hz (see ToneFrequency).
	Frequency float64
	// RMS is the root mean square of the first channel's samples, full
	// scale 1.
	RMS float64
	// Seconds of audio decoded after the skip.
	Seconds float64
}

// DecodeOpusTone decodes captured Opus packets (48 kHz RTP clock) and
// measures the tone of the first channel after the first skip of audio
// (the encoder's start): its level, and its pitch over the windows at
// least half as loud as the whole.
func DecodeOpusTone(pkts []CapturedPacket, skip time.Duration) (Tone, error) {
	const rate = 48000
	samples, err := DecodeOpusChannel(pkts)
	if err != nil {
		return Tone{}, err
	}
	samples = samples[min(len(samples), int(skip.Seconds()*rate)):]
	if len(samples) < rate/10 {
		return Tone{}, fmt.Errorf("opus: %d samples decoded after %v: no tone", len(samples), skip)
	}
	var sumSq float64
	for _, v := range samples {
		sumSq += v * v
	}
	t := Tone{RMS: math.Sqrt(sumSq / float64(len(samples))), Seconds: float64(len(samples)) / rate}
	hz, windows := ToneFrequency(samples, rate, t.RMS/2)
	if windows == 0 {
		return t, fmt.Errorf("opus: silence (%.4f RMS): no tone", t.RMS)
	}
	t.Frequency = hz
	return t, nil
}
