package transcode

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/tributary-ingress/tributary/codec/h264"
	"github.com/tributary-ingress/tributary/ffi"
	"github.com/tributary-ingress/tributary/internal/testutil/flvtest"
	"github.com/tributary-ingress/tributary/media"
)

// benchFrames are decoded 1080p pictures of a moving, noisy test source,
// shared by the layer benchmarks (decoding them once is slow).
var benchFrames struct {
	once   sync.Once
	frames []*ffi.VideoFrame
	err    error
}

// sourcePictures decodes one second of 1920x1080 testsrc2 with noise,
// encoded by the ffmpeg CLI.
func sourcePictures(b *testing.B) []*ffi.VideoFrame {
	b.Helper()
	benchFrames.once.Do(func() {
		path := makeFLV(b, "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30,noise=alls=12:allf=t+u",
			"-t", "1", "-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "60", "-b:v", "6M", "-an")
		benchFrames.frames, benchFrames.err = decodeFile(path)
	})
	if benchFrames.err != nil {
		b.Fatal(benchFrames.err)
	}
	return benchFrames.frames
}

func decodeFile(path string) ([]*ffi.VideoFrame, error) {
	var dec *ffi.VideoDecoder
	var params [][]byte
	var out []*ffi.VideoFrame
	err := flvtest.Read(path,
		func(t *media.Track) error {
			if t.Kind != media.KindVideo {
				return nil
			}
			var dc h264.DecoderConfig
			if err := dc.Unmarshal(t.Config); err != nil {
				return err
			}
			params = append(append([][]byte{}, dc.SPS...), dc.PPS...)
			var err error
			dec, err = ffi.NewVideoDecoder(ffi.CodecH264, nil, ffi.WithThreads(1))
			return err
		},
		func(fr *media.Frame) error {
			if dec == nil || fr.Track.Kind != media.KindVideo {
				return nil
			}
			data := fr.Data
			if fr.Key {
				data = append(append([][]byte{}, params...), data...)
			}
			pics, err := dec.Decode(h264.AppendAnnexB(nil, data), fr.PTS)
			out = append(out, pics...)
			return err
		})
	if dec != nil {
		defer dec.Close()
	}
	if err != nil {
		return nil, err
	}
	if dec == nil {
		return nil, errors.New("no video")
	}
	pics, err := dec.Flush()
	return append(out, pics...), err
}

// benchLayer measures one layer's per-picture work as the transcoder does
// it: scale from the picture it is fed (the source for the top layer, the
// next larger layer's picture below it) and encode.
func benchLayer(b *testing.B, w, h, bitrate int, from [2]int) {
	src := sourcePictures(b)
	// The input of this layer: the source, or pictures already scaled to
	// the next larger layer's size.
	in := src
	if from[0] != 1920 {
		s, err := ffi.NewScaler(1920, 1080, from[0], from[1], scaleFlags)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		in = nil
		for _, p := range src {
			dst, err := s.NewFrame()
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Scale(p, dst); err != nil {
				b.Fatal(err)
			}
			defer dst.Release()
			in = append(in, dst)
		}
	}
	s, err := ffi.NewScaler(from[0], from[1], w, h, scaleFlags)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	dst, err := s.NewFrame()
	if err != nil {
		b.Fatal(err)
	}
	defer dst.Release()
	enc, err := ffi.NewVideoEncoder(ffi.VideoEncoderConfig{
		Codec: ffi.CodecH264, Width: w, Height: h, FPS: 30, Bitrate: bitrate, Threads: encoderThreads,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	b.ReportAllocs()
	n := 0
	var bytes int64
	for b.Loop() {
		p := in[n%len(in)]
		if err := s.Scale(p, dst); err != nil {
			b.Fatal(err)
		}
		dst.PTS = int64(n) * 3000
		pkts, err := enc.Encode(dst)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range pkts {
			bytes += int64(len(p.Data))
		}
		n++
	}
	b.ReportMetric(float64(bytes*8)/float64(n)*30/1000, "kbps")
}

func BenchmarkLayer720p(b *testing.B) {
	benchLayer(b, 1280, 720, 1_900_000, [2]int{1920, 1080})
}

func BenchmarkLayer360p(b *testing.B) {
	b.Run("from=720p", func(b *testing.B) { benchLayer(b, 640, 360, 671_751, [2]int{1280, 720}) })
	b.Run("from=1080p", func(b *testing.B) { benchLayer(b, 640, 360, 671_751, [2]int{1920, 1080}) })
}

func BenchmarkLayer180p(b *testing.B) {
	b.Run("from=360p", func(b *testing.B) { benchLayer(b, 320, 180, 237_500, [2]int{640, 360}) })
	b.Run("from=1080p", func(b *testing.B) { benchLayer(b, 320, 180, 237_500, [2]int{1920, 1080}) })
}

// BenchmarkScale is the scaling alone, per algorithm and source size.
func BenchmarkScale(b *testing.B) {
	for _, c := range []struct{ fw, fh, w, h int }{
		{1920, 1080, 1280, 720}, {1280, 720, 640, 360}, {1920, 1080, 640, 360}, {640, 360, 320, 180}, {1920, 1080, 320, 180},
	} {
		for _, fl := range []struct {
			name string
			f    ffi.ScaleFlags
		}{{"bilinear", ffi.ScaleBilinear}, {"fast_bilinear", ffi.ScaleFastBilinear}, {"area", ffi.ScaleArea}} {
			b.Run(fmt.Sprintf("%dp-%dp/%s", c.fh, c.h, fl.name), func(b *testing.B) {
				src := sourcePictures(b)
				in := src[0]
				if c.fw != 1920 {
					s, err := ffi.NewScaler(1920, 1080, c.fw, c.fh, ffi.ScaleBilinear)
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					if in, err = s.NewFrame(); err != nil {
						b.Fatal(err)
					}
					defer in.Release()
					if err := s.Scale(src[0], in); err != nil {
						b.Fatal(err)
					}
				}
				s, err := ffi.NewScaler(c.fw, c.fh, c.w, c.h, fl.f)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				dst, err := s.NewFrame()
				if err != nil {
					b.Fatal(err)
				}
				defer dst.Release()
				b.ReportAllocs()
				for b.Loop() {
					if err := s.Scale(in, dst); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
