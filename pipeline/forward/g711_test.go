package forward_test

import (
	"math"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/media"
	"github.com/tributary-ingress/tributary/pipeline"
	"github.com/tributary-ingress/tributary/pipeline/forward"
	"github.com/tributary-ingress/tributary/pipeline/pipelinetest"
	"github.com/tributary-ingress/tributary/transcode"
)

// audioTranscoders makes the real audio transcoder (libavcodec), as the
// server's in-process transcoders do; a forwarding session makes no
// other.
type audioTranscoders struct{}

func (audioTranscoders) NewVideo(pipeline.VideoTranscodeConfig) (pipeline.VideoTranscoder, error) {
	panic("a forwarding session transcodes no video")
}

func (audioTranscoders) NewAudio(c pipeline.AudioTranscodeConfig) (pipeline.AudioTranscoder, error) {
	return transcode.NewAudio(transcode.AudioConfig{Source: c.Source, Channels: c.Channels, Bitrate: c.Bitrate,
		DTX: c.DTX, Output: c.Output, Logger: c.Logger})
}

func (audioTranscoders) Unavailable() error { return transcode.Unavailable() }

// alaw encodes a 16-bit sample as G.711 A-law (ITU-T G.711, segment
// search as in the reference implementation).
func alaw(s int16) byte {
	v := int(s) >> 3
	mask := byte(0xd5)
	if v < 0 {
		mask, v = 0x55, -v-1
	}
	seg := 0
	for seg < 8 && v > 0x1f<<seg {
		seg++
	}
	if seg == 8 {
		return 0x7f ^ mask
	}
	a := byte(seg << 4)
	if seg < 2 {
		a |= byte(v>>1) & 0x0f
	} else {
		a |= byte(v>>seg) & 0x0f
	}
	return a ^ mask
}

// toneAlaw is 20 ms of a 440 Hz tone at half scale as A-law, packet n of
// the stream.
func toneAlaw(n int) []byte {
	out := make([]byte, 160)
	for i := range out {
		t := float64(n*160+i) / 8000
		out[i] = alaw(int16(16384 * math.Sin(2*math.Pi*440*t)))
	}
	return out
}

// TestForwardG711: a source whose audio is G.711 (PCMA) gets an Opus
// track while its video is forwarded. Every Opus packet is written while
// the G.711 packet that completes it is written (nothing waits: the room's
// sender reports date the audio by when it is sent), 20 to 30 ms of
// audio after its own start (its 20 ms, the encoder's look-ahead), 20 ms
// apart, also across a lost packet. The tone is heard (audio level), the
// input state says PCMA, and the counters count G.711 in and Opus out.
func TestForwardG711(t *testing.T) {
	pcma := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}
	r := newTranscodingRig(t, nil, audioTranscoders{})
	if !transcode.Available {
		// The passthrough build cannot transcode: the WHIP input does not
		// negotiate G.711, and a forwarder told it anyway refuses it.
		require.False(t, r.f.TranscodesAudio())
		require.ErrorContains(t, r.f.Configure(forward.Media{Audio: &pcma}), "audio/PCMA audio must be transcoded to Opus")
		return
	}
	require.True(t, r.f.TranscodesAudio())
	require.NoError(t, r.f.Configure(forward.Media{
		Video:           &forward.NegotiatedVideo{Codec: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, Layers: 1},
		Audio:           &pcma,
		RequestKeyframe: r.src.RequestKeyframe,
	}))
	r.video(0, vp8Key360)
	rm := r.rooms.WaitRoom(t, 1)
	pipelinetest.Eventually(t, func() bool { return rm.Audio() != nil && rm.RTPVideo() != nil }, "published")
	require.Nil(t, rm.RTPAudio(), "G.711 is not forwarded")
	sink := rm.Audio()
	require.Equal(t, 2, sink.Spec.Channels, "the ingress's default audio preset: Opus stereo")
	r.video(0, vp8Delta)
	require.Len(t, rm.RTPVideo().Packets(0), 1, "the video is forwarded")

	const base = 1234567 // the source's first RTP timestamp
	seq := uint16(100)
	// wait is, for each Opus packet, how much audio time separates its
	// start from the start of the G.711 packet whose write produced it
	// (packet n starts at n × 960 at 48 kHz on the session's timeline).
	var wait []int64
	written := 0
	send := func(n int) {
		r.clock.Advance(20 * time.Millisecond)
		seq++
		r.f.WriteAudioRTP(&rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: uint32(base + n*160)}, Payload: toneAlaw(n)})
		frames := sink.Frames()
		for _, f := range frames[written:] {
			wait = append(wait, int64(n*960)-f.PTS)
		}
		written = len(frames)
	}
	for n := range 50 {
		send(n)
	}
	// Packet 50 is lost.
	for n := 51; n < 60; n++ {
		send(n)
	}
	frames := sink.Frames()
	require.GreaterOrEqual(t, len(frames), 56, "one Opus packet per G.711 packet once the encoder has started")
	for i, f := range frames {
		require.Equal(t, media.CodecOpus, f.Track.Codec)
		require.Equal(t, transcode.OpusClockRate, f.Track.ClockRate)
		if i > 0 {
			require.Equal(t, frames[i-1].PTS+960, f.PTS, "20 ms apart")
		}
		if i < 48 { // before the loss
			require.GreaterOrEqual(t, wait[i], int64(960), "Opus packet %d: its 20 ms were there", i)
			require.LessOrEqual(t, wait[i], int64(1440), "Opus packet %d left at most 30 ms after its start", i)
		}
	}
	t.Logf("an Opus packet leaves %.1f ms of audio after its start", float64(wait[10])/48)
	last := frames[len(frames)-1]
	require.True(t, last.HasAudioLevel)
	require.Less(t, int(last.AudioLevel), 20, "the tone (-9 dBov) is heard, not silence (127)")

	_, audioIn := r.stats.InputBytes()
	require.Equal(t, int64(59*160), audioIn, "G.711 in")
	_, audioOut := r.stats.OutputBytes()
	require.Positive(t, audioOut, "Opus out")
	// The input state, refreshed every 5 s, measures the G.711 bitrate.
	r.clock.Run(t, 100*time.Millisecond, 10*time.Second, func() bool {
		_, as := r.rep.Input()
		return as.GetAverageBitrate() > 0
	})
	_, as := r.rep.Input()
	require.Equal(t, "audio/PCMA", as.GetMimeType())
	require.Equal(t, uint32(8000), as.GetSampleRate())
	require.Equal(t, uint32(1), as.GetChannels())
	require.Positive(t, as.GetAverageBitrate())
}
