package mp4

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/demux"
	"github.com/tributary-ingress/tributary/internal/testutil/demuxtest"
	"github.com/tributary-ingress/tributary/media"
)

// cases are the real files of testdata/gen.sh. Extra is streamable: true
// when RunFragmented can read the file too (moov first) and must give the
// same frames as Run.
var cases = []demuxtest.FileCase{
	{Name: "ffmpeg_h264_aac_faststart", File: "h264_aac_faststart.mp4", Extra: streamable, Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 180, 30, true), demuxtest.Audio(media.CodecAAC, 44100, 1, 45)}},
	{Name: "ffmpeg_h264_aac_moov_end", File: "h264_aac_moov_end.mp4", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 180, 60, true), demuxtest.Audio(media.CodecAAC, 44100, 1, 88)}},
	{Name: "ffmpeg_h264_aac_mov", File: "h264_aac.mov", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 180, 30, true), demuxtest.Audio(media.CodecAAC, 44100, 1, 45)}},
	{Name: "ffmpeg_aac_m4a", File: "aac_48k.m4a", Tracks: []demuxtest.Track{
		demuxtest.Audio(media.CodecAAC, 48000, 2, 48)}},
	{Name: "ffmpeg_h264_aac_fragmented", File: "h264_aac_frag.mp4", Extra: streamable, Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 180, 60, true), demuxtest.Audio(media.CodecAAC, 44100, 1, 88)}},
	{Name: "ffmpeg_h264_opus_cmaf", File: "h264_opus_cmaf.mp4", Extra: streamable, Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 180, 30, true), demuxtest.Audio(media.CodecOpus, 48000, 2, 51)}},
	{Name: "ffmpeg_hevc_opus", File: "hevc_opus.mp4", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH265, 320, 180, 30, true), demuxtest.Audio(media.CodecOpus, 48000, 1, 51)}},
	{Name: "ffmpeg_av1_mp3", File: "av1_mp3.mp4", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecAV1, 320, 180, 30, false), demuxtest.Audio(media.CodecMP3, 44100, 2, 40)}},
	{Name: "ffmpeg_vp9_opus", File: "vp9_opus.mp4", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecVP9, 320, 180, 30, false), demuxtest.Audio(media.CodecOpus, 48000, 2, 51)}},
	{Name: "gst_x264_voaac", File: "gst_x264_voaac.mp4", Tracks: []demuxtest.Track{
		demuxtest.Video(media.CodecH264, 320, 240, 30, true), demuxtest.Audio(media.CodecAAC, 44100, 2, 25)}},
}

// streamable marks the cases RunFragmented reads too.
const streamable = true

func TestDemuxFiles(t *testing.T) {
	demuxtest.RunFileCases(t, cases, demuxBytes, func(t *testing.T, ca demuxtest.FileCase, in []byte, r *demuxed) {
		checkInvariants(t, r.Frames)
		if vt := r.KindTrack(media.KindVideo); vt != nil {
			require.NotEmpty(t, vt.Config)
		}
		checkProbe(t, r, demuxtest.ReadProbe(t, ca.File, "stream_index", "pts", "dts", "size", "flags"))
		if ca.Extra == streamable {
			rs, err := demuxStream(in)
			require.NoError(t, err)
			require.Equal(t, r.Dump(), rs.Dump(), "RunFragmented and Run disagree")
		}
	})
}

// checkInvariants holds for any demuxed stream, real or fuzzed.
func checkInvariants(t testing.TB, frames []*media.Frame) {
	t.Helper()
	lastDTS := map[*media.Track]int64{}
	for i, f := range frames {
		require.NotNil(t, f.Track, "frame %d", i)
		require.NotEmpty(t, f.Data, "frame %d", i)
		size := 0
		for _, u := range f.Data {
			require.NotEmpty(t, u, "frame %d", i)
			size += len(u)
		}
		require.LessOrEqual(t, size, MaxSampleSize)
		if f.Track.Kind == media.KindAudio {
			require.True(t, f.Key)
		}
		if prev, ok := lastDTS[f.Track]; ok {
			require.GreaterOrEqual(t, f.DTS, prev, "frame %d: DTS goes back", i)
		}
		lastDTS[f.Track] = f.DTS
	}
}

