// Package e2e is the end-to-end test harness: it runs real peers as child
// processes and observes a LiveKit room the way a viewer would.
//
// The pieces are:
//
//   - [StartLiveKit] starts a real `livekit-server --dev` on free loopback
//     ports and stops it when the test ends.
//   - [NewSubscriber] joins a room as a hidden participant, subscribes to
//     every track, and measures what really arrived over RTP: codec,
//     resolution parsed from the bitstream, frame rate and bitrate measured
//     over wall time, keyframes ([TrackStats]).
//   - [StartProcess] runs any other peer (the `lk` CLI, ffmpeg publishers)
//     in its own process group, with its output captured to a file whose
//     tail is printed when the test fails.
//   - [LKBin], [LiveKitServerBin] and [FFmpegBin] find the external tools
//     and skip the test with install instructions when one is missing.
//
// Everything started here is registered with t.Cleanup and is gone when
// the test returns: processes are killed by process group and reaped, and
// every goroutine is joined. Waiting is done with channels and deadlines,
// never with fixed sleeps, and no helper calls t.FailNow from a goroutine
// other than the test's own.
//
// The tests of this package run against real binaries and skip when the
// binaries are absent; the suite runner sets LIVEKIT_SERVER_BIN and LK_BIN
// so that they do run in CI.
package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Versions of the external tools the harness is pinned to; they match the
// install scripts under scripts/.
const (
	// LiveKitServerVersion is the livekit-server release the tests run.
	LiveKitServerVersion = "v1.13.11"
	// LKVersion is the LiveKit CLI release the tests run.
	LKVersion = "v2.18.2"
)

// cacheDir returns the directory where the install scripts put the tools:
// $TRIBUTARY_CACHE, else $HOME/.cache/tributary.
func cacheDir() string {
	if d := os.Getenv("TRIBUTARY_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "tributary-cache")
	}
	return filepath.Join(home, ".cache", "tributary")
}

// findBinary returns the path in env if set, else def. It skips the test,
// naming the script that installs the tool, when the file is missing.
func findBinary(t testing.TB, env, def, tool, script string) string {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		path = def
	}
	st, err := os.Stat(path)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		if os.Getenv("TRIBUTARY_E2E_REQUIRED") != "" {
			// The suite runner (scripts/test.sh) installs every tool: a
			// missing one there is a failure, not a reason to skip.
			t.Fatalf("%s not found at %s although TRIBUTARY_E2E_REQUIRED is set: run %s (or set %s)", tool, path, script, env)
		}
		t.Skipf("%s not found at %s: run %s (or set %s to an existing binary)", tool, path, script, env)
	}
	return path
}

// LiveKitServerBin returns the path of the livekit-server binary: the
// LIVEKIT_SERVER_BIN environment variable, else the location where
// scripts/install-livekit-server.sh caches it. It skips the test when the
// binary is missing.
func LiveKitServerBin(t testing.TB) string {
	t.Helper()
	def := filepath.Join(cacheDir(), "livekit-server-"+LiveKitServerVersion, "livekit-server")
	return findBinary(t, "LIVEKIT_SERVER_BIN", def, "livekit-server", "scripts/install-livekit-server.sh")
}

// LKBin returns the path of the LiveKit CLI: the LK_BIN environment
// variable, else the location where scripts/install-lk.sh caches it. It
// skips the test when the binary is missing.
func LKBin(t testing.TB) string {
	t.Helper()
	def := filepath.Join(cacheDir(), "lk-"+LKVersion, "lk")
	return findBinary(t, "LK_BIN", def, "lk", "scripts/install-lk.sh")
}

// FFmpegBin returns the path of the ffmpeg CLI: the FFMPEG_BIN environment
// variable, else ffmpeg from PATH. It skips the test when there is none.
func FFmpegBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("FFMPEG_BIN"); p != "" {
		return findBinary(t, "FFMPEG_BIN", p, "ffmpeg", "scripts/install-system-deps.sh")
	}
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		if os.Getenv("TRIBUTARY_E2E_REQUIRED") != "" {
			t.Fatalf("ffmpeg not found in PATH although TRIBUTARY_E2E_REQUIRED is set: run scripts/install-system-deps.sh")
		}
		t.Skipf("ffmpeg not found in PATH: run scripts/install-system-deps.sh (or set FFMPEG_BIN)")
	}
	return p
}
