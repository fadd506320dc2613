// Package layering holds the tests that keep the tree's shape: the import
// graph one-way — the pipeline's lower layers never import its higher
// ones (media ← codec ← demux ← ingest; ffi only under transcode; the
// records side, ingress/, knows no media; nothing imports server/ or
// cmd/), production code never imports a test helper (layering_test.go)
// — and one name per concept: no two production packages declare a type
// of the same name beyond Go's per-package conventions (names_test.go).
package layering
