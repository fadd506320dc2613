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
	"github.com/tributary-ingress/tributary/internal/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// fileCase is one real stream from testdata/gen.sh.
type fileCase struct {
	name string
	file string

	videoCodec    media.CodecID
	width, height int
	videoFrames   int
	bframes       bool

	audioCodec  media.CodecID
	sampleRate  int
	channels    int
	audioFrames int
}

var cases = []fileCase{
	{
		name: "ffmpeg_h264_bf2_aac", file: "h264_bf2_aac.ts",
		videoCodec: media.CodecH264, width: 320, height: 180, videoFrames: 30, bframes: true,
		audioCodec: media.CodecAAC, sampleRate: 44100, channels: 1, audioFrames: 45,
	},
	{
		name: "ffmpeg_hevc_mp3", file: "hevc_mp3.ts",
		videoCodec: media.CodecH265, width: 320, height: 180, videoFrames: 30,
		audioCodec: media.CodecMP3, sampleRate: 48000, channels: 2, audioFrames: 43,
	},
	{
		name: "ffmpeg_h264_opus", file: "h264_opus.ts",
		videoCodec: media.CodecH264, width: 320, height: 180, videoFrames: 30,
		audioCodec: media.CodecOpus, sampleRate: 48000, channels: 2, audioFrames: 51,
	},
	{
		name: "ffmpeg_wrap", file: "wrap.ts",
		videoCodec: media.CodecH264, width: 320, height: 180, videoFrames: 60, bframes: true,
		audioCodec: media.CodecAAC, sampleRate: 48000, channels: 1, audioFrames: 95,
	},
	{
		name: "ffmpeg_mpeg2_mp2", file: "mpeg2_mp2.ts",
		videoCodec: media.CodecMPEG2Video, width: 320, height: 180, videoFrames: 15, bframes: true,
		audioCodec: media.CodecMP2, sampleRate: 48000, channels: 2, audioFrames: 21,
	},
	{
		name: "ffmpeg_h264_ac3", file: "ac3.ts",
		videoCodec: media.CodecH264, width: 320, height: 180, videoFrames: 9, bframes: true,
		audioCodec: media.CodecAC3, sampleRate: 44100, channels: 1, audioFrames: 9,
	},
	{
		name: "ffmpeg_h264_eac3_dvb", file: "eac3_dvb.ts",
		videoCodec: media.CodecH264, width: 320, height: 180, videoFrames: 9, bframes: true,
		audioCodec: media.CodecEAC3, sampleRate: 48000, channels: 6, audioFrames: 10,
	},
	{
		name: "ffmpeg_h264_latm", file: "latm.ts",
		videoCodec: media.CodecH264, width: 320, height: 180, videoFrames: 9, bframes: true,
		audioCodec: media.CodecAAC, sampleRate: 48000, channels: 2, audioFrames: 16,
	},
	{
		name: "gst_x264_voaac", file: "gst_x264_voaac.ts",
		videoCodec: media.CodecH264, width: 240, height: 160, videoFrames: 30, bframes: true,
		audioCodec: media.CodecAAC, sampleRate: 44100, channels: 2, audioFrames: 25,
	},
}

func TestDemuxFiles(t *testing.T) {
	for _, ca := range cases {
		t.Run(ca.name, func(t *testing.T) {
			in := demuxtest.ReadTestdata(t, ca.file)
			clone := bytes.Clone(in)
			r, err := demuxBytes(in)
			require.NoError(t, err)
			require.Equal(t, clone, in, "input mutated")
			demuxtest.CheckGolden(t, ca.name, r.dump())
			checkInvariants(t, r)

			vt := r.KindTrack(media.KindVideo)
			require.NotNil(t, vt)
			require.Equal(t, ca.videoCodec, vt.Codec)
			require.Equal(t, ca.width, vt.Width)
			require.Equal(t, ca.height, vt.Height)
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
				require.Equal(t, ca.width, info.Width)
			case media.CodecH265:
				var c h265.DecoderConfig
				require.NoError(t, c.Unmarshal(vt.Config))
				require.Len(t, c.VPS, 1)
				require.Len(t, c.SPS, 1)
				require.Len(t, c.PPS, 1)
				sps, err := h265.ParseSPS(c.SPS[0])
				require.NoError(t, err)
				require.Equal(t, ca.width, sps.Width)
			}

			at := r.KindTrack(media.KindAudio)
			require.NotNil(t, at)
			require.Equal(t, ca.audioCodec, at.Codec)
			require.Equal(t, ca.sampleRate, at.SampleRate)
			require.Equal(t, ca.channels, at.Channels)

			video, audio := r.KindFrames(media.KindVideo), r.KindFrames(media.KindAudio)
			require.Len(t, video, ca.videoFrames)
			require.Len(t, audio, ca.audioFrames)
			require.True(t, video[0].Key)
			reordered := false
			for i, f := range video {
				reordered = reordered || f.PTS != f.DTS
				if i > 0 {
					require.Greater(t, f.DTS, video[i-1].DTS, "video DTS must increase (frame %d)", i)
				}
			}
			require.Equal(t, ca.bframes, reordered)
			for i := 1; i < len(audio); i++ {
				require.Greater(t, audio[i].DTS, audio[i-1].DTS, "audio DTS must increase (frame %d)", i)
			}
			// Rebased: the earliest DTS is 0.
			require.Zero(t, min(video[0].DTS, media.Rescale(audio[0].DTS, at.ClockRate, VideoClockRate)))

			checkAgainstFFprobe(t, ca.file, video, audio)
		})
	}
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
