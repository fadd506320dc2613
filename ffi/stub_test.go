//go:build !cgo

package ffi

import (
	"errors"
	"strings"
	"testing"
)

func TestStubUnavailable(t *testing.T) {
	if _, err := NewVideoDecoder(CodecH264, nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("NewVideoDecoder: %v", err)
	}
	if _, err := NewVideoEncoder(VideoEncoderConfig{Codec: CodecH264}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("NewVideoEncoder: %v", err)
	}
	if _, err := NewOpusEncoder(OpusEncoderConfig{Channels: 2}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("NewOpusEncoder: %v", err)
	}
}

func TestStubBuild(t *testing.T) {
	if Available {
		t.Fatal("Available in the build without cgo")
	}
	if b := Build(); b.Transcoding || len(b.Libraries) != 0 {
		t.Fatalf("Build() = %+v", b)
	}
	if !strings.Contains(ErrUnavailable.Error(), "tributary-linux-amd64") {
		t.Fatalf("ErrUnavailable does not say which build to run: %q", ErrUnavailable)
	}
}
