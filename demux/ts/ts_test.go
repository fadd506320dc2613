package ts

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/h265"
	"github.com/tributary-ingress/tributary/codec/mpeg2"
	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// cases are the real streams of testdata/gen.sh.
var cases = []demuxtest.FileCase{
	{Name: "ffmpeg_h264_bf2_aac", File: "h264_bf2_aac.ts", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 180, 30, true), demuxtest.Audio(media.CodecAAC, 44100, 1, 45)}},
	{Name: "ffmpeg_hevc_mp3", File: "hevc_mp3.ts", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH265, 320, 180, 30, false), demuxtest.Audio(media.CodecMP3, 48000, 2, 43)}},
	{Name: "ffmpeg_h264_opus", File: "h264_opus.ts", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 180, 30, false), demuxtest.Audio(media.CodecOpus, 48000, 2, 51)}},
	{Name: "ffmpeg_wrap", File: "wrap.ts", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 180, 60, true), demuxtest.Audio(media.CodecAAC, 48000, 1, 95)}},
	{Name: "ffmpeg_mpeg2_mp2", File: "mpeg2_mp2.ts", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecMPEG2Video, 320, 180, 15, true), demuxtest.Audio(media.CodecMP2, 48000, 2, 21)}},
	{Name: "ffmpeg_h264_ac3", File: "ac3.ts", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 180, 9, true), demuxtest.Audio(media.CodecAC3, 44100, 1, 9)}},
	{Name: "ffmpeg_h264_eac3_dvb", File: "eac3_dvb.ts", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 180, 9, true), demuxtest.Audio(media.CodecEAC3, 48000, 6, 10)}},
	{Name: "ffmpeg_h264_latm", File: "latm.ts", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 180, 9, true), demuxtest.Audio(media.CodecAAC, 48000, 2, 16)}},
	{Name: "gst_x264_voaac", File: "gst_x264_voaac.ts", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 240, 160, 30, true), demuxtest.Audio(media.CodecAAC, 44100, 2, 25)}},
}

func TestDemuxFiles(t *testing.T) {
	demuxtest.RunFileCases(t, cases, demuxOne, func(t *testing.T, ca demuxtest.FileCase, _ []byte, r *demuxed) {
		checkInvariants(t, r)
		vt := r.KindTrack(media.KindVideo)
		switch vt.Codec {
		case media.CodecH264:
			var c h264.DecoderConfig
			require.NoError(t, c.Unmarshal(vt.Config))
			require.Len(t, c.SPS, 1)
			require.Len(t, c.PPS, 1)
			require.Equal(t, 4, c.LengthSize)
		case media.CodecMPEG2Video:
			info, err := mpeg2.Parse(vt.Config)
			require.NoError(t, err)
			require.True(t, info.Sequence, "the sequence header is the configuration")
			require.Equal(t, vt.Width, info.Width)
		case media.CodecH265:
			var c h265.DecoderConfig
			require.NoError(t, c.Unmarshal(vt.Config))
			require.Len(t, c.VPS, 1)
			require.Len(t, c.SPS, 1)
			require.Len(t, c.PPS, 1)
			sps, err := h265.ParseSPS(c.SPS[0])
			require.NoError(t, err)
			require.Equal(t, vt.Width, sps.Width)
		}

		at := r.KindTrack(media.KindAudio)
		video, audio := r.KindFrames(media.KindVideo), r.KindFrames(media.KindAudio)
		for _, frames := range [][]*media.Frame{video, audio} {
			for i := 1; i < len(frames); i++ {
				require.Greater(t, frames[i].DTS, frames[i-1].DTS, "%s DTS must increase (frame %d)", frames[i].Track.Kind, i)
			}
		}
		// Rebased: the earliest DTS is 0.
		require.Zero(t, min(video[0].DTS, media.Rescale(audio[0].DTS, at.ClockRate, VideoClockRate)))

		checkAgainstFFprobe(t, ca.File, video, audio)
	})
}

