package forward

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: every
// goroutine started for a session, connection or stream must end with it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
