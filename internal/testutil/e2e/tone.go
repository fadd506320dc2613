package e2e

import (
	"fmt"
	"math"

	"github.com/tributary-ingress/tributary/ffi"
)

// DecodeOpusChannel decodes captured Opus packets (48 kHz RTP clock) in
// RTP order and returns the first channel's samples, full scale 1. Lost
// packets are not filled in.
func DecodeOpusChannel(pkts []CapturedPacket) ([]float64, error) {
	const rate = 48000
	dec, err := ffi.NewAudioDecoder(ffi.CodecOpus, nil, ffi.WithAudioParams(rate, 2))
	if err != nil {
		return nil, fmt.Errorf("opus decoder: %w", err)
	}
	defer dec.Close()
	var out []float64
	var lastTS uint32
	haveTS, decodeErrs := false, 0
	for _, p := range orderedPackets(pkts) {
		pkt := p.Packet
		if haveTS && int32(pkt.Timestamp-lastTS) <= 0 {
			continue
		}
		frames, derr := dec.Decode(pkt.Payload, int64(pkt.Timestamp))
		if derr != nil {
			decodeErrs++
			continue
		}
		for _, f := range frames {
			s, err := firstChannel(f)
			f.Release()
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		haveTS, lastTS = true, pkt.Timestamp
	}
	if decodeErrs > 0 && len(out) == 0 {
		return nil, fmt.Errorf("opus decoder: %d packets failed to decode", decodeErrs)
	}
	return out, nil
}

func firstChannel(f *ffi.AudioFrame) ([]float64, error) {
	n, ch, format, planes := f.NumSamples(), f.Channels(), f.Format(), f.Planes()
	if len(planes) == 0 || ch == 0 {
		return nil, fmt.Errorf("opus decoder: frame without data")
	}
	step := ch
	if format.Planar() {
		step = 1
	}
	out := make([]float64, n)
	for i := range n {
		switch format {
		case ffi.SampleFormatFLT, ffi.SampleFormatFLTP:
			out[i] = float64(math.Float32frombits(leUint32(planes[0][4*i*step:])))
		case ffi.SampleFormatS16, ffi.SampleFormatS16P:
			out[i] = float64(int16(uint16(planes[0][2*i*step])|uint16(planes[0][2*i*step+1])<<8)) / 32768
		default:
			return nil, fmt.Errorf("opus decoder: unexpected sample format %s", format)
		}
	}
	return out, nil
}

func leUint32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// ToneFrequency measures the pitch of the loud parts of a signal: in
// every run of 10 ms windows whose RMS reaches minRMS, it finds the zero
// crossings (with a hysteresis of minRMS/2, so that the noise around zero
// at a sound's edges does not count) and measures the half periods from
// the first crossing to the last. It returns the mean frequency in Hz and
// the number of loud windows.
func ToneFrequency(samples []float64, rate int, minRMS float64) (hz float64, windows int) {
	w := rate / 100
	h := minRMS / 2
	var halfPeriods, span int
	// state is the sign of the signal beyond the hysteresis; first and
	// last are the sample indexes of the run's first and last crossings.
	state, first, last, n := 0, 0, 0, 0
	endRun := func() {
		if n > 1 {
			halfPeriods += n - 1
			span += last - first
		}
		state, n = 0, 0
	}
	for start := 0; start+w <= len(samples); start += w {
		win := samples[start : start+w]
		var sum float64
		for _, v := range win {
			sum += v * v
		}
		if math.Sqrt(sum/float64(w)) < minRMS {
			endRun()
			continue
		}
		windows++
		for i, v := range win {
			s := 0
			switch {
			case v > h:
				s = 1
			case v < -h:
				s = -1
			default:
				continue
			}
			if state != 0 && s != state {
				if n == 0 {
					first = start + i
				}
				last = start + i
				n++
			}
			state = s
		}
	}
	endRun()
	if span == 0 {
		return 0, windows
	}
	return float64(halfPeriods) / 2 / (float64(span) / float64(rate)), windows
}
