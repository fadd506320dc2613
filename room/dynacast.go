package room

import (
	"reflect"
	"unsafe"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"go.uber.org/atomic"
)

// Dynacast: LiveKit tells a publisher which simulcast layers have
// subscribers (SubscribedQualityUpdate, sent when subscriptions change;
// downgrades after the server's dynacast_pause_delay, 5 s by default).
// server-sdk-go applies the update by marking each layer's LocalTrack
// disabled, but it only consults that mark in its own sample-writer loop
// and offers neither a getter nor a callback. A transcoder that encodes a
// layer nobody receives spends most of its CPU for nothing (the 720p
// encode is ~3/4 of the x264 time of the default preset), so the flag is
// read here, from the SDK's unexported field.
//
// The field (a go.uber.org/atomic Bool) is located once, by name and
// type; if a future SDK renames or retypes it, layerFlag returns nil,
// every layer counts as enabled (the behaviour without dynacast) and
// TestLayerFlagFound (room_e2e_test.go) fails, so an upgrade cannot
// silently lose the feature.
const sdkDisabledField = "disabled"

var disabledOffset = func() uintptr {
	f, ok := reflect.TypeFor[lksdk.LocalTrack]().FieldByName(sdkDisabledField)
	if !ok || f.Type != reflect.TypeFor[atomic.Bool]() {
		return ^uintptr(0)
	}
	return f.Offset
}()

// DynacastSupported reports whether the server SDK's per-layer flag was
// found (see LayerEnabled).
func DynacastSupported() bool { return disabledOffset != ^uintptr(0) }

// layerFlag returns the SDK's "disabled by dynacast" flag of t, or nil when
// this SDK version does not have it.
func layerFlag(t *lksdk.LocalTrack) *atomic.Bool {
	if disabledOffset == ^uintptr(0) || t == nil {
		return nil
	}
	return (*atomic.Bool)(unsafe.Add(unsafe.Pointer(t), disabledOffset))
}

// LayerEnabled reports whether the server wants layer i of the video track:
// false once LiveKit's dynacast has said that no subscriber receives it.
// Safe for concurrent use; cheap enough to call per frame.
func (vt *VideoTrack) LayerEnabled(i int) bool {
	if i < 0 || i >= len(vt.disabled) || vt.disabled[i] == nil {
		return true
	}
	return !vt.disabled[i].Load()
}
