package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"mime"
	"net/http"
	"path"
)

// The page and its stylesheet are written by hand in static/; the script
// is built from web/ by build.sh into dist/ and committed, so that
// `go build` needs no npm.
//
//go:embed static/index.html static/console.css dist/console.js
var assets embed.FS

// assetPaths maps a served name to its embedded file.
var assetPaths = map[string]string{
	"index.html":  "static/index.html",
	"console.css": "static/console.css",
	"console.js":  "dist/console.js",
}

// contentSecurityPolicy confines the page to its own script and style. It
// connects to its own origin (API), to LiveKit (ws/wss) and to WHIP
// endpoints on any origin; media plays from MediaStreams.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"media-src 'self' blob: mediastream:; connect-src 'self' ws: wss: http: https:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// assetHandler serves one embedded file, revalidated by its ETag.
func assetHandler(name string) (http.HandlerFunc, error) {
	body, err := assets.ReadFile(assetPaths[name])
	if err != nil {
		return nil, fmt.Errorf("console: asset %s missing from the build: %w", name, err)
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	ctype := mime.TypeByExtension(path.Ext(name))
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		if name == "index.html" {
			h.Set("Content-Security-Policy", contentSecurityPolicy)
			h.Set("X-Frame-Options", "DENY")
		}
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write(body)
	}, nil
}
