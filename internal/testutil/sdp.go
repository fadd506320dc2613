package testutil

import (
	"strings"
	"testing"

	"github.com/pion/ice/v4"
	"github.com/stretchr/testify/require"
)

// Candidate is one a=candidate line of an SDP, as a test checks it.
type Candidate struct {
	// Transport is "udp" or "tcp".
	Transport string
	// Addr is the connection address, Port its port.
	Addr string
	Port int
	// Type is "host", "srflx", "prflx" or "relay".
	Type string
}

// Candidates returns the a=candidate lines of sdp (pion's parser reads
// them), failing t on one it cannot read.
func Candidates(t testing.TB, sdp string) []Candidate {
	t.Helper()
	var out []Candidate
	for _, l := range strings.Split(sdp, "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(l), "a=candidate:")
		if !ok {
			continue
		}
		c, err := ice.UnmarshalCandidate(v)
		require.NoError(t, err, l)
		out = append(out, Candidate{Transport: c.NetworkType().NetworkShort(), Addr: c.Address(), Port: c.Port(), Type: c.Type().String()})
	}
	return out
}
