package transcode

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/codec/vp9"
	"github.com/tributary-ingress/tributary/ffi"
	"github.com/tributary-ingress/tributary/internal/guard"
	"github.com/tributary-ingress/tributary/internal/testutil/flvtest"
	"github.com/tributary-ingress/tributary/media"

	"github.com/tributary-ingress/tributary/internal/testutil"
)

// makeFLV encodes a test source with the real ffmpeg CLI.
func makeFLV(t testing.TB, args ...string) string {
	t.Helper()
	bin := testutil.FFmpeg(t)
	out := filepath.Join(t.TempDir(), "src.flv")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...)
	full = append(full, "-f", "flv", out)
	b, err := exec.CommandContext(ctx, bin, full...).CombinedOutput()
	require.NoError(t, err, string(b))
	return out
}

// readFLV demuxes a whole file.
func readFLV(t *testing.T, path string) (video, audio *media.Track, frames []*media.Frame) {
	t.Helper()
	video, audio, frames, err := flvtest.ReadAll(path)
	require.NoError(t, err)
	return video, audio, frames
}

// withParams puts the avcC parameter sets before keyframes, as the session does.
func withParams(t *testing.T, tr *media.Track, f *media.Frame) *media.Frame {
	if !f.Key {
		return f
	}
	var dc h264.DecoderConfig
	require.NoError(t, dc.Unmarshal(tr.Config))
	g := *f
	g.Data = append(append(append([][]byte{}, dc.SPS...), dc.PPS...), f.Data...)
	return &g
}

type layerOut struct {
	mu     sync.Mutex
	frames map[int][]*media.Frame
}

func (o *layerOut) add(layer int, f *media.Frame) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.frames[layer] = append(o.frames[layer], f)
}

// TestVideoLayers transcodes 6 s of 640x360 H.264 High with B-frames into
// three layers and checks each output by decoding it: resolution, frame
// count, keyframe interval, timestamps carried from the source, no
// reordering, and bitrate near the target.
func TestVideoLayers(t *testing.T) {
	path := makeFLV(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30,noise=alls=30:allf=t",
		"-t", "6", "-c:v", "libx264", "-profile:v", "high", "-bf", "2", "-g", "50", "-pix_fmt", "yuv420p")
	vtrack, _, frames := readFLV(t, path)
	require.NotNil(t, vtrack)

	layers := []LayerTarget{{160, 90, 150_000}, {320, 180, 400_000}, {640, 360, 1_000_000}}
	out := &layerOut{frames: map[int][]*media.Frame{}}
	v, err := NewVideo(VideoConfig{Source: vtrack, Codec: media.CodecH264, MaxFrameRate: 30, Layers: layers, Output: out.add, Blocking: true})
	require.NoError(t, err)
	srcPTS := map[int64]bool{}
	for _, f := range frames {
		if f.Track.Kind != media.KindVideo {
			continue
		}
		srcPTS[f.PTS] = true
		require.NoError(t, v.Write(withParams(t, vtrack, f)))
	}
	require.NoError(t, v.Close())
	in, per := v.Dropped()
	require.Zero(t, in)
	require.Equal(t, []int64{0, 0, 0}, per, "a blocking transcoder drops nothing")

	for i, l := range layers {
		got := out.frames[i]
		require.Len(t, got, 180, "layer %d: every one of the 6 s × 30 fps pictures", i)
		dec, err := ffi.NewVideoDecoder(ffi.CodecH264, nil)
		require.NoError(t, err)
		var keys []int
		var bytesAfter2s int
		var prev int64 = -1
		for n, f := range got {
			require.True(t, srcPTS[f.PTS], "output PTS %d is a source PTS", f.PTS)
			require.Greater(t, f.PTS, prev, "no reordering, increasing PTS")
			prev = f.PTS
			if f.Key {
				keys = append(keys, n)
			}
			if f.PTS >= 2*90000 {
				for _, d := range f.Data {
					bytesAfter2s += len(d)
				}
			}
			pics, err := dec.Decode(h264.JoinAnnexB(f.Data), f.PTS)
			require.NoError(t, err)
			for _, p := range pics {
				require.Equal(t, l.Width, p.Width())
				require.Equal(t, l.Height, p.Height())
				p.Release()
			}
			if f.Key {
				sps, err := h264.ParseSPS(f.Data[0])
				require.NoError(t, err, "keyframes start with the SPS")
				require.Equal(t, uint8(66), sps.ProfileIDC, "baseline")
				require.NotZero(t, sps.ConstraintFlags&0x40, "constrained baseline (constraint_set1)")
			}
		}
		dec.Close()
		require.Equal(t, 0, keys[0])
		for k := 1; k < len(keys); k++ {
			require.Equal(t, 60, keys[k]-keys[k-1], "layer %d: a keyframe every 2 s at 30 fps", i)
		}
		seconds := float64(got[len(got)-1].PTS-2*90000) / 90000
		bitrate := float64(bytesAfter2s*8) / seconds
		require.InEpsilon(t, float64(l.Bitrate), bitrate, 0.2, "layer %d bitrate", i)
	}
}

