package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// recorder is a testing.TB that records how a helper ended the test.
type recorder struct {
	testing.TB
	failed, skipped string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = format
	panic(r)
}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = format
	panic(r)
}

func run(tb testing.TB, fn func(testing.TB)) (r *recorder) {
	r = &recorder{TB: tb}
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
	}()
	fn(r)
	return r
}

func TestRequireTool(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "tool")
	require.NoError(t, os.WriteFile(tool, []byte("#!/bin/sh\n"), 0o755))
	t.Setenv("PATH", dir)

	t.Setenv(RequiredEnv, "1")
	r := run(t, func(tb testing.TB) { require.Equal(t, tool, RequireTool(tb, "", "", "", "tool")) })
	require.Empty(t, r.failed+r.skipped, "found in PATH")
	t.Setenv("TOOL_BIN", tool)
	r = run(t, func(tb testing.TB) { require.Equal(t, tool, RequireTool(tb, "TOOL_BIN", "", "", "other")) })
	require.Empty(t, r.failed+r.skipped, "from the environment variable")

	t.Setenv("TOOL_BIN", "")
	r = run(t, func(tb testing.TB) { RequireTool(tb, "TOOL_BIN", "/nonexistent", "install it", "nothere") })
	require.NotEmpty(t, r.failed, "missing with %s set: a failure", RequiredEnv)
	require.Empty(t, r.skipped)

	t.Setenv(RequiredEnv, "")
	r = run(t, func(tb testing.TB) { RequireTool(tb, "TOOL_BIN", "/nonexistent", "install it", "nothere") })
	require.NotEmpty(t, r.skipped, "missing without %s: a skip", RequiredEnv)
	require.True(t, strings.Contains(r.skipped, "not found"))
}
