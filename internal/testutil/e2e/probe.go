package e2e

import (
	"crypto/sha1"
	"maps"
	"slices"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// Probes for measurements that need more than [TrackStats]: the packets
// themselves (to decode what a viewer would see and hear), the RTCP sender
// reports that map each stream's RTP clock to the sender's wall clock (what
// a receiver uses for lip sync), and the arrival time of each H.264 slice
// (to match a received frame to the moment the source sent it).

const (
	// maxCapturedPackets bounds the packets kept per track by
	// [Subscriber.CapturePackets] (about 3 min of 720p video).
	maxCapturedPackets = 100_000
	// maxSenderReports bounds the sender reports kept per track (one every
	// second or so: hours).
	maxSenderReports = 10_000
)

// CapturedPacket is one RTP packet as the [Subscriber] received it.
type CapturedPacket struct {
	// Arrival is the wall-clock time ReadRTP returned the packet.
	Arrival time.Time
	// Packet is a deep copy of the packet.
	Packet *rtp.Packet
}

// SenderReport is an RTCP sender report received on a subscribed track:
// the sender's (here the SFU's) statement that RTPTime corresponds to NTP
// on its wall clock.
type SenderReport struct {
	// Arrival is the wall-clock time the report was received.
	Arrival time.Time
	// SSRC is the stream the report describes.
	SSRC uint32
	// NTP is the report's NTP timestamp as a time.
	NTP time.Time
	// RTPTime is the RTP timestamp that corresponds to NTP.
	RTPTime uint32
	// PacketCount and OctetCount are the sender's counters.
	PacketCount, OctetCount uint32
}

// packetCapture keeps copies of the packets of one track. A nil capture
// keeps nothing. Access is serialized by the Subscriber's mutex.
type packetCapture struct {
	packets []CapturedPacket
	dropped int
}

// add keeps a copy of pkt.
func (c *packetCapture) add(pkt *rtp.Packet, now time.Time) {
	if c == nil {
		return
	}
	if len(c.packets) >= maxCapturedPackets {
		c.dropped++
		return
	}
	c.packets = append(c.packets, CapturedPacket{Arrival: now, Packet: pkt.Clone()})
}

// CapturePackets makes the subscriber keep a copy of every RTP packet of
// the tracks it subscribes to from now on (and of those already
// subscribed, from now on), for [Subscriber.Packets]. Call it before the
// publisher starts so that nothing is missed.
func (s *Subscriber) CapturePackets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.capturing = true
	for _, e := range s.tracks {
		if e.rec.capture == nil {
			e.rec.capture = &packetCapture{}
		}
	}
}

// Packets returns the packets captured on a track so far, in arrival order
// (see [Subscriber.CapturePackets]), and how many were not kept because
// the bound was reached.
func (s *Subscriber) Packets(trackSID string) (pkts []CapturedPacket, dropped int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.tracks[trackSID]
	if !ok || e.rec.capture == nil {
		return nil, 0
	}
	return slices.Clone(e.rec.capture.packets), e.rec.capture.dropped
}

// SenderReports returns the RTCP sender reports received on a track for
// the SSRC the subscriber receives, in arrival order.
func (s *Subscriber) SenderReports(trackSID string) []SenderReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.tracks[trackSID]
	if !ok {
		return nil
	}
	return slices.Clone(e.rec.senderReports)
}

// SliceArrivals returns, for every H.264 slice NAL unit received on a track
// (keyed by SHA-1, like [Subscriber.SliceHashes]), the wall-clock arrival
// time of the packet that completed its first copy.
func (s *Subscriber) SliceArrivals(trackSID string) map[[sha1.Size]byte]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.tracks[trackSID]
	if !ok {
		return nil
	}
	return maps.Clone(e.rec.sliceArrivals)
}

