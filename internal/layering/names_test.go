package layering

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// conventions are the exported type names more than one production
// package may declare: the same role in sibling packages, as Go names it
// (each package's Config configures its own main type; each input
// protocol has its Server, and the Authorizer and Publisher its node
// implements). A name may repeat only among the packages under family
// ("" is anywhere).
var conventions = map[string]struct{ family, why string }{
	"Config":                {"", "configures the package's own main type"},
	"Error":                 {"", "the package's error type (as url.Error, exec.Error)"},
	"Server":                {"ingest/", "the listener of one input protocol"},
	"Authorizer":            {"ingest/", "what the node implements to authorize one protocol's publishes"},
	"Publisher":             {"ingest/", "what one protocol's authorized publish is handed to"},
	"Sink":                  {"ingest/", "where one pull input delivers tracks and frames"},
	"Demuxer":               {"demux/", "the demuxer of one container"},
	"UnsupportedCodecError": {"demux/", "one container's refusal of a codec"},
	"SPS":                   {"codec/", "one codec's sequence parameter set"},
	"NALUType":              {"codec/", "one codec's NAL unit types"},
	"DecoderConfig":         {"codec/", "one codec's decoder configuration record"},
	"FrameHeader":           {"codec/", "one audio codec's frame header"},
	// Stats are the counters of a package's main type: a demuxer's (per
	// container) or a session's (pipeline).
	"Stats": {"", "the counters of the package's main type"},
}

// knownDuplicates are pairs of one concept at two layers, each with the
// reason it keeps one name; a new duplicate fails. (None today: the last
// four — transcode.Layer, url.Splice, pcm.Format (twin of url.Format) and
// msgstream.Reader — were renamed to LayerTarget, ts.SpliceInsert,
// pcm.Layout and msgstream.Stream.)
var knownDuplicates = map[string]string{}

// TestTypeNamesUnique keeps one name per concept: no exported type of a
// production package shares its name with one of another package (go doc
// would show a newcomer two different things under one name), beyond the
// conventions and known pairs listed above. Test helpers (fakes named for
// what they fake), commands and aliases of a same-named type are not
// counted.
func TestTypeNamesUnique(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	decls := map[string]map[string]bool{} // name → package dirs
	files := 0
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if d.Name() == "testdata" || (strings.HasPrefix(d.Name(), ".") && rel != ".") ||
				within(rel, testHelpers) || strings.HasSuffix(d.Name(), "test") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		files++
		dir := filepath.ToSlash(filepath.Dir(rel))
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, s := range g.Specs {
				ts := s.(*ast.TypeSpec)
				if !ts.Name.IsExported() || sameNameAlias(ts) {
					continue
				}
				if decls[ts.Name.Name] == nil {
					decls[ts.Name.Name] = map[string]bool{}
				}
				decls[ts.Name.Name][dir] = true
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, files, 100, "the walk found the module's files")

	var names []string
	for n := range decls {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		dirs := sortedKeys(decls[name])
		if len(dirs) < 2 {
			continue
		}
		if c, ok := conventions[name]; ok && allUnder(dirs, c.family) {
			continue
		}
		if _, ok := knownDuplicates[name]; ok && len(dirs) == 2 {
			continue
		}
		t.Errorf("type %s is declared in %v: one name per concept (rename one, or list a convention in names_test.go)", name, dirs)
	}
}

// sameNameAlias reports a re-export, type X = pkg.X: the same type, not a
// second one.
func sameNameAlias(ts *ast.TypeSpec) bool {
	if !ts.Assign.IsValid() {
		return false
	}
	sel, ok := ts.Type.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == ts.Name.Name
}

func allUnder(dirs []string, family string) bool {
	for _, d := range dirs {
		if !strings.HasPrefix(d+"/", family) {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
