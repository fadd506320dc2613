package flv

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/internal/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// fileCase is one real stream: an FLV file from testdata/gen.sh, or an
// Enhanced RTMP stream built from a real elementary stream.
type fileCase struct {
	name  string
	input func(testing.TB) []byte

	videoCodec    media.CodecID
	width, height int
	profile       string // H.264 profile from the SPS
	spsBFrames    bool   // the SPS allows B-frames (H.264 only)
	bframes       bool   // the stream reorders frames
	videoFrames   int

	audioCodec  media.CodecID
	sampleRate  int
	channels    int
	audioFrames int

	droppedOtherTracks uint64
}

func file(name string) func(testing.TB) []byte {
	return func(t testing.TB) []byte { return demuxtest.ReadTestdata(t, name) }
}

var cases = []fileCase{
	{
		name: "ffmpeg_h264_high_bf2_aac", input: file("h264_high_bf2_aac.flv"),
		videoCodec: media.CodecH264, width: 640, height: 360, profile: "High", spsBFrames: true, bframes: true, videoFrames: 30,
		audioCodec: media.CodecAAC, sampleRate: 44100, channels: 1, audioFrames: 45,
	},
	{
		name: "ffmpeg_h264_baseline_aac", input: file("h264_baseline_aac.flv"),
		videoCodec: media.CodecH264, width: 640, height: 360, profile: "Constrained Baseline", videoFrames: 30,
		audioCodec: media.CodecAAC, sampleRate: 48000, channels: 1, audioFrames: 48,
	},
	{
		name: "ffmpeg_h264_main_mp3", input: file("h264_main_mp3.flv"),
		videoCodec: media.CodecH264, width: 320, height: 180, profile: "Main", spsBFrames: true, bframes: true, videoFrames: 30,
		audioCodec: media.CodecMP3, sampleRate: 44100, channels: 2, audioFrames: 40,
	},
	{
		name: "gst_x264_voaac", input: file("gst_x264_voaac.flv"),
		videoCodec: media.CodecH264, width: 320, height: 240, profile: "High", spsBFrames: true, bframes: true, videoFrames: 30,
		audioCodec: media.CodecAAC, sampleRate: 44100, channels: 2, audioFrames: 25,
	},
	{
		name: "ertmp_hevc_opus", input: buildHEVCOpus,
		videoCodec: media.CodecH265, width: 320, height: 180, videoFrames: 15,
		audioCodec: media.CodecOpus, sampleRate: 48000, channels: 2, audioFrames: 25,
	},
	{
		name: "ertmp_av1_aac", input: buildAV1AAC,
		videoCodec: media.CodecAV1, width: 320, height: 180, videoFrames: 15,
		audioCodec: media.CodecAAC, sampleRate: 48000, channels: 2, audioFrames: 24,
	},
	{
		name: "ertmp_vp9_multitrack_mp3", input: buildVP9MP3,
		videoCodec: media.CodecVP9, videoFrames: 15,
		audioCodec: media.CodecMP3, sampleRate: 44100, channels: 2, audioFrames: 19,
		droppedOtherTracks: 5,
	},
}

func TestDemuxFiles(t *testing.T) {
	for _, ca := range cases {
		t.Run(ca.name, func(t *testing.T) {
			in := ca.input(t)
			clone := append([]byte(nil), in...)
			r, err := demuxBytes(in)
			require.NoError(t, err)
			require.Equal(t, clone, in, "input mutated")
			demuxtest.CheckGolden(t, ca.name, r.Dump())

			vt := r.KindTrack(media.KindVideo)
			require.NotNil(t, vt)
			require.Equal(t, ca.videoCodec, vt.Codec)
			require.Equal(t, VideoClockRate, vt.ClockRate)
			require.Equal(t, ca.width, vt.Width)
			require.Equal(t, ca.height, vt.Height)

			at := r.KindTrack(media.KindAudio)
			require.NotNil(t, at)
			require.Equal(t, ca.audioCodec, at.Codec)
			require.Equal(t, ca.sampleRate, at.SampleRate)
			require.Equal(t, ca.sampleRate, at.ClockRate)
			require.Equal(t, ca.channels, at.Channels)

			require.Len(t, r.video(), ca.videoFrames)
			require.Len(t, r.audio(), ca.audioFrames)
			require.Equal(t, ca.droppedOtherTracks, r.stats.DroppedOtherTracks)
			require.Zero(t, r.stats.Discontinuities)
			checkInvariants(t, r.Frames)
			require.True(t, r.video()[0].Key, "the first video frame is a keyframe")

			if ca.videoCodec == media.CodecH264 {
				var c h264.DecoderConfig
				require.NoError(t, c.Unmarshal(vt.Config))
				sps, err := h264.ParseSPS(c.SPS[0])
				require.NoError(t, err)
				require.Equal(t, ca.profile, sps.ProfileName())
				require.Equal(t, ca.spsBFrames, sps.MayHaveBFrames(), "SPS verdict")
			}
			var det h264.BFrameDetector
			reordered := false
			for _, f := range r.video() {
				det.Observe(f.Data, f.PTS)
				reordered = reordered || f.PTS != f.DTS
			}
			if ca.videoCodec == media.CodecH264 {
				require.Equal(t, ca.bframes, det.Detected(), "runtime verdict")
			}
			require.Equal(t, ca.bframes, reordered, "composition time offsets")
		})
	}
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