// TestVideoKeyframeRequest checks that a request lands on the asked layer only.
func TestVideoKeyframeRequest(t *testing.T) {
	path := makeFLV(t, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", "2", "-c:v", "libx264", "-bf", "0", "-g", "300")
	vtrack, _, frames := readFLV(t, path)
	out := &layerOut{frames: map[int][]*media.Frame{}}
	v, err := NewVideo(VideoConfig{Source: vtrack, Codec: media.CodecH264, Layers: []LayerTarget{{160, 90, 100_000}, {320, 180, 300_000}}, Output: out.add, Blocking: true})
	require.NoError(t, err)
	n := 0
	for _, f := range frames {
		if f.Track.Kind != media.KindVideo {
			continue
		}
		if n == 30 {
			// Let the pipeline drain (no B-frames: one picture out per
			// frame in) so the request applies from here on.
			deadline := time.Now().Add(20 * time.Second)
			for {
				out.mu.Lock()
				c := len(out.frames[1])
				out.mu.Unlock()
				if c >= 30 {
					break
				}
				require.True(t, time.Now().Before(deadline), "layer 1 produced %d of 30 frames", c)
				time.Sleep(5 * time.Millisecond)
			}
			v.RequestKeyframe(1)
		}
		require.NoError(t, v.Write(withParams(t, vtrack, f)))
		n++
	}
	require.NoError(t, v.Close())
	countKeys := func(fs []*media.Frame) int {
		k := 0
		for _, f := range fs {
			if f.Key {
				k++
			}
		}
		return k
	}
	require.Equal(t, 1, countKeys(out.frames[0]), "layer 0 keeps its 2 s cadence: one keyframe in 2 s")
	require.Equal(t, 2, countKeys(out.frames[1]), "layer 1 gets the requested keyframe")
}

// TestVideoLayerPause pauses two layers (one scaled, one that encodes the
// decoded picture as is) and resumes one of them: a paused layer outputs
// nothing, the others keep every picture at their size, and the resumed
// layer starts again with a keyframe that a new decoder can start from,
// where its encoder's own 2 s cadence would not have put one.
func TestVideoLayerPause(t *testing.T) {
	path := makeFLV(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-t", "6", "-c:v", "libx264", "-bf", "0", "-g", "300")
	vtrack, _, frames := readFLV(t, path)
	layers := []LayerTarget{{160, 90, 100_000}, {320, 180, 300_000}, {640, 360, 800_000}}
	out := &layerOut{frames: map[int][]*media.Frame{}}
	v, err := NewVideo(VideoConfig{Source: vtrack, Codec: media.CodecH264, Layers: layers, Output: out.add, Blocking: true})
	require.NoError(t, err)
	// drained waits until layer 0 has output n pictures: with no B-frames
	// one picture comes out per frame in, so a change made now applies
	// from source frame n on.
	drained := func(n int) {
		deadline := time.Now().Add(20 * time.Second)
		for {
			out.mu.Lock()
			c := len(out.frames[0])
			out.mu.Unlock()
			if c >= n {
				return
			}
			require.True(t, time.Now().Before(deadline), "layer 0 produced %d of %d frames", c, n)
			time.Sleep(5 * time.Millisecond)
		}
	}
	var srcPTS []int64
	for _, f := range frames {
		if f.Track.Kind != media.KindVideo {
			continue
		}
		switch len(srcPTS) {
		case 30:
			drained(30)
			v.SetLayerActive(1, false)
			v.SetLayerActive(2, false)
		case 100:
			drained(100)
			v.SetLayerActive(2, true)
		}
		srcPTS = append(srcPTS, f.PTS)
		require.NoError(t, v.Write(withParams(t, vtrack, f)))
	}
	require.NoError(t, v.Close())
	require.Len(t, srcPTS, 180)

	ptsOf := func(fs []*media.Frame) []int64 {
		var p []int64
		for _, f := range fs {
			p = append(p, f.PTS)
		}
		return p
	}
	require.Equal(t, srcPTS, ptsOf(out.frames[0]), "layer 0 is never paused: every picture")
	require.Equal(t, srcPTS[:30], ptsOf(out.frames[1]), "layer 1: nothing after its pause")
	require.Equal(t, append(append([]int64{}, srcPTS[:30]...), srcPTS[100:]...), ptsOf(out.frames[2]),
		"layer 2: nothing while paused, every picture after its resume")

	// Left to x264's cadence (every 60 encoded frames) the keyframes would
	// be at 0 and 60; the resume puts one at 30 and the cadence follows it.
	var keys []int
	for n, f := range out.frames[2] {
		if f.Key {
			keys = append(keys, n)
		}
	}
	require.Equal(t, []int{0, 30, 90}, keys, "layer 2: the first frame after the resume is a keyframe")
	dec, err := ffi.NewVideoDecoder(ffi.CodecH264, nil)
	require.NoError(t, err)
	defer dec.Close()
	decoded := 0
	for _, f := range out.frames[2][30:] {
		pics, err := dec.Decode(h264.JoinAnnexB(f.Data), f.PTS)
		require.NoError(t, err)
		for _, p := range pics {
			require.Equal(t, 640, p.Width())
			decoded++
			p.Release()
		}
	}
	require.GreaterOrEqual(t, decoded, 79, "a decoder that starts at the resume decodes what follows")

	// Layer 0 was scaled from the 320x180 picture, then from the source
	// while that layer was paused: still 160x90 throughout.
	dec0, err := ffi.NewVideoDecoder(ffi.CodecH264, nil)
	require.NoError(t, err)
	defer dec0.Close()
	decoded = 0
	for _, f := range out.frames[0] {
		pics, err := dec0.Decode(h264.JoinAnnexB(f.Data), f.PTS)
		require.NoError(t, err)
		for _, p := range pics {
			require.Equal(t, [2]int{160, 90}, [2]int{p.Width(), p.Height()})
			decoded++
			p.Release()
		}
	}
	require.GreaterOrEqual(t, decoded, 179)
}

// TestAudioToOpus converts 44.1 kHz AAC to Opus: 20 ms packets with PTS
// stepping by 960 from the source's start, and the duration preserved.
func TestAudioToOpus(t *testing.T) {
	path := makeFLV(t, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "3", "-c:a", "aac", "-ar", "44100", "-ac", "2")
	_, atrack, frames := readFLV(t, path)
	require.NotNil(t, atrack)
	require.Equal(t, 44100, atrack.SampleRate)
	var got []*media.Frame
	a, err := NewAudio(AudioConfig{Source: atrack, Channels: 2, Bitrate: 96000, Output: func(f *media.Frame) { got = append(got, f) }})
	require.NoError(t, err)
	for _, f := range frames {
		require.NoError(t, a.Write(f))
	}
	require.NoError(t, a.Close())
	require.InDelta(t, 150, len(got), 3, "3 s of 20 ms packets")
	for i := 1; i < len(got); i++ {
		require.Equal(t, int64(960), got[i].PTS-got[i-1].PTS, "packet %d", i)
	}
	first := media.Rescale(frames[0].PTS, atrack.ClockRate, 48000)
	require.InDelta(t, first, got[0].PTS, 2048*48000/44100+1, "the output starts where the input starts (within the codec priming)")
	for _, f := range got {
		require.NotEmpty(t, f.Data[0])
		require.Equal(t, 48000, f.Track.ClockRate)
	}
}

// TestAudioLevel checks the RFC 6464 level carried by each Opus frame: a
// sine of amplitude 0.5 on both channels (RMS 0.354, −9 dBov), then
// silence.
func TestAudioLevel(t *testing.T) {
	path := makeFLV(t, "-f", "lavfi", "-i", "aevalsrc=if(lt(t\\,1)\\,0.5*sin(2*PI*440*t)\\,0)|if(lt(t\\,1)\\,0.5*sin(2*PI*440*t)\\,0):s=48000",
		"-t", "2", "-c:a", "aac", "-b:a", "128k")
	got := opusOf(t, path, 64000)
	require.Greater(t, len(got), 90)
	for _, f := range got {
		require.True(t, f.HasAudioLevel)
		sec := float64(f.PTS-got[0].PTS) / 48000
		switch {
		case sec > 0.2 && sec < 0.8:
			require.InDelta(t, 9, int(f.AudioLevel), 1, "the tone at %.2f s", sec)
		case sec > 1.3 && sec < 1.8:
			require.Greater(t, int(f.AudioLevel), 80, "silence at %.2f s", sec)
		}
	}
	require.Equal(t, uint8(127), dBov(0))
	require.Equal(t, uint8(0), dBov(32768*32768))
}

// TestVideoLayersPicture compares what each layer shows with what it
// should show: the source scaled by the FFmpeg CLI (area, as Tributary
// scales) is the reference, and the decoded layer must match it closely
// in luma and both chroma planes (PSNR), frame by frame. A scaler bug —
// planes swapped, chroma shifted, wrong range, a layer scaled from the
// wrong picture — fails here even when the sizes and bitrates are right.
func TestVideoLayersPicture(t *testing.T) {
	dir := t.TempDir()
	path := makeFLV(t, "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-t", "2",
		"-c:v", "libx264", "-profile:v", "high", "-bf", "2", "-crf", "12", "-pix_fmt", "yuv420p")
	vtrack, _, frames := readFLV(t, path)
	layers := []LayerTarget{{320, 180, 600_000}, {640, 360, 1_500_000}, {1280, 720, 4_000_000}}

	// The reference pictures, one raw yuv420p file per layer size.
	ref := make([][]byte, len(layers))
	for i, l := range layers {
		out := filepath.Join(dir, fmt.Sprintf("ref%d.yuv", i))
		b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", path,
			"-vf", fmt.Sprintf("scale=%d:%d:flags=area", l.Width, l.Height), "-f", "rawvideo", "-pix_fmt", "yuv420p", out).CombinedOutput()
		require.NoError(t, err, string(b))
		ref[i], err = os.ReadFile(out)
		require.NoError(t, err)
	}

	out := &layerOut{frames: map[int][]*media.Frame{}}
	v, err := NewVideo(VideoConfig{Source: vtrack, Codec: media.CodecH264, Layers: layers, Output: out.add, Blocking: true})
	require.NoError(t, err)
	for _, f := range frames {
		require.NoError(t, v.Write(withParams(t, vtrack, f)))
	}
	require.NoError(t, v.Close())

	for i, l := range layers {
		size := l.Width * l.Height * 3 / 2
		require.Len(t, ref[i], 60*size)
		dec, err := ffi.NewVideoDecoder(ffi.CodecH264, nil)
		require.NoError(t, err)
		var pics []*ffi.VideoFrame
		for _, f := range out.frames[i] {
			p, err := dec.Decode(h264.JoinAnnexB(f.Data), f.PTS)
			require.NoError(t, err)
			pics = append(pics, p...)
		}
		p, err := dec.Flush()
		require.NoError(t, err)
		pics = append(pics, p...)
		dec.Close()
		require.Len(t, pics, 60, "layer %dx%d", l.Width, l.Height)
		var sum [3]float64
		for n, pic := range pics {
			want := ref[i][n*size : (n+1)*size]
			for plane, ps := range planePSNR(pic, want, l.Width, l.Height) {
				sum[plane] += ps
			}
			pic.Release()
		}
		names := []string{"Y", "U", "V"}
		for plane := range sum {
			avg := sum[plane] / float64(len(pics))
			t.Logf("layer %dx%d: %s PSNR %.1f dB", l.Width, l.Height, names[plane], avg)
			// Measured 44–51 dB; a chroma plane swapped or shifted by a
			// pixel on this colourful source falls far below 40.
			require.Greater(t, avg, 40.0, "layer %dx%d plane %s", l.Width, l.Height, names[plane])
		}
	}
}

// planePSNR returns the PSNR of each plane of a decoded yuv420p picture
// against a packed yuv420p reference of the same size.
func planePSNR(pic *ffi.VideoFrame, want []byte, w, h int) [3]float64 {
	planes, strides := pic.Planes(), pic.Strides()
	var out [3]float64
	off := 0
	for p := range 3 {
		pw, ph := w, h
		if p > 0 {
			pw, ph = w/2, h/2
		}
		var se float64
		for y := range ph {
			row := planes[p][y*strides[p] : y*strides[p]+pw]
			ref := want[off+y*pw : off+(y+1)*pw]
			for x := range pw {
				d := float64(row[x]) - float64(ref[x])
				se += d * d
			}
		}
		off += pw * ph
		mse := se / float64(pw*ph)
		if mse == 0 {
			out[p] = 99
		} else {
			out[p] = 10 * math.Log10(255*255/mse)
		}
	}
	return out
}

// TestAudioToOpusContent decodes the Opus made from a 440 Hz AAC tone at
// 44.1 kHz and checks what a listener would: the tone is still 440 Hz
// (a wrong resampling ratio would shift it), on both channels, at about
// its level.
func TestAudioToOpusContent(t *testing.T) {
	path := makeFLV(t, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "3", "-c:a", "aac", "-ar", "44100", "-ac", "2")
	got := opusOf(t, path, 96000)

	dec, err := ffi.NewAudioDecoder(ffi.CodecOpus, nil, ffi.WithAudioParams(48000, 2))
	require.NoError(t, err)
	defer dec.Close()
	var ch [2][]float64
	for _, f := range got {
		afs, err := dec.Decode(f.Data[0], f.PTS)
		require.NoError(t, err)
		for _, af := range afs {
			require.Equal(t, 48000, af.SampleRate())
			for c := range 2 {
				ch[c] = append(ch[c], channelSamples(t, af, c)...)
			}
			af.Release()
		}
	}
	for c := range 2 {
		s := ch[c]
		require.Greater(t, len(s), 2*48000)
		mid := s[48000 : 2*48000] // one second, away from the edges
		crossings := 0
		var sq float64
		for i := 1; i < len(mid); i++ {
			if mid[i-1] < 0 && mid[i] >= 0 {
				crossings++
			}
			sq += mid[i] * mid[i]
		}
		rms := math.Sqrt(sq / float64(len(mid)))
		t.Logf("channel %d: %d Hz, RMS %.3f", c, crossings, rms)
		require.InDelta(t, 440, crossings, 3, "channel %d frequency", c)
		// ffmpeg's sine source has amplitude 1/8 (RMS 0.088), and its
		// -ac 2 upmix puts the mono tone on each channel at −3 dB: 0.0625.
		require.InDelta(t, 0.0625, rms, 0.006, "channel %d level", c)
	}
}

// opusOf transcodes the audio of an FLV file to stereo Opus at bitrate.
func opusOf(t *testing.T, path string, bitrate int) []*media.Frame {
	t.Helper()
	_, atrack, frames := readFLV(t, path)
	require.NotNil(t, atrack)
	var got []*media.Frame
	a, err := NewAudio(AudioConfig{Source: atrack, Channels: 2, Bitrate: bitrate, Output: func(f *media.Frame) { got = append(got, f) }})
	require.NoError(t, err)
	for _, f := range frames {
		require.NoError(t, a.Write(f))
	}
	require.NoError(t, a.Close())
	return got
}

// channelSamples returns channel c of a decoded audio frame as floats in
// [-1, 1].
func channelSamples(t *testing.T, af *ffi.AudioFrame, c int) []float64 {
	t.Helper()
	n, chans, format, planes := af.NumSamples(), af.Channels(), af.Format(), af.Planes()
	out := make([]float64, n)
	for i := range n {
		plane, idx := planes[0], i*chans+c
		if format.Planar() {
			plane, idx = planes[c], i
		}
		switch format {
		case ffi.SampleFormatFLT, ffi.SampleFormatFLTP:
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(plane[4*idx:])))
		case ffi.SampleFormatS16, ffi.SampleFormatS16P:
			out[i] = float64(int16(binary.LittleEndian.Uint16(plane[2*idx:]))) / 32768
		default:
			t.Fatalf("unexpected sample format %s", format)
		}
	}
	return out
}