// onRTCP records the sender reports of a subscribed track. It runs on the
// SDK's RTCP reader goroutine.
func (s *Subscriber) onRTCP(e *trackEntry, p rtcp.Packet, now time.Time) {
	sr, ok := p.(*rtcp.SenderReport)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ssrc := e.rec.stats.SSRC; ssrc != 0 && sr.SSRC != ssrc {
		return
	}
	if len(e.rec.senderReports) >= maxSenderReports {
		return
	}
	e.rec.senderReports = append(e.rec.senderReports, SenderReport{
		Arrival: now, SSRC: sr.SSRC, NTP: NTPTime(sr.NTPTime), RTPTime: sr.RTPTime,
		PacketCount: sr.PacketCount, OctetCount: sr.OctetCount,
	})
}

// ntpEpochOffset is the number of seconds from 1900-01-01 (the NTP era 0
// epoch) to 1970-01-01.
const ntpEpochOffset = 2_208_988_800

// NTPTime converts a 64-bit NTP timestamp (seconds since 1900 in the high
// 32 bits, binary fraction in the low 32) to a time.
func NTPTime(ntp uint64) time.Time {
	secs := int64(ntp>>32) - ntpEpochOffset
	nsec := (int64(ntp&0xffff_ffff) * int64(time.Second)) >> 32
	return time.Unix(secs, nsec)
}

// SenderClock converts an RTP timestamp of a stream to the sender's wall
// clock, the way a receiver does for lip sync: from the sender report whose
// RTP time is nearest, plus the RTP difference at clockRate. It reports
// false when there is no sender report.
func SenderClock(srs []SenderReport, rtpTime, clockRate uint32) (time.Time, bool) {
	if len(srs) == 0 || clockRate == 0 {
		return time.Time{}, false
	}
	best := srs[0]
	bestDiff := absInt64(int64(int32(rtpTime - best.RTPTime)))
	for _, sr := range srs[1:] {
		if d := absInt64(int64(int32(rtpTime - sr.RTPTime))); d < bestDiff {
			best, bestDiff = sr, d
		}
	}
	diff := int64(int32(rtpTime - best.RTPTime))
	return best.NTP.Add(time.Duration(diff * int64(time.Second) / int64(clockRate))), true
}

func absInt64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// receiverSRWindow is how many of the latest sender reports a receiver
// fits its RTP→NTP estimate over (libwebrtc's RtpToNtpEstimator keeps 20).
const receiverSRWindow = 20

// ReceiverClock converts an RTP timestamp of a stream to the sender's wall
// clock the way libwebrtc's receiver does for lip sync: a least-squares
// line through the (RTP, NTP) pairs of the last sender reports received by
// the time at (at most 20), so that one report skewed by send jitter moves
// the estimate only a little. With a single report it maps from that one.
// It reports false when no report had arrived by at.
func ReceiverClock(srs []SenderReport, rtpTime, clockRate uint32, at time.Time) (time.Time, bool) {
	var use []SenderReport
	for _, sr := range srs {
		if !sr.Arrival.After(at) {
			use = append(use, sr)
		}
	}
	if len(use) > receiverSRWindow {
		use = use[len(use)-receiverSRWindow:]
	}
	if len(use) == 0 || clockRate == 0 {
		return time.Time{}, false
	}
	if len(use) == 1 {
		return SenderClock(use, rtpTime, clockRate)
	}
	// Fit ntp = a + b·rtp in seconds relative to the newest report, RTP
	// unwrapped relative to it too.
	ref := use[len(use)-1]
	var sx, sy, sxx, sxy float64
	n := float64(len(use))
	for _, sr := range use {
		x := float64(int32(sr.RTPTime-ref.RTPTime)) / float64(clockRate)
		y := sr.NTP.Sub(ref.NTP).Seconds()
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return SenderClock(use, rtpTime, clockRate)
	}
	b := (n*sxy - sx*sy) / den
	a := (sy - b*sx) / n
	x := float64(int32(rtpTime-ref.RTPTime)) / float64(clockRate)
	return ref.NTP.Add(time.Duration((a + b*x) * float64(time.Second))), true
}
