package pipeline

import (
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/logger"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/media"
)

// attrRecorder records the ad-break attribute values set.
type attrRecorder struct{ values []string }

func (r *attrRecorder) SetAttributes(a map[string]string) {
	r.values = append(r.values, a[livekit.AttrIngressOutOfNetworkEventID])
}

func newCueOutputs() (*outputs, *attrRecorder) {
	rec := &attrRecorder{}
	return &outputs{s: &Session{log: logger.GetLogger()}, attrs: rec}, rec
}

var videoTrack = &media.Track{Kind: media.KindVideo, ClockRate: 90000}

func TestSpliceTimed(t *testing.T) {
	o, rec := newCueOutputs()
	o.splice(Splice{EventID: 1001, OutOfNetwork: true, PTS: 6 * 90000})
	o.splice(Splice{EventID: 1001, PTS: 12 * 90000})
	o.applyCues(5999 * time.Millisecond)
	require.Empty(t, rec.values, "not before the splice time")
	o.applyCues(6 * time.Second)
	require.Equal(t, []string{"1001"}, rec.values)
	o.applyCues(6033 * time.Millisecond)
	o.applyCues(11 * time.Second)
	require.Equal(t, []string{"1001"}, rec.values, "applied once")
	o.applyCues(12 * time.Second)
	require.Equal(t, []string{"1001", ""}, rec.values)
	require.Empty(t, o.cues)
}

func TestSpliceDueTogetherInTimeOrder(t *testing.T) {
	o, rec := newCueOutputs()
	// Sent out of order, both due at once after a stall: the later time
	// wins.
	o.splice(Splice{EventID: 7, PTS: 4 * 90000})
	o.splice(Splice{EventID: 7, OutOfNetwork: true, PTS: 2 * 90000})
	o.applyCues(5 * time.Second)
	require.Equal(t, []string{"7", ""}, rec.values)
}

func TestSpliceCancel(t *testing.T) {
	o, rec := newCueOutputs()
	o.splice(Splice{EventID: 5, OutOfNetwork: true, PTS: 90000})
	o.splice(Splice{EventID: 6, OutOfNetwork: true, PTS: 2 * 90000})
	o.splice(Splice{EventID: 5, Cancel: true, PTS: -1})
	o.applyCues(3 * time.Second)
	require.Equal(t, []string{"6"}, rec.values)
}

func TestSpliceImmediate(t *testing.T) {
	o, rec := newCueOutputs()
	// Before any input frame: with the next frame released.
	o.splice(Splice{EventID: 3, OutOfNetwork: true, Immediate: true, PTS: -1})
	o.applyCues(0)
	require.Equal(t, []string{"3"}, rec.values)

	// The input has reached 8 s while the published media is at 7.75 s
	// (the pacing delay): the end of the break shows with the media that
	// surrounded the command.
	o.noteInput(&media.Frame{Track: videoTrack, PTS: 8 * 90000})
	o.noteInput(&media.Frame{Track: videoTrack, PTS: 7 * 90000}) // reordered: the latest time counts
	o.splice(Splice{EventID: 3, Immediate: true, PTS: -1})
	o.applyCues(7750 * time.Millisecond)
	require.Equal(t, []string{"3"}, rec.values)
	o.applyCues(8 * time.Second)
	require.Equal(t, []string{"3", ""}, rec.values)
}

func TestSpliceDeduplicatesAndBounds(t *testing.T) {
	o, rec := newCueOutputs()
	for i := range maxCues + 10 {
		o.splice(Splice{EventID: uint32(i), OutOfNetwork: i%2 == 0, PTS: int64(100+i) * 90000})
	}
	require.Len(t, o.cues, maxCues)
	require.Equal(t, uint32(10), o.cues[0].EventID, "the oldest are dropped")

	o.splice(Splice{EventID: 1, PTS: 1})
	o.splice(Splice{EventID: 1, PTS: 2})
	o.applyCues(time.Second)
	require.Empty(t, rec.values, "the attribute is already empty")
}

func TestSpliceInheritedByRejoin(t *testing.T) {
	old, oldRec := newCueOutputs()
	old.splice(Splice{EventID: 9, OutOfNetwork: true, PTS: 90000})
	old.splice(Splice{EventID: 9, PTS: 10 * 90000})
	old.applyCues(2 * time.Second)
	require.Equal(t, []string{"9"}, oldRec.values)

	o, rec := newCueOutputs()
	o.inheritCues(old)
	require.Equal(t, []string{"9"}, rec.values, "the new participant gets the break in progress")
	o.applyCues(10 * time.Second)
	require.Equal(t, []string{"9", ""}, rec.values, "and the pending end of it")
}
