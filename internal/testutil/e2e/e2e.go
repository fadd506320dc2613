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
	"path/filepath"
	"testing"

	"github.com/tributary-ingress/tributary/internal/testutil"
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

// findBinary returns the path in env if set, else def; a missing file
// skips the test, naming the script that installs the tool, or fails it
// when TRIBUTARY_E2E_REQUIRED is set (testutil.RequireTool).
func findBinary(t testing.TB, env, def, tool, script string) string {
	t.Helper()
	return testutil.RequireTool(t, env, def, "run "+script+" (or set "+env+")")
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
// variable, else ffmpeg from PATH (testutil.FFmpeg).
func FFmpegBin(t testing.TB) string {
	t.Helper()
	return testutil.FFmpeg(t)
}
