package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// secondSignalDelay is how long a child gets to exit after the first
	// SIGTERM before it receives a second one.
	secondSignalDelay = time.Second
	// stopGrace is how long a child gets to exit after the second SIGTERM
	// before the whole process group is killed.
	stopGrace = 5 * time.Second
	// reapTimeout bounds the wait for the kernel to reap a killed child.
	reapTimeout = 10 * time.Second
	// logTailBytes is how much of a child's output is printed when the test
	// fails.
	logTailBytes = 8 << 10
)

// Process is a child process started by [StartProcess]. Its stdout and
// stderr go to the file LogPath; it runs in its own process group, which is
// killed and reaped at the end of the test.
type Process struct {
	// Name labels the process in test logs.
	Name string
	// LogPath is the file holding the process's combined stdout and stderr.
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
	err  error // written before done is closed
}

// StartProcess starts bin with args as a child of the test, in a new
// process group, with its output captured to a file in t.TempDir(). The
// process is stopped (SIGTERM to the group, SIGKILL after a grace period)
// and reaped by t.Cleanup; when the test has failed, the tail of its output
// is logged. The test fails immediately if the process cannot be started.
func StartProcess(t testing.TB, name, bin string, args ...string) *Process {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("create log for %s: %v", name, err)
	}
	fmt.Fprintf(logFile, "$ %s %s\n", bin, strings.Join(args, " "))

	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// If the test binary dies without running its cleanups (a panic, a
		// -timeout), the kernel kills the child instead of orphaning it.
		Pdeathsig: syscall.SIGKILL,
	}
	if err = cmd.Start(); err != nil {
		_ = logFile.Close()
		t.Fatalf("start %s (%s): %v", name, bin, err)
	}
	// The child holds its own descriptor of the log file.
	_ = logFile.Close()

	p := &Process{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("---- tail of %s output (%s) ----\n%s\n---- end of %s output ----", name, logPath, p.Tail(logTailBytes), name)
			keepLog(t, logPath)
		}
	})
	return p
}

// PID returns the process id, which is also its process group id.
func (p *Process) PID() int {
	return p.cmd.Process.Pid
}

// Done is closed when the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} {
	return p.done
}

// Err returns the result of waiting for the process (nil for exit status
// 0). It is only meaningful after Done is closed.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return errors.New("process is still running")
	}
}

// WithExit returns a context derived from parent that is canceled when the
// process exits, with a cause naming the process and its exit status, so
// that a wait on a peer that crashed fails at once with a useful error.
// The returned cancel function must be called; it also ends the watcher
// goroutine and waits for it.
func (p *Process) WithExit(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-p.done:
			cancel(fmt.Errorf("%s exited: %v; output tail:\n%s", p.Name, p.err, p.Tail(2<<10)))
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		cancel(context.Canceled)
		<-stopped
	}
}

// Tail returns up to the last maxBytes bytes of the process's output.
func (p *Process) Tail(maxBytes int) string {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(cannot open log: %v)", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(cannot stat log: %v)", err)
	}
	off := max(st.Size()-int64(maxBytes), 0)
	buf, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	return string(buf)
}

// stop terminates the process group gracefully, then forcibly, and waits
// for the process to be reaped.
//
// A second SIGTERM follows the first after secondSignalDelay: servers such
// as livekit-server treat the first as "drain" (waiting for participants
// to leave, checked every 5 s) and the second as "stop now".
func (p *Process) stop(t testing.TB) {
	pgid := p.cmd.Process.Pid
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(secondSignalDelay):
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(stopGrace):
				t.Logf("%s did not exit %v after SIGTERM: killing its process group", p.Name, stopGrace+secondSignalDelay)
			}
		}
	}
	// Kill whatever is left of the group, including grandchildren that
	// outlived the leader. ESRCH (nothing left) is the normal case.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(reapTimeout):
		t.Errorf("%s (pid %d) was not reaped %v after SIGKILL", p.Name, pgid, reapTimeout)
	}
}

// keepLog copies a failed test's process log into the directory named by
// TRIBUTARY_E2E_KEEP_LOGS, when set (the test's temp dir is removed).
func keepLog(t testing.TB, path string) {
	dir := os.Getenv("TRIBUTARY_E2E_KEEP_LOGS")
	if dir == "" {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + "-" + filepath.Base(path)
	if err := os.MkdirAll(dir, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
}
