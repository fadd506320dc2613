// Package layering holds the test that keeps the import graph one-way: the
// pipeline's lower layers never import its higher ones (media ← codec ←
// demux ← ingest; ffi only under transcode; nothing imports server/ or
// cmd/), and production code never imports a test helper. See
// layering_test.go for the rules.
package layering
