package mkv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

type demuxed struct {
	demuxtest.Collector
	stats Stats
}

func demuxBytes(in []byte) (*demuxed, error) {
	r := &demuxed{}
	d := &Demuxer{OnTrack: r.OnTrack, OnFrame: r.OnFrame}
	err := demuxtest.RunBytes(d, in)
	r.stats = d.Stats()
	return r, err
}

// Dump renders the golden text dump of r.
func (r *demuxed) Dump() string {
	var b strings.Builder
	for _, t := range r.Tracks {
		demuxtest.WriteTrack(&b, t, demuxtest.ConfigShortHex)
	}
	for _, f := range r.Frames {
		demuxtest.WriteFrame(&b, f, demuxtest.LabelKindID)
	}
	s := r.stats
	fmt.Fprintf(&b, "stats video=%d audio=%d clusters=%d dropped_other_tracks=%d skipped_tracks=%d\n",
		s.VideoFrames, s.AudioFrames, s.Clusters, s.DroppedOtherTracks, s.SkippedTracks)
	return b.String()
}

// checkInvariants holds for any demuxed stream, real or fuzzed.
func checkInvariants(t testing.TB, r *demuxed) {
	t.Helper()
	announced := map[*media.Track]bool{}
	for _, tr := range r.Tracks {
		announced[tr] = true
		require.Equal(t, tr.Kind, tr.Codec.Kind())
		require.Positive(t, tr.ClockRate)
		if tr.Kind == media.KindAudio {
			require.Equal(t, tr.SampleRate, tr.ClockRate)
			require.Positive(t, tr.Channels)
		} else {
			require.Equal(t, VideoClockRate, tr.ClockRate)
		}
	}
	last := map[*media.Track]int64{}
	for i, f := range r.Frames {
		require.True(t, announced[f.Track], "frame %d before its track", i)
		require.NotEmpty(t, f.Data, "frame %d", i)
		for _, u := range f.Data {
			require.NotEmpty(t, u, "frame %d", i)
		}
		if f.Track.Kind == media.KindAudio {
			require.True(t, f.Key)
			require.Equal(t, f.DTS, f.PTS)
		}
		if prev, ok := last[f.Track]; ok && f.Track.Kind == media.KindVideo {
			require.GreaterOrEqual(t, f.DTS, prev, "frame %d: DTS goes back", i)
		}
		last[f.Track] = f.DTS
	}
}

// cases are the real files of testdata/gen.sh.
var cases = []demuxtest.FileCase{
	{Name: "ffmpeg_vp8_opus", File: "vp8_opus.webm", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecVP8, 320, 180, 30, false), demuxtest.Audio(media.CodecOpus, 48000, 1, 51)}},
	{Name: "ffmpeg_vp9_vorbis", File: "vp9_vorbis.webm", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecVP9, 320, 180, 30, false), demuxtest.Audio(media.CodecVorbis, 48000, 1, 49)}},
	{Name: "ffmpeg_h264_bf2_aac", File: "h264_bf2_aac.mkv", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 180, 30, true), demuxtest.Audio(media.CodecAAC, 48000, 1, 48)}},
	{Name: "ffmpeg_hevc_mp3", File: "hevc_mp3.mkv", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH265, 320, 180, 15, false), demuxtest.Audio(media.CodecMP3, 48000, 1, 22)}},
	{Name: "ffmpeg_av1_opus", File: "av1_opus.mkv", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecAV1, 320, 180, 15, false), demuxtest.Audio(media.CodecOpus, 48000, 1, 26)}},
	{Name: "ffmpeg_h264_pcm", File: "h264_pcm.mkv", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 180, 6, true), demuxtest.Audio(media.CodecPCM, 48000, 2, 10)}},
	{Name: "ffmpeg_h264_ac3", File: "h264_ac3.mkv", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 180, 15, true), demuxtest.Audio(media.CodecAC3, 48000, 6, 16)}},
	{Name: "ffmpeg_h264_mp2", File: "h264_mp2.mkv", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 180, 15, true), demuxtest.Audio(media.CodecMP2, 48000, 2, 21)}},
	{Name: "gst_vp8_opus_streamable", File: "gst_vp8_opus.webm", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecVP8, 320, 180, 30, false), demuxtest.Audio(media.CodecOpus, 48000, 2, 51)}},
}

