//go:build !cgo

package ffi

import (
	"errors"
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
