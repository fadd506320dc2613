package testutil

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
)

// IVFFrames returns the frames of an IVF stream (VP8, VP9, AV1), read with
// pion's ivfreader; the test fails on a malformed one.
func IVFFrames(t testing.TB, b []byte) [][]byte {
	t.Helper()
	r, _, err := ivfreader.NewWith(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("IVF: %v", err)
	}
	var frames [][]byte
	for {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			return frames
		}
		if err != nil {
			t.Fatalf("IVF frame %d: %v", len(frames), err)
		}
		frames = append(frames, frame)
	}
}

// IVFFile returns the frames of an IVF file (see IVFFrames).
func IVFFile(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return IVFFrames(t, b)
}
