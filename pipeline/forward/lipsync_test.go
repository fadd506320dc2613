package forward_test

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/pipeline/forward"
	"github.com/tributary-ingress/tributary/pipeline/pipelinetest"
)

// avSender plays a WebRTC client whose audio and video are captured
// together every 20 ms, the video arriving lead later than the audio.
type avSender struct {
	r      *rig
	rm     *pipelinetest.Room
	lead   time.Duration
	step   time.Duration
	now    time.Duration // since the first capture
	audio  int           // audio packets written
	video  int           // video packets out, with the keyframe if forwarded
	sent   int           // video packets written
	aseq   uint16
	srNTP  uint64 // NTP time of capture 0
	arrive func(c time.Duration) time.Duration
}

const frame = 20 * time.Millisecond

func newAVSender(t *testing.T, lead time.Duration) *avSender {
	r := newRig(t, nil)
	rm := r.publish(t)
	// The keyframe that published the track may have been forwarded.
	return &avSender{r: r, rm: rm, lead: lead, step: 10 * time.Millisecond, srNTP: 3_900_000_000 << 32,
		video: len(rm.RTPVideo().Packets(0))}
}

// reports sends both tracks' sender reports, true to the capture clock
// (capture 0 at srNTP, RTP timestamp 0).
func (s *avSender) reports() {
	s.r.f.SenderReport(false, 0, s.srNTP, 0)
	s.r.f.SenderReport(true, 0, s.srNTP, 0)
}

// run moves the clock on by d, writing each packet as it arrives: the
// audio of capture c at c, its video at c+lead.
func (s *avSender) run(t *testing.T, d time.Duration, check func()) {
	t.Helper()
	for end := s.now + d; s.now < end; {
		for c := time.Duration(s.audio) * frame; c <= s.now; c = time.Duration(s.audio) * frame {
			s.aseq++
			s.r.f.WriteAudioRTP(&rtp.Packet{Header: rtp.Header{SequenceNumber: s.aseq, Timestamp: uint32(c * 48000 / time.Second)},
				Payload: []byte{0xfc, byte(s.audio)}})
			s.audio++
		}
		for c := time.Duration(s.sent) * frame; c+s.lead <= s.now; c = time.Duration(s.sent) * frame {
			s.r.seq[0]++
			s.r.f.WriteVideoRTP(0, &rtp.Packet{Header: rtp.Header{SequenceNumber: s.r.seq[0], Marker: true,
				Timestamp: uint32(c * 90000 / time.Second)}, Payload: vp8Delta})
			s.video++
			s.sent++
		}
		// Video leaves as it arrives.
		require.Len(t, s.rm.RTPVideo().Packets(0), s.video, "video at %v", s.now)
		if check != nil {
			check()
		}
		s.r.clock.Advance(s.step)
		s.now += s.step
		s.settle(t)
	}
}

// settle waits until the packets held wait for a time to come: the fake
// clock's timers are relative to its time when they are set, so a time
// moving on before a timer is set would delay it.
func (s *avSender) settle(t *testing.T) {
	t.Helper()
	pipelinetest.Eventually(t, s.r.f.Settled, "the held packets wait for nothing")
}

// audioOut waits until the audio packets captured up to c have left, and
// checks that no later one has.
func (s *avSender) audioOut(t *testing.T, c time.Duration) {
	t.Helper()
	want := int(c/frame) + 1
	s.settle(t)
	require.InDelta(t, want, len(s.rm.RTPAudio().Packets()), 1, "audio out at %v", s.now)
}

// TestForwardLipSync: audio arriving 150 ms before the video of the same
// capture time (per the sender's reports) is held back by 150 ms after a
// smooth ramp, video leaves as it arrives, and the forwarded sequence
// numbers stay gapless.
func TestForwardLipSync(t *testing.T) {
	s := newAVSender(t, 150*time.Millisecond)
	// Before the reports, audio leaves as it arrives.
	s.run(t, 200*time.Millisecond, nil)
	s.audioOut(t, s.now-s.step)
	s.reports()
	// The delay grows by 1/20 of the time passing: no rush.
	s.run(t, 1500*time.Millisecond, nil)
	s.audioOut(t, s.now-s.step-75*time.Millisecond)
	s.run(t, 3500*time.Millisecond, nil)
	s.audioOut(t, s.now-s.step-150*time.Millisecond)
	out := s.rm.RTPAudio().Packets()
	for i := 1; i < len(out); i++ {
		require.Equal(t, out[i-1].SequenceNumber+1, out[i].SequenceNumber)
	}
	// Stays there.
	s.run(t, time.Second, nil)
	s.audioOut(t, s.now-s.step-150*time.Millisecond)
	packets, _ := s.r.f.Held()
	require.LessOrEqual(t, packets, 8)
}

// TestForwardLipSyncVideoEarly: video arriving early is not held back,
// and neither is the audio.
func TestForwardLipSyncVideoEarly(t *testing.T) {
	s := newAVSender(t, 0)
	s.reports()
	// The video's reports say it was captured 100 ms after the audio of
	// the same arrival: it arrives 100 ms early.
	s.r.f.SenderReport(true, 0, s.srNTP+uint64(100*time.Millisecond)<<32/uint64(time.Second), 0)
	s.run(t, 3*time.Second, func() {
		require.Len(t, s.rm.RTPAudio().Packets(), s.audio, "audio leaves as it arrives")
	})
}

// TestForwardLipSyncHostile: reports that jump, wrap or make no sense
// never hold a track back beyond MaxSyncDelay, and what is held stays
// bounded.
func TestForwardLipSyncHostile(t *testing.T) {
	s := newAVSender(t, 150*time.Millisecond)
	s.reports()
	s.run(t, 4*time.Second, nil)
	// A burst of audio is bounded: the oldest packets leave early.
	for range 5000 {
		s.aseq++
		s.r.f.WriteAudioRTP(&rtp.Packet{Header: rtp.Header{SequenceNumber: s.aseq, Timestamp: uint32(s.now * 48000 / time.Second)},
			Payload: make([]byte, 1200)})
	}
	packets, bytes := s.r.f.Held()
	require.LessOrEqual(t, packets, 256)
	require.LessOrEqual(t, bytes, 256<<10)

	lies := []struct{ ntp, rtp uint64 }{
		{s.srNTP + 10<<32, 0},              // a jump of 10 s
		{s.srNTP, 1<<32 - 48000},           // a wrapped RTP timestamp
		{1<<64 - 1, 0},                     // the end of NTP time
		{0, 1 << 31},                       // the start of it, half an RTP cycle away
		{s.srNTP - 400<<32/1000, 0},        // within the bound, then beyond
		{s.srNTP + 450<<32/1000, 12345678}, //
	}
	for _, l := range lies {
		s.r.f.SenderReport(false, 0, l.ntp, uint32(l.rtp))
		s.run(t, time.Second, func() {
			packets, bytes := s.r.f.Held()
			require.LessOrEqual(t, packets, 256)
			require.LessOrEqual(t, bytes, 256<<10)
		})
		// Nothing is held beyond the bound.
		out := s.rm.RTPAudio().Packets()
		last := time.Duration(out[len(out)-1].Timestamp) * time.Second / 48000
		require.LessOrEqual(t, s.now-last, forward.MaxSyncDelay+frame)
	}
}
