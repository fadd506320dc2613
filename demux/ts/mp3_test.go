package ts

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// TestMP3LSF demuxes MPEG-2 Layer III (the low sample rates, whose frames
// hold 576 samples in 72·bitrate/rate bytes) and compares every frame with
// ffprobe's packet: the same count, size and timestamp. Splitting with the
// MPEG-1 length (144·bitrate/rate) would glue two frames into one and
// stamp it with half its duration, so the audio would run at half speed.
func TestMP3LSF(t *testing.T) {
	for _, rate := range []int{16000, 22050, 24000} {
		file := "mp3_lsf_" + strconv.Itoa(rate) + ".ts"
		t.Run(file, func(t *testing.T) {
			r, err := demuxBytes(demuxtest.ReadTestdata(t, file))
			require.NoError(t, err)
			at := r.KindTrack(media.KindAudio)
			require.NotNil(t, at)
			require.Equal(t, media.CodecMP3, at.Codec)
			require.Equal(t, rate, at.SampleRate)
			require.Equal(t, 1, at.Channels)

			audio := r.KindFrames(media.KindAudio)
			probe := demuxtest.FFprobe(t, file, "a", "packet=pts,size")
			require.Len(t, audio, len(probe), "frames vs ffprobe's packets")
			start, err := strconv.ParseInt(probe[0][0], 10, 64)
			require.NoError(t, err)
			// The track's clock is the sample rate: a PES timestamp is
			// rounded to one sample.
			sample := float64(VideoClockRate)/float64(rate) + 1
			for i, f := range audio {
				pts, err1 := strconv.ParseInt(probe[i][0], 10, 64)
				size, err2 := strconv.Atoi(probe[i][1])
				require.NoError(t, err1)
				require.NoError(t, err2)
				require.Len(t, f.Data, 1)
				require.Len(t, f.Data[0], size, "frame %d size", i)
				got := media.Rescale(f.PTS, at.ClockRate, VideoClockRate)
				require.InDelta(t, pts-start, got, sample, "frame %d PTS", i)
			}
		})
	}
}
