package testutil

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCandidates(t *testing.T) {
	sdp := "v=0\r\n" +
		"a=candidate:1 1 udp 2130706431 192.0.2.1 41000 typ host\r\n" +
		"a=candidate:2 1 UDP 1694498815 198.51.100.11 41001 typ srflx raddr 0.0.0.0 rport 41001\r\n" +
		"a=candidate:3 1 tcp 1671430143 192.0.2.1 7881 typ host tcptype passive\r\n" +
		"a=end-of-candidates\r\n"
	require.Equal(t, []Candidate{
		{Transport: "udp", Addr: "192.0.2.1", Port: 41000, Type: "host"},
		{Transport: "udp", Addr: "198.51.100.11", Port: 41001, Type: "srflx"},
		{Transport: "tcp", Addr: "192.0.2.1", Port: 7881, Type: "host"},
	}, Candidates(t, sdp))
	require.Empty(t, Candidates(t, "v=0\r\n"))
}
