package flv

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// expect is what the FLV cases expect beyond the tracks (FileCase.Extra).
type expect struct {
	profile    string // H.264 profile from the SPS
	spsBFrames bool   // the SPS allows B-frames (H.264 only)

	droppedOtherTracks uint64
}

// cases are real streams: FLV files from testdata/gen.sh, and Enhanced
// RTMP streams built from real elementary streams.
var cases = []demuxtest.FileCase{
	{Name: "ffmpeg_h264_high_bf2_aac", File: "h264_high_bf2_aac.flv", Extra: expect{profile: "High", spsBFrames: true}, Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 640, 360, 30, true), demuxtest.Audio(media.CodecAAC, 44100, 1, 45)}},
	{Name: "ffmpeg_h264_baseline_aac", File: "h264_baseline_aac.flv", Extra: expect{profile: "Constrained Baseline"}, Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 640, 360, 30, false), demuxtest.Audio(media.CodecAAC, 48000, 1, 48)}},
	{Name: "ffmpeg_h264_main_mp3", File: "h264_main_mp3.flv", Extra: expect{profile: "Main", spsBFrames: true}, Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 180, 30, true), demuxtest.Audio(media.CodecMP3, 44100, 2, 40)}},
	{Name: "gst_x264_voaac", File: "gst_x264_voaac.flv", Extra: expect{profile: "High", spsBFrames: true}, Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 240, 30, true), demuxtest.Audio(media.CodecAAC, 44100, 2, 25)}},
	{Name: "ertmp_hevc_opus", Input: buildHEVCOpus, Extra: expect{}, Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH265, 320, 180, 15, false), demuxtest.Audio(media.CodecOpus, 48000, 2, 25)}},
	{Name: "ertmp_av1_aac", Input: buildAV1AAC, Extra: expect{}, Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecAV1, 320, 180, 15, false), demuxtest.Audio(media.CodecAAC, 48000, 2, 24)}},
	{Name: "ertmp_vp9_multitrack_mp3", Input: buildVP9MP3, Extra: expect{droppedOtherTracks: 5}, Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecVP9, 0, 0, 15, false), demuxtest.Audio(media.CodecMP3, 44100, 2, 19)}},
}

func TestDemuxFiles(t *testing.T) {
	demuxtest.RunFileCases(t, cases, demuxBytes, func(t *testing.T, ca demuxtest.FileCase, _ []byte, r *demuxed) {
		want := ca.Extra.(expect)
		require.Equal(t, want.droppedOtherTracks, r.stats.DroppedOtherTracks)
		require.Zero(t, r.stats.Discontinuities)
		checkInvariants(t, r.Frames)

		vt := r.KindTrack(media.KindVideo)
		if vt.Codec != media.CodecH264 {
			return
		}
		var c h264.DecoderConfig
		require.NoError(t, c.Unmarshal(vt.Config))
		sps, err := h264.ParseSPS(c.SPS[0])
		require.NoError(t, err)
		require.Equal(t, want.profile, sps.ProfileName())
		require.Equal(t, want.spsBFrames, sps.MayHaveBFrames(), "SPS verdict")
		var det h264.BFrameDetector
		reordered := false
		for _, f := range r.video() {
			det.Observe(f.Data, f.PTS)
			reordered = reordered || f.PTS != f.DTS
		}
		require.Equal(t, reordered, det.Detected(), "runtime verdict")
	})
}

// checkInvariants holds for any demuxed stream, real or fuzzed.
func checkInvariants(t testing.TB, frames []*media.Frame) {
	t.Helper()
	lastDTS := map[*media.Track]int64{}
	for i, f := range frames {
		require.NotNil(t, f.Track, "frame %d", i)
		require.NotEmpty(t, f.Data, "frame %d", i)
		for _, u := range f.Data {
			require.NotEmpty(t, u, "frame %d", i)
		}
		if f.Track.Kind == media.KindAudio {
			require.True(t, f.Key)
			require.Equal(t, f.DTS, f.PTS)
		}
		if prev, ok := lastDTS[f.Track]; ok {
			require.GreaterOrEqual(t, f.DTS, prev, "frame %d: DTS goes back", i)
		}
		lastDTS[f.Track] = f.DTS
	}
}
