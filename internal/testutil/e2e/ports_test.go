package e2e

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePortBelowEphemeral checks what the servers under test rely on:
// every port is new in this process, below the kernel's ephemeral range
// (so no outgoing connection can take it), and bindable on all addresses.
func TestFreePortBelowEphemeral(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p := MustFreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
		if p < portRangeLow || p >= ephemeralLow() {
			t.Fatalf("port %d outside [%d, %d)", p, portRangeLow, ephemeralLow())
		}
	}
	// A port held by a listener is never handed out.
	var held int
	for p := range seen {
		held = p
		break
	}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(held))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if bindable(held) {
		t.Fatalf("port %d is held but reported bindable", held)
	}
}
