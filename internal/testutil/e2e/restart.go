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

// Restart kills redis-server abruptly (SIGKILL to its process group, as a
// crash or an OOM kill would) and starts it again on the same address,
// returning once it answers PING. Persistence is off, so the new server
// starts empty: every key and every client connection of the old one is
// gone, and clients must reconnect and subscribe again by themselves.
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	_ = syscall.Kill(-r.Process.PID(), syscall.SIGKILL)
	select {
	case <-r.Process.Done():
	case <-time.After(reapTimeout):
		t.Fatal("redis-server did not exit after SIGKILL")
	}
	r.Process = StartProcess(t, "redis-server-restarted", r.bin, r.args...)
	if err := r.waitPing(); err != nil {
		t.Fatalf("redis-server did not restart on %s: %v\n%s", r.Addr, err, r.Process.Tail(logTailBytes))
	}
}
