package e2e_test

import (
	"errors"
	"fmt"
	"net"
	"testing"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func itoa(i int) string { return fmt.Sprint(i) }

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}