// checkProbe compares the frames with ffprobe's packets: counts, sizes,
// keyframes, decode and presentation times per track, the offset between
// the tracks, and that frames come in decode order across tracks.
func checkProbe(t *testing.T, r *demuxed, p *demuxtest.Probe) {
	t.Helper()
	firstSec := map[int]float64{}
	minSec := 0.0
	for i := range r.Tracks {
		for _, pk := range p.Packets {
			if pk.Stream == i {
				s := float64(pk.DTS) / float64(p.Timebase[i])
				firstSec[i] = s
				if len(firstSec) == 1 || s < minSec {
					minSec = s
				}
				break
			}
		}
	}
	for i, tr := range r.Tracks {
		var pks []demuxtest.Packet
		for _, pk := range p.Packets {
			if pk.Stream == i {
				pks = append(pks, pk)
			}
		}
		fs := r.TrackFrames(tr)
		require.Len(t, fs, len(pks), "track %d", tr.ID)
		tb, rate := int(p.Timebase[i]), tr.ClockRate
		for j, f := range fs {
			pk := pks[j]
			size := 0
			for _, u := range f.Data {
				size += len(u)
				if tr.Codec == media.CodecH264 || tr.Codec == media.CodecH265 {
					size += 4
				}
			}
			require.Equal(t, pk.Size, size, "track %d frame %d size", tr.ID, j)
			if tr.Kind == media.KindVideo {
				require.Equal(t, pk.Key, f.Key, "track %d frame %d key", tr.ID, j)
			}
			wantDTS := media.Rescale(pk.DTS-pks[0].DTS, tb, rate)
			require.InDelta(t, wantDTS, f.DTS-fs[0].DTS, 1, "track %d frame %d DTS", tr.ID, j)
			wantCTO := media.Rescale(pk.PTS-pk.DTS, tb, rate)
			require.InDelta(t, wantCTO, f.PTS-f.DTS, 1, "track %d frame %d PTS", tr.ID, j)
		}
		got := float64(fs[0].DTS) / float64(rate)
		require.InDelta(t, firstSec[i]-minSec, got, 0.001, "track %d start", tr.ID)
	}
	last := -1.0
	for i, f := range r.Frames {
		s := float64(f.DTS) / float64(f.Track.ClockRate)
		require.GreaterOrEqual(t, s, last-1e-9, "frame %d out of decode order", i)
		last = s
	}
}

func TestTruncated(t *testing.T) {
	for _, ca := range cases {
		t.Run(ca.Name, func(t *testing.T) {
			in := ca.Read(t)
			cut := in[:len(in)/2]
			r, err := demuxBytes(cut)
			require.ErrorIs(t, err, demux.ErrTruncated, "%v", err)
			checkInvariants(t, r.Frames)
			if ca.Extra == streamable {
				rs, err := demuxStream(cut)
				require.ErrorIs(t, err, demux.ErrTruncated, "%v", err)
				require.NotEmpty(t, rs.Frames, "the frames before the cut")
				checkInvariants(t, rs.Frames)
			}
		})
	}
}

func TestUnsupportedCodec(t *testing.T) {
	for _, ca := range []struct{ file, name string }{
		{"alac.m4a", "unsupported audio codec in MP4: ALAC ('alac')"},
	} {
		t.Run(ca.file, func(t *testing.T) {
			_, err := demuxBytes(demuxtest.ReadTestdata(t, ca.file))
			require.ErrorIs(t, err, demux.ErrUnsupportedCodec)
			require.EqualError(t, err, ca.name)
		})
	}
}