// TestVideoPanicEndsTranscoder: a panic in the decode or an encode
// goroutine (a bug a malformed stream could meet) no longer ends the
// process: the transcoder fails with an error wrapping guard.ErrPanic,
// which its session reports, and Close returns it after every goroutine
// has ended (the package's goleak check).
func TestVideoPanicEndsTranscoder(t *testing.T) {
	path := makeFLV(t, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", "2", "-c:v", "libx264", "-bf", "0", "-g", "30")
	vtrack, _, frames := readFLV(t, path)
	for _, where := range []string{"decode", "scale", "encode"} {
		t.Run(where, func(t *testing.T) {
			out := &layerOut{frames: map[int][]*media.Frame{}}
			v, err := NewVideo(VideoConfig{Source: vtrack, Codec: media.CodecH264, Layers: []LayerTarget{{160, 90, 100_000}, {320, 180, 300_000}}, Output: out.add, Blocking: true})
			require.NoError(t, err)
			var calls atomic.Int32
			hook := func() {
				if calls.Add(1) == 10 {
					panic("a parser bug")
				}
			}
			switch where {
			case "decode":
				v.testHookDecode = hook
			case "scale":
				// A panic between taking a pool picture and queueing
				// it: Close once waited forever for that picture.
				v.testHookScale = hook
			default:
				v.testHookEncode = hook
			}
			var werr error
			for _, f := range frames {
				if f.Track.Kind != media.KindVideo {
					continue
				}
				if werr = v.Write(withParams(t, vtrack, f)); werr != nil {
					break
				}
			}
			// The frames may all be queued before the panic: the next
			// Write after it reports the failure.
			for deadline := time.Now().Add(10 * time.Second); werr == nil && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
				werr = v.Write(withParams(t, vtrack, frames[len(frames)-1]))
			}
			require.ErrorIs(t, werr, guard.ErrPanic, "Write reports the failure")
			require.ErrorContains(t, werr, "in the video transcoder: a parser bug")
			closed := make(chan error, 1)
			go func() { closed <- v.Close() }()
			select {
			case err := <-closed:
				require.ErrorIs(t, err, guard.ErrPanic)
			case <-time.After(10 * time.Second):
				t.Fatal("Close did not return after the panic")
			}
		})
	}
}

