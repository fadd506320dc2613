package pipeline_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFileTracksStartApart: a file session whose tracks were both announced
// before any frame (MP4, Matroska), whose audio starts 0.5 s after its
// video and is stored first: every frame leaves on its timestamp, the
// video's first half second in real time rather than at once behind the
// audio's first frame, and the audio 0.5 s after the video's start.
func TestFileTracksStartApart(t *testing.T) {
	r := newRig(t, rigOpts{file: true})
	rm := r.publish(t)
	require.Eventually(t, func() bool { return rm.Video() != nil && rm.Audio() != nil }, 10*time.Second, time.Millisecond)

	start := r.clock.Now()
	require.NoError(t, r.s.Frame(audioFrame(25))) // 0.5 s
	// The audio's writer waits for its frame's time first.
	r.clock.WaitTimer(t, 20*time.Millisecond)
	for i := range 30 { // 0 to 0.97 s
		require.NoError(t, r.s.Frame(videoFrame(i)))
	}
	for i := 26; i < 50; i++ {
		require.NoError(t, r.s.Frame(audioFrame(i)))
	}

	// The pacing delay of a file without transcoding.
	const delay = 20 * time.Millisecond
	r.clock.Run(t, 5*time.Millisecond, 2*time.Second, func() bool {
		elapsed := r.clock.Now().Sub(start)
		video, audio := rm.Video().Frames(0), rm.Audio().Frames()
		due := 0 // video frames due by now
		for i := range 30 {
			if delay+time.Duration(i)*time.Second/30 <= elapsed {
				due = i + 1
			}
		}
		require.LessOrEqual(t, len(video), due, "at %v: %d video frames left, %d were due", elapsed, len(video), due)
		if len(audio) > 0 {
			require.GreaterOrEqual(t, elapsed, delay+500*time.Millisecond, "the audio's first frame (0.5 s) left at %v", elapsed)
		}
		return len(video) == 30 && len(audio) == 25
	})
}
