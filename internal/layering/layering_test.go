package layering

import (
	"os/exec"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/tributary-ingress/tributary/"

// allowed lists, per area of the tree (a package path or its first
// element), the areas its production code may import. An area missing
// from the list may import anything but server/, cmd/ and test helpers.
var allowed = map[string][]string{
	"media":     {},
	"codec":     {"media", "codec"},
	"demux":     {"media", "codec", "demux"},
	"ingest":    {"media", "codec", "demux", "ingest", "internal/guard", "internal/netlimit"},
	"ffi":       {},
	"simulcast": {},
	"room":      {"media", "simulcast"},
	"transcode": {"media", "codec", "ffi", "simulcast", "internal/guard"},
	"pipeline":  {"media", "codec", "room", "simulcast", "pipeline", "internal/guard"},
	// The records side (the store, the API, the state rules, the cluster
	// worker's psrpc side) knows no media and no pipeline: the node in
	// server/ joins the two.
	"ingress": {"ingress", "simulcast"},
	"config":  {},
	"console": {},

	"internal/guard":    {},
	"internal/netlimit": {},
	"internal/monitor":  {},
}

// ffiImporters are the only areas that may call libavcodec directly: the
// transcoder, the binary (logging, version) and the test harness and
// benchmarks (decoding what viewers receive).
var ffiImporters = []string{"transcode", "cmd", "internal/testutil/e2e", "benchmarks"}

// testHelpers are packages for tests only.
// Everything under internal/testutil (the e2e harness, the file and
// stream builders of the demuxer and input tests) and the pipeline's fakes.
var testHelpers = []string{"internal/testutil", "pipeline/pipelinetest", "e2e"}

// area returns the entry of allowed (or ffiImporters) a package belongs to:
// its first two path elements when they are listed, else its first.
func area(pkg string, listed func(string) bool) string {
	parts := strings.Split(pkg, "/")
	if len(parts) >= 2 && listed(path.Join(parts[0], parts[1])) {
		return path.Join(parts[0], parts[1])
	}
	return parts[0]
}

func within(pkg string, areas []string) bool {
	for _, a := range areas {
		if pkg == a || strings.HasPrefix(pkg, a+"/") {
			return true
		}
	}
	return false
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...").Output()
	require.NoError(t, err, "go list")
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], module)
		if !ok {
			continue
		}
		checked++
		rules, restricted := allowed[area(pkg, func(a string) bool { _, ok := allowed[a]; return ok })]
		for _, imp := range fields[1:] {
			dep, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			switch {
			case within(dep, []string{"server", "cmd"}) && !within(pkg, []string{"cmd"}):
				t.Errorf("%s imports %s: nothing but cmd/ imports server/ or cmd/", pkg, dep)
			case within(dep, testHelpers) && !within(pkg, testHelpers) && !within(pkg, []string{"benchmarks"}):
				t.Errorf("%s imports %s, a test helper, in production code", pkg, dep)
			case within(dep, []string{"ffi"}) && !within(pkg, ffiImporters):
				t.Errorf("%s imports ffi: only %v call libavcodec directly", pkg, ffiImporters)
			case restricted && !within(dep, rules):
				t.Errorf("%s imports %s: %s may import only %v", pkg, dep, area(pkg, func(a string) bool { _, ok := allowed[a]; return ok }), rules)
			}
		}
	}
	require.Greater(t, checked, 30, "go list found the module's packages")
}