// TestVideoRestsUnwatched: with every layer paused (nobody receives any
// video) the source is not decoded at all; when a layer is wanted again,
// decoding resumes at the source's next keyframe and that layer gets
// every picture from there on.
func TestVideoRestsUnwatched(t *testing.T) {
	path := makeFLV(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-t", "6", "-c:v", "libx264", "-bf", "0",
		"-g", "30", "-keyint_min", "30", "-sc_threshold", "0")
	vtrack, _, frames := readFLV(t, path)
	layers := []LayerTarget{{160, 90, 100_000}, {320, 180, 300_000}, {640, 360, 800_000}}
	out := &layerOut{frames: map[int][]*media.Frame{}}
	v, err := NewVideo(VideoConfig{Source: vtrack, Codec: media.CodecH264, Layers: layers, Output: out.add, Blocking: true})
	require.NoError(t, err)
	var decodes atomic.Int64
	v.testHookDecode = func() { decodes.Add(1) }
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			require.True(t, time.Now().Before(deadline), what)
			time.Sleep(5 * time.Millisecond)
		}
	}
	outputs := func(layer int) int {
		out.mu.Lock()
		defer out.mu.Unlock()
		return len(out.frames[layer])
	}
	var srcPTS []int64
	for _, f := range frames {
		if f.Track.Kind != media.KindVideo {
			continue
		}
		switch len(srcPTS) {
		case 30:
			waitFor("30 pictures out before the pause", func() bool { return outputs(0) >= 30 })
			for i := range layers {
				v.SetLayerActive(i, false)
			}
		case 100:
			waitFor("frames 30–99 seen while unwatched", func() bool { return v.idle.Load() == 70 })
			v.SetLayerActive(0, true)
		}
		if len(srcPTS) == 30 || len(srcPTS) == 120 {
			require.True(t, f.Key, "frame %d is a keyframe", len(srcPTS))
		}
		srcPTS = append(srcPTS, f.PTS)
		require.NoError(t, v.Write(withParams(t, vtrack, f)))
	}
	require.NoError(t, v.Close())
	require.Len(t, srcPTS, 180)
	require.Equal(t, int64(90), decodes.Load(), "decoded: frames 0–29, then from the keyframe at 120")
	require.Equal(t, int64(90), v.idle.Load(), "left undecoded: 30–119")
	var got []int64
	for _, f := range out.frames[0] {
		got = append(got, f.PTS)
	}
	require.Equal(t, append(append([]int64{}, srcPTS[:30]...), srcPTS[120:]...), got, "layer 0: every picture it was wanted for and could be decoded")
	require.True(t, out.frames[0][30].Key, "the first picture after the rest is a keyframe")
	require.Len(t, out.frames[1], 30, "layer 1 stays paused")
	require.Len(t, out.frames[2], 30, "layer 2 stays paused")
}