func TestDemuxFiles(t *testing.T) {
	demuxtest.RunFileCases(t, cases, demuxBytes, func(t *testing.T, ca demuxtest.FileCase, _ []byte, r *demuxed) {
		checkInvariants(t, r)
		at := r.KindTrack(media.KindAudio)
		switch at.Codec {
		case media.CodecMP3, media.CodecMP2, media.CodecAC3, media.CodecPCM: // no CodecPrivate
		default:
			require.NotEmpty(t, at.Config)
		}
		video, audio := r.KindFrames(media.KindVideo), r.KindFrames(media.KindAudio)
		for _, f := range video {
			require.LessOrEqual(t, f.DTS, f.PTS)
		}
		checkAgainstFFprobe(t, ca.File, video, audio)
	})
}

// ffprobePTS returns the PTS in milliseconds (the TimestampScale of the
// fixtures) of the packets of one stream kind.
func ffprobePTS(t *testing.T, file, sel string) []int64 {
	t.Helper()
	var res []int64
	for _, rec := range demuxtest.FFprobe(t, file, sel, "packet=pts") {
		v, err := strconv.ParseInt(rec[0], 10, 64)
		require.NoError(t, err, rec[0])
		res = append(res, v)
	}
	return res
}

// checkAgainstFFprobe compares frame counts and PTS (relative to the
// first video frame, to the millisecond) with ffprobe's.
func checkAgainstFFprobe(t *testing.T, file string, video, audio []*media.Frame) {
	v, a := ffprobePTS(t, file, "v"), ffprobePTS(t, file, "a")
	require.Len(t, video, len(v))
	require.Len(t, audio, len(a))
	for i, f := range video {
		require.InDelta(t, v[i]-v[0], media.Rescale(f.PTS-video[0].PTS, VideoClockRate, 1000), 1, "video frame %d", i)
	}
	rate := audio[0].Track.ClockRate
	for i, f := range audio {
		require.InDelta(t, a[i]-v[0], media.Rescale(f.PTS, rate, 1000)-media.Rescale(video[0].PTS, VideoClockRate, 1000), 1, "audio frame %d", i)
	}
}

func TestTruncated(t *testing.T) {
	in := demuxtest.ReadTestdata(t, "h264_bf2_aac.mkv")
	for _, n := range []int{30, 300, len(in) / 2, len(in) - 1} {
		r, err := demuxBytes(in[:n])
		require.ErrorIs(t, err, demux.ErrTruncated, "cut at %d", n)
		checkInvariants(t, r)
	}
}

func TestMalformed(t *testing.T) {
	_, err := demuxBytes([]byte(strings.Repeat("not a matroska file ", 20)))
	require.ErrorIs(t, err, demux.ErrMalformed)
	_, err = demuxBytes(nil)
	require.ErrorIs(t, err, demux.ErrMalformed)
}

func TestCallbackError(t *testing.T) {
	boom := errors.New("boom")
	d := &Demuxer{OnTrack: func(*media.Track) error { return nil }, OnFrame: func(*media.Frame) error { return boom }}
	require.NoError(t, d.Initialize())
	require.Equal(t, boom, d.Run(context.Background(), bytes.NewReader(demuxtest.ReadTestdata(t, "vp8_opus.webm"))))
}

// TestPCMConverted: 24-bit PCM comes out as 16-bit little-endian, every
// sample of the 0.2 s of 440 Hz tone the file holds.
func TestPCMConverted(t *testing.T) {
	r, err := demuxBytes(demuxtest.ReadTestdata(t, "h264_pcm.mkv"))
	require.NoError(t, err)
	var pcm []byte
	for _, f := range r.KindFrames(media.KindAudio) {
		pcm = append(pcm, f.Data[0]...)
	}
	require.Len(t, pcm, 48000/5*2*2, "0.2 s of 48 kHz stereo in 16 bits")
	rising, prev := 0, int16(0)
	for i := 0; i+3 < len(pcm); i += 4 {
		v := int16(binary.LittleEndian.Uint16(pcm[i:]))
		if prev < 0 && v >= 0 {
			rising++
		}
		prev = v
	}
	require.InDelta(t, 88, rising, 1, "a 440 Hz tone")
}
