package ingress

import (
	"crypto/rand"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/guid"
)

// ID prefixes, as LiveKit names them.
const (
	IngressPrefix      = guid.IngressPrefix      // "IN_"
	RTMPResourcePrefix = guid.RTMPResourcePrefix // "RT_"
	WHIPResourcePrefix = guid.WHIPResourcePrefix // "WH_"
	URLResourcePrefix  = guid.URLResourcePrefix  // "UR_"

	idLength = 12
)

// base57 is the alphabet of LiveKit IDs and stream keys: no 0/O, 1/I/l.
const base57 = guid.IDAlphabet

// randomBase57 returns n characters of base57 drawn from crypto/rand with
// rejection sampling, so every character is uniformly distributed.
func randomBase57(n int) string {
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		for _, b := range buf {
			// 6 bits give 0..63; keep values below 57.
			if v := int(b & 0x3f); v < len(base57) {
				out = append(out, base57[v])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out)
}

// NewIngressID returns a fresh ingress ID, IN_ + 12 base57 characters.
func NewIngressID() string { return IngressPrefix + randomBase57(idLength) }

// NewStreamKey returns a fresh, crypto-random stream key of 12 base57
// characters (about 70 bits).
func NewStreamKey() string { return randomBase57(idLength) }

// NewResourceID returns the ID of one session of an ingress: RT_, WH_ or UR_
// + 12 base57 characters, by input type.
func NewResourceID(t livekit.IngressInput) string {
	switch t {
	case livekit.IngressInput_WHIP_INPUT:
		return WHIPResourcePrefix + randomBase57(idLength)
	case livekit.IngressInput_URL_INPUT:
		return URLResourcePrefix + randomBase57(idLength)
	default:
		return RTMPResourcePrefix + randomBase57(idLength)
	}
}