// looped is frames played n times over on one timeline (frame is the
// duration of the last one), copies; frame i of the result is damaged
// first when bad(i).
func looped(frames []*media.Frame, frame int64, n int, bad func(i int) bool, damage func(*media.Frame)) []*media.Frame {
	var out []*media.Frame
	span := frames[len(frames)-1].PTS - frames[0].PTS + frame
	for k := range n {
		for _, f := range frames {
			g := *f
			g.PTS += int64(k) * span
			g.DTS += int64(k) * span
			if bad(len(out)) {
				damage(&g)
			}
			out = append(out, &g)
		}
	}
	return out
}

// TestVideoDecodeErrors: frames the decoder refuses (damaged by lost
// packets) are skipped however many there are over a session, as long as
// it decodes the frames between them; only a source it refuses for
// maxDecodeErrorRun frames in a row fails the transcoder, with the
// reason.
func TestVideoDecodeErrors(t *testing.T) {
	path := makeFLV(t, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", "2", "-c:v", "libx264", "-bf", "0", "-g", "30")
	vtrack, _, frames := readFLV(t, path)
	var video []*media.Frame
	for _, f := range frames {
		if f.Track.Kind == media.KindVideo {
			video = append(video, withParams(t, vtrack, f))
		}
	}
	// A slice whose header libavcodec refuses ("decode_slice_header
	// error"): one decode error, and the next frame decodes again.
	damage := func(f *media.Frame) {
		f.Key = false
		f.Data = [][]byte{{0x41, 0xff, 0xff, 0xff}}
	}
	loop := func(n int, bad func(i int) bool) []*media.Frame { return looped(video, 3000, n, bad, damage) }

	t.Run("spread", func(t *testing.T) {
		out := &layerOut{frames: map[int][]*media.Frame{}}
		v, err := NewVideo(VideoConfig{Source: vtrack, Codec: media.CodecH264, Layers: []LayerTarget{{320, 180, 300_000}}, Output: out.add, Blocking: true})
		require.NoError(t, err)
		in := loop(16, func(i int) bool { return i%3 == 1 })
		bad := 0
		for _, f := range in {
			if len(f.Data) == 1 && len(f.Data[0]) == 4 {
				bad++
			}
			require.NoError(t, v.Write(f))
		}
		require.NoError(t, v.Close(), "frames damaged now and then over a long session do not end it")
		require.Greater(t, bad, maxDecodeErrorRun, "more damaged frames in all than the limit in a row")
		// A damaged frame leaves the pictures that refer to it damaged
		// too: the decoder holds those back until the next keyframe.
		require.GreaterOrEqual(t, len(out.frames[0]), 2*16, "pictures after every keyframe")
	})

	t.Run("in a row", func(t *testing.T) {
		out := &layerOut{frames: map[int][]*media.Frame{}}
		v, err := NewVideo(VideoConfig{Source: vtrack, Codec: media.CodecH264, Layers: []LayerTarget{{320, 180, 300_000}}, Output: out.add, Blocking: true})
		require.NoError(t, err)
		in := loop(16, func(i int) bool { return i >= 30 }) // keyframes too
		var werr error
		for _, f := range in {
			if werr = v.Write(f); werr != nil {
				break
			}
		}
		err = v.Close()
		if werr != nil {
			err = werr
		}
		require.ErrorContains(t, err, "the video cannot be decoded")
		require.ErrorContains(t, err, fmt.Sprintf("(%d frames in a row refused)", maxDecodeErrorRun))
	})
}

// TestAudioDecodeErrors: AAC frames the decoder refuses are skipped
// however many there are over a session, as long as it decodes those
// between them; maxAudioErrorRun refused in a row fail the transcoder
// with the reason.
func TestAudioDecodeErrors(t *testing.T) {
	path := makeFLV(t, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "4", "-c:a", "aac", "-ar", "48000", "-ac", "2")
	_, atrack, frames := readFLV(t, path)
	require.NotNil(t, atrack)
	damage := func(f *media.Frame) { f.Data = [][]byte{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}} }
	loop := func(n int, bad func(i int) bool) []*media.Frame { return looped(frames, 1024, n, bad, damage) }
	run := func(in []*media.Frame) (int, error) {
		got := 0
		a, err := NewAudio(AudioConfig{Source: atrack, Channels: 2, Bitrate: 64000, Output: func(*media.Frame) { got++ }})
		require.NoError(t, err)
		for _, f := range in {
			if err := a.Write(f); err != nil {
				_ = a.Close()
				return got, err
			}
		}
		return got, a.Close()
	}

	in := loop(10, func(i int) bool { return i%3 == 1 })
	got, err := run(in)
	require.NoError(t, err, "frames damaged now and then over a long session do not end it")
	require.Greater(t, len(in)/3, maxAudioErrorRun, "more damaged frames in all than the limit in a row")
	require.Greater(t, got, 10*4*50/2, "the frames between them are transcoded")

	_, err = run(loop(6, func(i int) bool { return i >= 10 }))
	require.ErrorContains(t, err, fmt.Sprintf("the audio cannot be decoded (%d frames in a row refused)", maxAudioErrorRun))
}

