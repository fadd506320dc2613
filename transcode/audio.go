package transcode

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/livekit/protocol/logger"

	"github.com/tributary-ingress/tributary/ffi"
	"github.com/tributary-ingress/tributary/media"
)

// OpusClockRate is the clock of Opus frames.
const OpusClockRate = 48000

// maxAudioGap is the timestamp jump, in seconds, beyond which the output
// timeline is re-anchored on the input's (a gap or a discontinuity);
// smaller differences are absorbed by counting samples, which keeps the
// 20 ms cadence exact.
const maxAudioGap = 0.1

// AudioConfig configures an Audio transcoder.
type AudioConfig struct {
	Source   *media.Track
	Channels int // 1 or 2
	Bitrate  int // bps
	DTX      bool
	// Output receives Opus frames (PTS in 48 kHz ticks), synchronously from
	// Write.
	Output func(f *media.Frame)
	Logger logger.Logger
}

// Audio decodes any audio and encodes Opus. It is synchronous: Write
// decodes, resamples and encodes on the caller's goroutine (audio costs a
// few percent of a core).
type Audio struct {
	conf  AudioConfig
	log   logger.Logger
	dec   *ffi.AudioDecoder
	res   *ffi.Resampler
	enc   *ffi.OpusEncoder
	track *media.Track

	// lookahead is the encoder's delay in samples: a packet's first decoded
	// sample is that many samples after its first input sample, so the
	// output PTS is moved back by it to keep lip sync exact.
	lookahead int64

	wall time.Time // arrival of the source frame being transcoded

	anchored bool
	anchor   int64 // output PTS (48 kHz) of the first resampled sample
	emitted  int64 // samples produced by the resampler since the anchor
	// errors counts the frames the decoder refused, for the log;
	// errorRun those since the last one it took: a frame damaged by a
	// lost packet is skipped however often that happens over a long
	// session, and only maxAudioErrorRun in a row fail it.
	errors, errorRun int

	// The audio level of the latest 20 ms of PCM encoded (see level).
	levelSum   float64 // squares of the samples of the window so far
	levelCount int     // samples in it (all channels)
	level      uint8   // of the last complete window, RFC 6464 -dBov
}

// NewAudio opens the decoder, resampler and Opus encoder.
func NewAudio(conf AudioConfig) (*Audio, error) {
	if conf.Logger == nil {
		conf.Logger = logger.GetLogger()
	}
	if conf.Channels < 1 || conf.Channels > 2 {
		conf.Channels = 2
	}
	c, err := ffiCodec(conf.Source.Codec)
	if err != nil {
		return nil, fmt.Errorf("audio transcoder: %w", err)
	}
	var opts []ffi.DecoderOption
	if conf.Source.SampleRate > 0 && conf.Source.Channels > 0 {
		opts = append(opts, ffi.WithAudioParams(conf.Source.SampleRate, conf.Source.Channels))
	}
	dec, err := ffi.NewAudioDecoder(c, conf.Source.Config, opts...)
	if err != nil {
		return nil, err
	}
	res, err := ffi.NewResampler(OpusClockRate, conf.Channels, ffi.SampleFormatS16)
	if err != nil {
		dec.Close()
		return nil, err
	}
	enc, err := ffi.NewOpusEncoder(ffi.OpusEncoderConfig{
		Channels: conf.Channels, Bitrate: conf.Bitrate, Format: ffi.SampleFormatS16, DTX: conf.DTX,
	})
	if err != nil {
		dec.Close()
		res.Close()
		return nil, err
	}
	return &Audio{
		conf: conf, log: conf.Logger, dec: dec, res: res, enc: enc, lookahead: int64(enc.Lookahead()),
		track: &media.Track{Kind: media.KindAudio, Codec: media.CodecOpus, ClockRate: OpusClockRate,
			SampleRate: OpusClockRate, Channels: conf.Channels},
	}, nil
}

// maxAudioErrorRun is how many frames in a row the decoder may refuse
// before the audio counts as undecodable (about 10 s of AAC or G.711).
const maxAudioErrorRun = 500

// Track is the output track.
func (a *Audio) Track() *media.Track { return a.track }

