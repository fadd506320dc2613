package simulcast

import (
	"errors"
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

func custom(o *livekit.IngressVideoEncodingOptions) *livekit.IngressVideoOptions {
	return &livekit.IngressVideoOptions{EncodingOptions: &livekit.IngressVideoOptions_Options{Options: o}}
}

func vl(q livekit.VideoQuality, w, h, br uint32) *livekit.VideoLayer {
	return &livekit.VideoLayer{Quality: q, Width: w, Height: h, Bitrate: br}
}

func TestResolveVideoOptions(t *testing.T) {
	cases := []struct {
		name string
		in   *livekit.IngressVideoOptions
		want VideoPlan
	}{
		{
			"empty options: H.264, 30 fps, 720p in 3 layers at 1.7 Mbps",
			custom(&livekit.IngressVideoEncodingOptions{}),
			VideoPlan{h264, 30, []Layer{{low, 320, 180, 212_500}, {medium, 640, 360, 601_040}, {high, 1280, 720, 1_700_000}}},
		},
		{
			"VP8 at 24 fps keeps the default ladder",
			custom(&livekit.IngressVideoEncodingOptions{VideoCodec: vp8, FrameRate: 24}),
			VideoPlan{vp8, 24, []Layer{{low, 320, 180, 212_500}, {medium, 640, 360, 601_040}, {high, 1280, 720, 1_700_000}}},
		},
		{
			"explicit bitrates kept, layers sorted LOW to HIGH",
			custom(&livekit.IngressVideoEncodingOptions{VideoCodec: h264, FrameRate: 30, Layers: []*livekit.VideoLayer{
				vl(high, 1920, 1080, 4_000_000), vl(low, 640, 360, 500_000),
			}}),
			VideoPlan{h264, 30, []Layer{{low, 640, 360, 500_000}, {high, 1920, 1080, 4_000_000}}},
		},
		{
			"bitrate 0 derived at the default 30 fps",
			custom(&livekit.IngressVideoEncodingOptions{Layers: []*livekit.VideoLayer{
				vl(high, 1920, 1080, 0), vl(medium, 1280, 720, 0), vl(low, 320, 180, 0),
			}}),
			VideoPlan{h264, 30, []Layer{{low, 320, 180, 238_144}, {medium, 1280, 720, 1_905_158}, {high, 1920, 1080, 3_500_000}}},
		},
		{
			"bitrate 0 derived at the requested frame rate",
			custom(&livekit.IngressVideoEncodingOptions{FrameRate: 60, Layers: []*livekit.VideoLayer{vl(high, 1920, 1080, 0)}}),
			VideoPlan{h264, 60, []Layer{{high, 1920, 1080, 5_886_274}}},
		},
		{
			"4:3 layer at 25 fps",
			custom(&livekit.IngressVideoEncodingOptions{FrameRate: 25, Layers: []*livekit.VideoLayer{vl(medium, 640, 480, 0)}}),
			VideoPlan{h264, 25, []Layer{{medium, 640, 480, 728_960}}},
		},
		{
			"equal sizes across qualities are allowed",
			custom(&livekit.IngressVideoEncodingOptions{Layers: []*livekit.VideoLayer{
				vl(low, 640, 360, 300_000), vl(high, 640, 360, 900_000),
			}}),
			VideoPlan{h264, 30, []Layer{{low, 640, 360, 300_000}, {high, 640, 360, 900_000}}},
		},
		{
			"OFF layer accepted and dropped, as upstream",
			custom(&livekit.IngressVideoEncodingOptions{Layers: []*livekit.VideoLayer{
				vl(livekit.VideoQuality_OFF, 2, 2, 1), vl(high, 640, 360, 900_000),
			}}),
			VideoPlan{h264, 30, []Layer{{high, 640, 360, 900_000}}},
		},
		{
			"screen share source",
			&livekit.IngressVideoOptions{Source: livekit.TrackSource_SCREEN_SHARE, EncodingOptions: &livekit.IngressVideoOptions_Options{
				Options: &livekit.IngressVideoEncodingOptions{Layers: []*livekit.VideoLayer{vl(high, 1280, 720, 2_000_000)}},
			}},
			VideoPlan{h264, 30, []Layer{{high, 1280, 720, 2_000_000}}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before *livekit.IngressVideoOptions
			if c.in != nil {
				before = proto.Clone(c.in).(*livekit.IngressVideoOptions)
			}
			got, err := ResolveVideo(c.in)
			require.NoError(t, err)
			require.Equal(t, c.want, got)
			require.True(t, proto.Equal(before, c.in), "input was mutated")
		})
	}
}

func TestResolveVideoErrors(t *testing.T) {
	cases := []struct {
		name  string
		in    *livekit.IngressVideoOptions
		field string
		msg   string
	}{
		{
			"audio source on video",
			&livekit.IngressVideoOptions{Source: livekit.TrackSource_MICROPHONE},
			"video.source", "video.source: MICROPHONE is not a video source (want CAMERA or SCREEN_SHARE)",
		},
		{
			"unknown preset",
			preset(42),
			"video.preset", "video.preset: unknown video preset 42",
		},
		{
			"nil custom options",
			custom(nil),
			"video.options", "video.options: must not be empty",
		},
		{
			"negative frame rate",
			custom(&livekit.IngressVideoEncodingOptions{FrameRate: -1}),
			"video.options.frame_rate", "video.options.frame_rate: must be a finite number >= 0, 0 for the default 30 (got -1)",
		},
		{
			"H.264 main profile",
			custom(&livekit.IngressVideoEncodingOptions{VideoCodec: livekit.VideoCodec_H264_MAIN}),
			"video.options.video_codec", "video.options.video_codec: unsupported codec H264_MAIN (want H264_BASELINE or VP8)",
		},
		{
			"H.264 high profile",
			custom(&livekit.IngressVideoEncodingOptions{VideoCodec: livekit.VideoCodec_H264_HIGH}),
			"video.options.video_codec", "video.options.video_codec: unsupported codec H264_HIGH (want H264_BASELINE or VP8)",
		},
		{
			"null layer",
			custom(&livekit.IngressVideoEncodingOptions{Layers: []*livekit.VideoLayer{vl(low, 320, 180, 0), nil}}),
			"video.options.layers[1]", "video.options.layers[1]: must not be null",
		},
		{
			"zero width",
			custom(&livekit.IngressVideoEncodingOptions{Layers: []*livekit.VideoLayer{vl(high, 0, 720, 0)}}),
			"video.options.layers[0].width", "video.options.layers[0].width: must be non-zero",
		},
		{
			"zero height",
			custom(&livekit.IngressVideoEncodingOptions{Layers: []*livekit.VideoLayer{vl(high, 1280, 0, 0)}}),
			"video.options.layers[0].height", "video.options.layers[0].height: must be non-zero",
		},
		{
			"odd width",
			custom(&livekit.IngressVideoEncodingOptions{Layers: []*livekit.VideoLayer{vl(low, 320, 180, 0), vl(high, 641, 360, 0)}}),
			"video.options.layers[1].width", "video.options.layers[1].width: must be even (got 641)",
		},
		{
			"odd height",
			custom(&livekit.IngressVideoEncodingOptions{Layers: []*livekit.VideoLayer{vl(high, 640, 361, 0)}}),
			"video.options.layers[0].height", "video.options.layers[0].height: must be even (got 361)",
		},
		{
			"duplicate quality",
			custom(&livekit.IngressVideoEncodingOptions{Layers: []*livekit.VideoLayer{
				vl(medium, 640, 360, 0), vl(high, 1280, 720, 0), vl(medium, 960, 540, 0),
			}}),
			"video.options.layers[2].quality", "video.options.layers[2].quality: duplicate quality MEDIUM (also layers[0])",
		},
		{
			"higher quality shorter",
			custom(&livekit.IngressVideoEncodingOptions{Layers: []*livekit.VideoLayer{
				vl(high, 1280, 180, 0), vl(medium, 640, 360, 0),
			}}),
			"video.options.layers[0].height", "video.options.layers[0].height: HIGH layer must not be shorter than MEDIUM layer layers[1] (height 360) (got 180)",
		},
		{
			"higher quality narrower",
			custom(&livekit.IngressVideoEncodingOptions{Layers: []*livekit.VideoLayer{
				vl(low, 640, 180, 0), vl(high, 320, 720, 0),
			}}),
			"video.options.layers[1].width", "video.options.layers[1].width: HIGH layer must not be narrower than LOW layer layers[0] (width 640) (got 320)",
		},
		{
			"only unusable qualities",
			custom(&livekit.IngressVideoEncodingOptions{Layers: []*livekit.VideoLayer{vl(livekit.VideoQuality_OFF, 640, 360, 0)}}),
			"video.options.layers", "video.options.layers: no layer has quality LOW, MEDIUM or HIGH",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ResolveVideo(c.in)
			require.Error(t, err)
			require.ErrorIs(t, err, ErrInvalidOptions)
			var fe *FieldError
			require.True(t, errors.As(err, &fe))
			require.Equal(t, c.field, fe.Field)
			require.EqualError(t, err, c.msg)
		})
	}
}