// makeIVF encodes a test source with the real ffmpeg CLI into IVF and
// returns its frames.
func makeIVF(t *testing.T, args ...string) [][]byte {
	t.Helper()
	bin := testutil.FFmpeg(t)
	out := filepath.Join(t.TempDir(), "src.ivf")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...)
	b, err := exec.CommandContext(ctx, bin, append(full, "-f", "ivf", out)...).CombinedOutput()
	require.NoError(t, err, string(b))
	return testutil.IVFFile(t, out)
}

// TestVideoVP9Superframes: a VP9 superframe of two spatial layers (what
// rtpdepack makes of a scalable sender's picture) decodes to a picture
// per layer; the transcoder encodes the last, the full one, once per
// source picture. Here the layers are keyframes of two sizes: the
// layers see the larger only.
func TestVideoVP9Superframes(t *testing.T) {
	args := func(size string) []string {
		return []string{"-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=30", "-t", "1",
			"-c:v", "libvpx-vp9", "-g", "1", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "500k"}
	}
	low, high := makeIVF(t, args("320x180")...), makeIVF(t, args("640x360")...)
	require.Equal(t, len(low), len(high))
	src := &media.Track{Kind: media.KindVideo, Codec: media.CodecVP9, ClockRate: 90000, Width: 320, Height: 180}
	out := &layerOut{frames: map[int][]*media.Frame{}}
	v, err := NewVideo(VideoConfig{Source: src, Codec: media.CodecH264, MaxFrameRate: 30,
		Layers: []LayerTarget{{320, 180, 200_000}, {640, 360, 500_000}}, Output: out.add, Blocking: true})
	require.NoError(t, err)
	for i := range low {
		sf, err := vp9.JoinSuperframe([][]byte{low[i], high[i]})
		require.NoError(t, err)
		require.NoError(t, v.Write(&media.Frame{Track: src, PTS: int64(i) * 3000, DTS: int64(i) * 3000, Key: true, Data: [][]byte{sf}}))
	}
	require.NoError(t, v.Close())
	require.Equal(t, [2]int{640, 360}, [2]int{v.srcW, v.srcH}, "the pictures encoded are the upper layer's")
	for i := range 2 {
		require.Len(t, out.frames[i], len(low), "layer %d: one picture per source picture", i)
	}
	require.Zero(t, v.capped, "no picture of the same time thinned out by the frame-rate cap")
}
