package e2e

import (
	"testing"

	"github.com/tributary-ingress/tributary/internal/testutil"
)

// ChromiumBin returns the path of a Chromium (or Chrome) browser: the
// CHROMIUM_BIN environment variable, else chromium, chromium-browser or
// google-chrome from PATH. It skips the test when there is none, or fails
// it when TRIBUTARY_E2E_REQUIRED is set.
func ChromiumBin(t testing.TB) string {
	t.Helper()
	return testutil.RequireTool(t, "CHROMIUM_BIN", "", "apt-get install chromium (or set CHROMIUM_BIN)", "chromium", "chromium-browser", "google-chrome")
}

// StartChromium runs a headless Chromium on url with a fake camera and
// microphone whose use is granted without a prompt, in a fresh profile,
// as a [Process]: its whole process group (renderer, GPU and utility
// processes) is killed at the end of the test.
func StartChromium(t testing.TB, url string, extraArgs ...string) *Process {
	t.Helper()
	bin := ChromiumBin(t)
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--no-first-run", "--no-default-browser-check",
		"--disable-background-timer-throttling", "--disable-renderer-backgrounding",
		"--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
		"--autoplay-policy=no-user-gesture-required",
		"--user-data-dir=" + t.TempDir(), "--remote-debugging-port=0",
	}
	args = append(args, extraArgs...)
	args = append(args, url)
	return StartProcess(t, "chromium", bin, args...)
}
