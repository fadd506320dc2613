package e2e_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func itoa(i int) string { return fmt.Sprint(i) }

// freeUDPPort returns a UDP port for a server under test (see freePort).
func freeUDPPort(t *testing.T) int {
	t.Helper()
	return e2e.MustFreePort(t)
}
