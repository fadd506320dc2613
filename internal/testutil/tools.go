// Package testutil holds helpers shared by the tests of several packages.
// It imports nothing from the pipeline, so any package's tests can use it.
package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// RequiredEnv names the environment variable that makes a missing tool a
// failure rather than a reason to skip. scripts/test.sh sets it, since it
// installs every tool first: on the suite's machine a test that needs a
// tool must run.
const RequiredEnv = "TRIBUTARY_E2E_REQUIRED"

// RequireTool returns the path of an external tool a test needs: the file
// named by the environment variable env when it is set (and env is not
// empty), else the first of names found in PATH, else def when def is an
// executable file. When there is none the test fails if RequiredEnv is
// set, and is skipped otherwise; either way the message says how to get
// the tool (install).
func RequireTool(t testing.TB, env, def, install string, names ...string) string {
	t.Helper()
	if env != "" {
		if p := os.Getenv(env); p != "" {
			if isExecutable(p) {
				return p
			}
			missing(t, p+" (from "+env+")", install)
		}
	}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if def != "" && isExecutable(def) {
		return def
	}
	what := def
	if what == "" && len(names) > 0 {
		what = names[0] + " in PATH"
	}
	missing(t, what, install)
	return ""
}

// FFmpeg returns the ffmpeg CLI (FFMPEG_BIN, else PATH), see RequireTool.
func FFmpeg(t testing.TB) string {
	t.Helper()
	return RequireTool(t, "FFMPEG_BIN", "", "run scripts/install-system-deps.sh", "ffmpeg")
}

func missing(t testing.TB, what, install string) {
	t.Helper()
	hint := ""
	if install != "" {
		hint = ": " + install
	}
	if os.Getenv(RequiredEnv) != "" {
		t.Fatalf("%s not found although %s is set%s", what, RequiredEnv, hint)
	}
	t.Skipf("%s not found%s", what, hint)
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
