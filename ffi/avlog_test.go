//go:build cgo

package ffi

import (
	"strings"
	"sync"
	"testing"
)

// TestSetLogFunc: with a log function set, what libav (and libx264
// through it) would print on stderr reaches the function instead, whole
// lines with libav's "[name @ 0x…]" prefix, at the level SetLogLevel lets
// through.
func TestSetLogFunc(t *testing.T) {
	var mu sync.Mutex
	var got []string
	SetLogFunc(func(l LogLevel, msg string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, msg)
	})
	SetLogLevel(LogInfo)
	t.Cleanup(func() {
		SetLogLevel(LogQuiet)
		SetLogFunc(nil)
	})
	enc, err := NewVideoEncoder(VideoEncoderConfig{Codec: CodecH264, Width: 64, Height: 64, FPS: 30, Bitrate: 100_000, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	enc.Close()
	mu.Lock()
	defer mu.Unlock()
	var x264 bool
	for _, m := range got {
		if strings.HasSuffix(m, "\n") {
			t.Errorf("a message keeps its newline: %q", m)
		}
		x264 = x264 || strings.HasPrefix(m, "[libx264 @ 0x")
	}
	if !x264 {
		t.Fatalf("no libx264 message reached the log function: %q", got)
	}
}
