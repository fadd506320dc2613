package e2e

import (
	"syscall"
	"testing"
	"time"
)

// Kill stops the server abruptly (SIGKILL to its process group), as a crash
// or a lost machine would, and waits until it is gone.
func (l *LiveKit) Kill(t testing.TB) {
	t.Helper()
	_ = syscall.Kill(-l.Process.PID(), syscall.SIGKILL)
	select {
	case <-l.Process.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("livekit-server did not exit after SIGKILL")
	}
}

// Restart starts the server again with the same config, hence the same
// ports and URL, after Kill. Clients that reconnect find it where it was.
func (l *LiveKit) Restart(t testing.TB) {
	t.Helper()
	proc := StartProcess(t, "livekit-server-restarted", LiveKitServerBin(t), "--dev", "--config", l.ConfigPath)
	l.Process = proc
	if err := waitHTTP(l.HTTPURL, proc.Done(), liveKitStartTimeout); err != nil {
		t.Fatalf("livekit-server did not restart: %v\n%s", err, proc.Tail(logTailBytes))
	}
}