// ffprobePackets returns the (pts, dts) in 90 kHz of the packets of one
// stream kind ("v" or "a"), as ffprobe demuxes them.
func ffprobePackets(t *testing.T, file, sel string) [][2]int64 {
	t.Helper()
	var res [][2]int64
	for _, f := range demuxtest.FFprobe(t, file, sel, "packet=pts,dts") {
		if len(f) < 2 {
			continue
		}
		pts, err1 := strconv.ParseInt(f[0], 10, 64)
		dts, err2 := strconv.ParseInt(f[1], 10, 64)
		require.NoError(t, errors.Join(err1, err2), strings.Join(f, ","))
		res = append(res, [2]int64{pts, dts})
	}
	return res
}

// checkAgainstFFprobe compares frame counts and timestamps with ffprobe's:
// video PTS/DTS exactly, audio within the rounding of one sample (a 44.1 kHz sample is 2.04 ticks).
func checkAgainstFFprobe(t *testing.T, file string, video, audio []*media.Frame) {
	v := ffprobePackets(t, file, "v")
	a := ffprobePackets(t, file, "a")
	require.Len(t, video, len(v), "video frames vs ffprobe")
	require.Len(t, audio, len(a), "audio frames vs ffprobe")
	offset := min(v[0][1], a[0][1])
	for i, f := range video {
		require.Equal(t, v[i][0]-offset, f.PTS, "video frame %d PTS", i)
		require.Equal(t, v[i][1]-offset, f.DTS, "video frame %d DTS", i)
	}
	rate := audio[0].Track.ClockRate
	for i, f := range audio {
		got := media.Rescale(f.PTS, rate, VideoClockRate)
		require.InDelta(t, a[i][0]-offset, got, 3, "audio frame %d PTS", i)
	}
}

func TestUnsupportedMPEG4Video(t *testing.T) {
	_, err := demuxBytes(demuxtest.ReadTestdata(t, "mpeg4video.ts"))
	require.ErrorIs(t, err, demux.ErrUnsupportedCodec)
	require.Contains(t, err.Error(), "MPEG-4 Part 2 video (stream type 0x10)")

	// SkipUnsupported: nothing else in the program, so the error stays.
	r := &demuxed{}
	d := newCollector(r)
	d.SkipUnsupported = true
	require.NoError(t, d.Initialize())
	err = d.Run(context.Background(), bytes.NewReader(demuxtest.ReadTestdata(t, "mpeg4video.ts")))
	require.ErrorIs(t, err, demux.ErrUnsupportedCodec)
	require.Contains(t, err.Error(), "MPEG-TS: no supported audio or video track: program 1")
	require.ErrorIs(t, err, demux.ErrNoTracks)
	require.Empty(t, r.Frames)
}

func TestTruncated(t *testing.T) {
	in := demuxtest.ReadTestdata(t, "h264_bf2_aac.ts")
	for _, n := range []int{100, 188*50 + 17, len(in) - 1} {
		r, err := demuxBytes(in[:n])
		require.ErrorIs(t, err, demux.ErrTruncated, "cut at %d", n)
		checkInvariants(t, r)
	}
}

func TestMalformed(t *testing.T) {
	for _, in := range [][]byte{
		[]byte(strings.Repeat("this is not a transport stream ", 40)),
		append(bytes.Clone(demuxtest.ReadTestdata(t, "h264_bf2_aac.ts")[:188*10]), bytes.Repeat([]byte{0x12}, 188)...),
	} {
		_, err := demuxBytes(in)
		require.ErrorIs(t, err, demux.ErrMalformed)
	}
}

func TestEmpty(t *testing.T) {
	r, err := demuxBytes(nil)
	require.NoError(t, err)
	require.Empty(t, r.Frames)
}

func TestCallbackError(t *testing.T) {
	boom := errors.New("boom")
	d := &Demuxer{
		OnTrack: func(*media.Track) error { return nil },
		OnFrame: func(*media.Frame) error { return boom },
	}
	require.NoError(t, d.Initialize())
	require.Equal(t, boom, d.Run(context.Background(), bytes.NewReader(demuxtest.ReadTestdata(t, "h264_bf2_aac.ts"))))
}

func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := &Demuxer{OnTrack: func(*media.Track) error { return nil }, OnFrame: func(*media.Frame) error { return nil }}
	require.NoError(t, d.Initialize())
	require.ErrorIs(t, d.Run(ctx, bytes.NewReader(demuxtest.ReadTestdata(t, "h264_bf2_aac.ts"))), context.Canceled)
}
