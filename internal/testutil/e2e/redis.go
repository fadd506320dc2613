package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-ingress/tributary/internal/testutil"
)

// redisStartTimeout bounds the wait for redis-server to answer PING.
const redisStartTimeout = 20 * time.Second

// Redis is a running redis-server started by [StartRedis].
type Redis struct {
	// Addr is host:port on 127.0.0.1.
	Addr    string
	Process *Process

	bin  string   // redis-server binary
	args []string // its arguments, reused by Restart
}

// RedisServerBin returns the path of redis-server: REDIS_SERVER_BIN, else
// redis-server from PATH. It skips the test when there is none (fails when
// TRIBUTARY_E2E_REQUIRED is set).
func RedisServerBin(t testing.TB) string {
	t.Helper()
	return testutil.RequireTool(t, "REDIS_SERVER_BIN", "", "run scripts/install-system-deps.sh (or set REDIS_SERVER_BIN)", "redis-server")
}

// StartRedis starts a throwaway redis-server on a free loopback port, with
// persistence off, and waits until it answers PING. It is stopped and
// reaped when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin := RedisServerBin(t)
	var lastErr error
	for attempt := 1; attempt <= liveKitStartAttempts; attempt++ {
		port := MustFreePort(t)
		args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", t.TempDir()}
		p := StartProcess(t, "redis-server", bin, args...)
		r := &Redis{Addr: "127.0.0.1:" + strconv.Itoa(port), Process: p, bin: bin, args: args}
		if lastErr = r.waitPing(); lastErr == nil {
			return r
		}
		if !strings.Contains(p.Tail(logTailBytes), "in use") {
			break
		}
	}
	t.Fatalf("redis-server did not start: %v", lastErr)
	return nil
}

func (r *Redis) waitPing() error {
	ctx, cancel := r.Process.WithExit(context.Background())
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, redisStartTimeout)
	defer cancelT()
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	for {
		if err := ping(ctx, r.Addr); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis-server on %s: %w", r.Addr, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

func ping(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected answer %q", line)
	}
	return nil
}
