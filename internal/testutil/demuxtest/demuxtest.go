// Package demuxtest holds the helpers the tests of the demuxers under
// demux/ share: reading testdata, golden text dumps (with the -update
// flag), collecting what a demuxer emits, and ffprobe packet lists.
//
// Only tests import it.
package demuxtest

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// update is the -update flag of every demuxer test binary.
var update = flag.Bool("update", false, "rewrite the golden dumps in testdata/golden")

// ReadTestdata returns the content of testdata/<name>.
func ReadTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// CheckGolden compares got with testdata/golden/<name>.txt, or rewrites
// that file when the test runs with -update.
func CheckGolden(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create the golden file")
	require.Equal(t, string(want), got)
}