// Write transcodes one source frame.
func (a *Audio) Write(f *media.Frame) error {
	a.wall = f.Wall
	for _, d := range f.Data {
		frames, err := a.dec.Decode(d, f.PTS)
		if err != nil {
			a.errors++
			a.errorRun++
			if logCount(a.errors) {
				a.log.Infow("audio decode error (frame skipped)", "error", err.Error(), "count", a.errors, "inARow", a.errorRun)
			}
			if a.errorRun >= maxAudioErrorRun {
				return fmt.Errorf("the audio cannot be decoded (%d frames in a row refused): %w", a.errorRun, err)
			}
			continue
		}
		a.errorRun = 0
		for _, fr := range frames {
			err := a.resample(fr, f.Track.ClockRate)
			fr.Release()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// resample converts one decoded frame and encodes what is ready. Output
// timestamps count samples from an anchor taken on the input timeline, so
// a 44.1 kHz source maps exactly onto the 48 kHz Opus clock.
func (a *Audio) resample(fr *ffi.AudioFrame, srcClock int) error {
	inPTS := media.Rescale(fr.PTS, srcClock, OpusClockRate)
	expected := a.anchor + a.emitted + a.res.Delay()
	if !a.anchored || absInt(inPTS-expected) > int64(maxAudioGap*OpusClockRate) {
		if a.anchored {
			a.log.Debugw("audio timeline re-anchored", "expected", expected, "got", inPTS)
		}
		a.anchored = true
		a.anchor = inPTS - a.res.Delay()
		a.emitted = 0
	}
	pcm, err := a.res.Resample(fr)
	if err != nil {
		return err
	}
	return a.encode(pcm)
}

func (a *Audio) encode(pcm []byte) error {
	if len(pcm) == 0 {
		return nil
	}
	pts := a.anchor + a.emitted
	a.emitted += int64(len(pcm) / (2 * a.conf.Channels))
	a.measure(pcm)
	pkts, err := a.enc.Encode(pcm, pts)
	if err != nil {
		return err
	}
	for _, p := range pkts {
		a.emit(p)
	}
	return nil
}

// Close flushes the resampler and encoder and frees everything.
func (a *Audio) Close() error {
	defer func() {
		a.dec.Close()
		a.res.Close()
		a.enc.Close()
	}()
	if frames, err := a.dec.Flush(); err == nil {
		for _, fr := range frames {
			_ = a.resample(fr, a.conf.Source.ClockRate)
			fr.Release()
		}
	}
	if pcm, err := a.res.Flush(); err == nil {
		if err := a.encode(pcm); err != nil {
			return err
		}
	}
	pkts, err := a.enc.Flush()
	if err != nil {
		return err
	}
	for _, p := range pkts {
		a.emit(p)
	}
	return nil
}

func (a *Audio) emit(p ffi.Packet) {
	pts := p.PTS - a.lookahead
	a.conf.Output(&media.Frame{Track: a.track, PTS: pts, DTS: pts, Key: true, Wall: a.wall, Data: [][]byte{p.Data},
		AudioLevel: a.level, HasAudioLevel: true})
}

// levelWindow is the span the audio level is measured over: one Opus
// frame (20 ms at 48 kHz).
const levelWindow = 960

// measure adds signed 16-bit PCM to the level window and, each time a
// window is complete, sets the level: the RMS of its samples in dB below
// full scale (RFC 6464: -dBov, 0 loudest, 127 silence). A packet carries
// the level of the last complete window, at most 20 ms older than its own
// audio: LiveKit averages levels over hundreds of milliseconds to decide
// who speaks.
func (a *Audio) measure(pcm []byte) {
	window := levelWindow * a.conf.Channels
	for i := 0; i+1 < len(pcm); i += 2 {
		v := float64(int16(binary.LittleEndian.Uint16(pcm[i:])))
		a.levelSum += v * v
		a.levelCount++
		if a.levelCount == window {
			a.level = dBov(a.levelSum / float64(window))
			a.levelSum, a.levelCount = 0, 0
		}
	}
}

// dBov converts a mean square of 16-bit samples into an RFC 6464 level.
func dBov(meanSquare float64) uint8 {
	if meanSquare <= 0 {
		return 127
	}
	db := -10 * math.Log10(meanSquare/(32768*32768))
	return uint8(math.Round(min(max(db, 0), 127)))
}

func absInt(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
