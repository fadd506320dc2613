package opus

import "errors"

// MaxPacketDuration is the longest an Opus packet may last: 120 ms, in
// 48 kHz samples.
const MaxPacketDuration = 5760

// frameSizes is the duration of one frame per TOC configuration (0–31),
// in 48 kHz samples: SILK 10/20/40/60 ms, Hybrid 10/20 ms, CELT
// 2.5/5/10/20 ms.
var frameSizes = [32]int{
	480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880,
	480, 960, 480, 960,
	120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960,
}

// PacketDuration returns the duration of an Opus packet in 48 kHz samples,
// from its TOC byte (and frame count byte for code 3).
//
// Own code: mediacommon v2.5.0 has none.
//
// Specification: RFC 6716, section 3.1 and 3.2.5; a packet lasts at most
// 120 ms.
func PacketDuration(pkt []byte) (int, error) {
	if len(pkt) < 1 {
		return 0, errors.New("empty Opus packet")
	}
	frames := 1
	switch pkt[0] & 0x03 {
	case 1, 2:
		frames = 2
	case 3:
		if len(pkt) < 2 {
			return 0, errors.New("Opus code 3 packet without frame count")
		}
		frames = int(pkt[1] & 0x3f)
		if frames == 0 {
			return 0, errors.New("Opus code 3 packet with 0 frames")
		}
	}
	d := frames * frameSizes[pkt[0]>>3]
	if d > MaxPacketDuration {
		return 0, errors.New("Opus packet longer than 120 ms")
	}
	return d, nil
}
