// Package e2e_test holds Tributary's end-to-end tests: the real binary,
// started as users start it, driven by real clients (the lk CLI,
// server-sdk-go) against a real livekit-server.
package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// tributaryBin is the binary built once for all tests of this package.
var tributaryBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tributary-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tributaryBin = filepath.Join(dir, "tributary")
	args := []string{"build", "-race", "-o", tributaryBin, "../cmd/tributary"}
	if os.Getenv("TRIBUTARY_E2E_NORACE") == "1" {
		// Load benchmarks (benchmarks/load.sh) measure the binary users
		// run, not the race detector's.
		args = []string{"build", "-o", tributaryBin, "../cmd/tributary"}
	}
	build := exec.Command("go", args...)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building tributary:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}