func TestMalformed(t *testing.T) {
	for _, ca := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"text", []byte("<html><body>404 Not Found</body></html>\n")},
		{"short", []byte{0, 0, 0}},
		{"bad box size", []byte{0, 0, 0, 4, 'f', 't', 'y', 'p'}},
		{"no moov", append([]byte{0, 0, 0, 16, 'f', 't', 'y', 'p'}, "isom\x00\x00\x00\x00"...)},
		{"zeros", make([]byte, 100)},
	} {
		t.Run(ca.name, func(t *testing.T) {
			_, err := demuxBytes(ca.in)
			require.ErrorIs(t, err, demux.ErrMalformed, "%v", err)
			_, err = demuxStream(ca.in)
			require.ErrorIs(t, err, demux.ErrMalformed, "%v", err)
		})
	}
}

// countingReaderAt counts the bytes read.
type countingReaderAt struct {
	r io.ReaderAt
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// TestMoovAtEndReadsLittle checks that a file with the moov box at the end
// starts after reading the box headers, the moov box and the first
// sample's window, not the whole file.
func TestMoovAtEndReadsLittle(t *testing.T) {
	in := demuxtest.ReadTestdata(t, "h264_aac_moov_end.mp4")
	moov := bytes.Index(in, []byte("moov")) - 4
	require.Greater(t, moov, len(in)*3/4, "the fixture has its moov at the end")
	cr := &countingReaderAt{r: bytes.NewReader(in)}
	var atFirst int64 = -1
	frames := 0
	d := &Demuxer{
		OnTrack: func(*media.Track) error { return nil },
		OnFrame: func(*media.Frame) error {
			if atFirst < 0 {
				atFirst = cr.n
			}
			frames++
			return nil
		},
		ReadAhead: 4096,
	}
	require.NoError(t, d.Initialize())
	require.NoError(t, d.Run(context.Background(), cr, int64(len(in))))
	require.Equal(t, 148, frames)
	moovSize := int64(len(in) - moov)
	require.LessOrEqual(t, atFirst, moovSize+4*largeBoxHeaderSize+4096)
	require.Less(t, atFirst*5, int64(len(in)), "read %d of %d bytes before the first frame", atFirst, len(in))
	// Every byte is read about once in total.
	require.Less(t, cr.n, int64(len(in))*3/2)
}

func TestRunFragmentedNeedsMoovFirst(t *testing.T) {
	_, err := demuxStream(demuxtest.ReadTestdata(t, "h264_aac_moov_end.mp4"))
	require.ErrorIs(t, err, demux.ErrMalformed)
	require.ErrorContains(t, err, "needs Run")
}

func TestCallbackErrors(t *testing.T) {
	stop := errors.New("stop")
	for _, file := range []string{"h264_aac_faststart.mp4", "h264_aac_frag.mp4"} {
		in := demuxtest.ReadTestdata(t, file)
		d := &Demuxer{
			OnTrack: func(*media.Track) error { return nil },
			OnFrame: func(*media.Frame) error { return stop },
		}
		require.NoError(t, d.Initialize())
		require.Same(t, stop, d.Run(context.Background(), bytes.NewReader(in), int64(len(in))))
		d = &Demuxer{
			OnTrack: func(*media.Track) error { return stop },
			OnFrame: func(*media.Frame) error { return nil },
		}
		require.NoError(t, d.Initialize())
		require.Same(t, stop, d.RunFragmented(context.Background(), bytes.NewReader(in)))
	}
}

func TestContextCanceled(t *testing.T) {
	in := demuxtest.ReadTestdata(t, "h264_aac_faststart.mp4")
	ctx, cancel := context.WithCancel(context.Background())
	frames := 0
	d := &Demuxer{
		OnTrack: func(*media.Track) error { return nil },
		OnFrame: func(*media.Frame) error {
			frames++
			if frames == 3 {
				cancel()
			}
			return nil
		},
	}
	require.NoError(t, d.Initialize())
	require.ErrorIs(t, d.Run(ctx, bytes.NewReader(in), int64(len(in))), context.Canceled)
	require.Equal(t, 3, frames)
}

func TestInitialize(t *testing.T) {
	require.Error(t, (&Demuxer{}).Initialize())
	d := &Demuxer{OnTrack: func(*media.Track) error { return nil }, OnFrame: func(*media.Frame) error { return nil }}
	require.NoError(t, d.Initialize())
	require.Equal(t, DefaultReadAhead, d.ReadAhead)
}

// TestFramesOwnTheirBytes checks that frames do not alias the read-ahead
// window: their bytes stay put after the demuxer read on.
func TestFramesOwnTheirBytes(t *testing.T) {
	in := demuxtest.ReadTestdata(t, "h264_aac_faststart.mp4")
	r, err := demuxBytes(in)
	require.NoError(t, err)
	first := bytes.Clone(r.Frames[0].Data[0])
	r2, err := demuxBytes(in)
	require.NoError(t, err)
	require.Equal(t, first, r2.Frames[0].Data[0])
	for _, f := range r.Frames {
		for _, u := range f.Data {
			require.True(t, strings.Contains(string(in), string(u)))
		}
	}
}

// TestUncompressedAudio reads QuickTime PCM of several layouts and G.711:
// every sample of the 0.1 s of tone, joined into frames of 20 ms at
// most, PCM converted to 16-bit little-endian (a 440 Hz tone still).
func TestUncompressedAudio(t *testing.T) {
	for _, ca := range []struct {
		file     string
		codec    media.CodecID
		rate     int
		channels int
		seconds  float64
	}{
		{"pcm.mov", media.CodecPCM, 44100, 1, 0.1},
		{"pcm_s24be.mov", media.CodecPCM, 44100, 1, 0.1},
		{"pcm_f32le.mov", media.CodecPCM, 44100, 1, 0.1},
		{"mulaw.mov", media.CodecPCMU, 8000, 1, 0.1},
		{"h264_pcm.mov", media.CodecPCM, 48000, 2, 0.2},
	} {
		t.Run(ca.file, func(t *testing.T) {
			r, err := demuxBytes(demuxtest.ReadTestdata(t, ca.file))
			require.NoError(t, err)
			at := r.KindTrack(media.KindAudio)
			require.NotNil(t, at)
			require.Equal(t, ca.codec, at.Codec)
			require.Equal(t, ca.rate, at.SampleRate)
			require.Equal(t, ca.channels, at.Channels)
			width := ca.channels
			if ca.codec == media.CodecPCM {
				width *= 2
			}
			var all []byte
			frames := r.KindFrames(media.KindAudio)
			require.NotEmpty(t, frames)
			first := frames[0].PTS
			next := first
			for i, f := range frames {
				require.Equal(t, next, f.PTS, "frame %d follows the one before", i)
				require.Zero(t, len(f.Data[0])%width)
				n := len(f.Data[0]) / width
				require.LessOrEqual(t, n, ca.rate/50+ca.rate/100, "frame %d of about 20 ms", i)
				next += int64(n)
				all = append(all, f.Data[0]...)
			}
			require.Equal(t, int64(float64(ca.rate)*ca.seconds), next-first, "every sample")
			if ca.codec == media.CodecPCM {
				rising, prev := 0, int16(0)
				for i := 0; i+1 < len(all); i += width {
					v := int16(binary.LittleEndian.Uint16(all[i:]))
					if prev < 0 && v >= 0 {
						rising++
					}
					prev = v
				}
				require.InDelta(t, 440*ca.seconds, rising, 1, "a 440 Hz tone")
			}
			if ca.file == "h264_pcm.mov" {
				require.Len(t, r.KindFrames(media.KindVideo), 6)
			}
		})
	}
	r, err := demuxBytes(demuxtest.ReadTestdata(t, "ac3.mp4"))
	require.NoError(t, err)
	require.Equal(t, media.CodecAC3, r.KindTrack(media.KindAudio).Codec)
	require.NotEmpty(t, r.KindFrames(media.KindAudio))
}
