package ingress

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
	"github.com/twitchtv/twirp"
)

func newTestAPI(t *testing.T) (livekit.Ingress, *httptest.Server) {
	t.Helper()
	m := newTestManager(t)
	api := NewAPI(m, auth.NewSimpleKeyProvider("devkey", "secret"))
	mux := http.NewServeMux()
	mux.Handle(api.PathPrefix(), api.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return livekit.NewIngressProtobufClient(srv.URL, srv.Client()), srv
}

func withToken(t *testing.T, key, secret string, grant *auth.VideoGrant) context.Context {
	t.Helper()
	tok, err := auth.NewAccessToken(key, secret).SetVideoGrant(grant).SetValidFor(time.Minute).ToJWT()
	require.NoError(t, err)
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	ctx, err := twirp.WithHTTPRequestHeaders(context.Background(), h)
	require.NoError(t, err)
	return ctx
}

func admin(t *testing.T) context.Context {
	return withToken(t, "devkey", "secret", &auth.VideoGrant{IngressAdmin: true})
}

func twirpCode(t *testing.T, err error) twirp.ErrorCode {
	t.Helper()
	require.Error(t, err)
	te, ok := err.(twirp.Error)
	require.True(t, ok, "not a twirp error: %v", err)
	return te.Code()
}

func TestAPIAuth(t *testing.T) {
	c, _ := newTestAPI(t)
	rawHeader := func(v string) context.Context {
		h := http.Header{}
		h.Set("Authorization", v)
		ctx, err := twirp.WithHTTPRequestHeaders(context.Background(), h)
		require.NoError(t, err)
		return ctx
	}
	cases := []struct {
		name string
		ctx  context.Context
		code twirp.ErrorCode
		msg  string
	}{
		{"no token", context.Background(), twirp.Unauthenticated, "missing Authorization header"},
		{"not bearer", rawHeader("Basic abc"), twirp.Unauthenticated, "must be 'Bearer <token>'"},
		{"garbage token", rawHeader("Bearer not.a.jwt"), twirp.Unauthenticated, "invalid token"},
		{"wrong secret", withToken(t, "devkey", "wrong", &auth.VideoGrant{IngressAdmin: true}), twirp.Unauthenticated, "invalid token"},
		{"unknown key", withToken(t, "otherkey", "secret", &auth.VideoGrant{IngressAdmin: true}), twirp.Unauthenticated, `unknown API key "otherkey"`},
		{"no ingressAdmin grant", withToken(t, "devkey", "secret", &auth.VideoGrant{RoomAdmin: true, RoomCreate: true}), twirp.PermissionDenied, "ingressAdmin"},
	}
	for _, ca := range cases {
		t.Run(ca.name, func(t *testing.T) {
			_, err := c.ListIngress(ca.ctx, &livekit.ListIngressRequest{})
			require.Equal(t, ca.code, twirpCode(t, err))
			require.Contains(t, err.Error(), ca.msg)
			_, err = c.CreateIngress(ca.ctx, &livekit.CreateIngressRequest{InputType: livekit.IngressInput_RTMP_INPUT, ParticipantIdentity: "x"})
			require.Equal(t, ca.code, twirpCode(t, err))
		})
	}
	_, err := c.ListIngress(admin(t), &livekit.ListIngressRequest{})
	require.NoError(t, err)
}

func TestAPIValidation(t *testing.T) {
	c, _ := newTestAPI(t)
	f := false
	rtmp := func(mod func(r *livekit.CreateIngressRequest)) *livekit.CreateIngressRequest {
		r := &livekit.CreateIngressRequest{InputType: livekit.IngressInput_RTMP_INPUT, RoomName: "r", ParticipantIdentity: "p"}
		mod(r)
		return r
	}
	layers := func(ls ...*livekit.VideoLayer) *livekit.IngressVideoOptions {
		return &livekit.IngressVideoOptions{EncodingOptions: &livekit.IngressVideoOptions_Options{Options: &livekit.IngressVideoEncodingOptions{Layers: ls}}}
	}
	cases := []struct {
		name  string
		req   *livekit.CreateIngressRequest
		field string
		msg   string
	}{
		{"no identity", rtmp(func(r *livekit.CreateIngressRequest) { r.ParticipantIdentity = "" }), "participant_identity", "required"},
		{"bad input type", rtmp(func(r *livekit.CreateIngressRequest) { r.InputType = 7 }), "input_type", "unsupported input type 7"},
		{"bad video preset", rtmp(func(r *livekit.CreateIngressRequest) {
			r.Video = &livekit.IngressVideoOptions{EncodingOptions: &livekit.IngressVideoOptions_Preset{Preset: 99}}
		}), "video.preset", "unknown video preset 99"},
		{"bad audio preset", rtmp(func(r *livekit.CreateIngressRequest) {
			r.Audio = &livekit.IngressAudioOptions{EncodingOptions: &livekit.IngressAudioOptions_Preset{Preset: 42}}
		}), "audio.preset", "unknown audio preset 42"},
		{"odd width", rtmp(func(r *livekit.CreateIngressRequest) {
			r.Video = layers(&livekit.VideoLayer{Quality: livekit.VideoQuality_HIGH, Width: 641, Height: 360})
		}), "video.options.layers[0].width", "must be even (got 641)"},
		{"zero height", rtmp(func(r *livekit.CreateIngressRequest) {
			r.Video = layers(&livekit.VideoLayer{Quality: livekit.VideoQuality_HIGH, Width: 640})
		}), "video.options.layers[0].height", "non-zero"},
		{"decreasing layers", rtmp(func(r *livekit.CreateIngressRequest) {
			r.Video = layers(
				&livekit.VideoLayer{Quality: livekit.VideoQuality_HIGH, Width: 320, Height: 180},
				&livekit.VideoLayer{Quality: livekit.VideoQuality_LOW, Width: 640, Height: 360})
		}), "video.options.layers[0].height", "HIGH layer must not be shorter than LOW layer"},
		{"unsupported codec", rtmp(func(r *livekit.CreateIngressRequest) {
			r.Video = &livekit.IngressVideoOptions{EncodingOptions: &livekit.IngressVideoOptions_Options{Options: &livekit.IngressVideoEncodingOptions{VideoCodec: livekit.VideoCodec_H264_HIGH}}}
		}), "video.options.video_codec", "unsupported codec H264_HIGH"},
		{"audio channels", rtmp(func(r *livekit.CreateIngressRequest) {
			r.Audio = &livekit.IngressAudioOptions{EncodingOptions: &livekit.IngressAudioOptions_Options{Options: &livekit.IngressAudioEncodingOptions{Channels: 6}}}
		}), "audio.options.channels", "got 6"},
		{"options without transcoding", rtmp(func(r *livekit.CreateIngressRequest) {
			r.EnableTranscoding = &f
			r.Video = &livekit.IngressVideoOptions{EncodingOptions: &livekit.IngressVideoOptions_Preset{}}
		}), "video", "must be empty when transcoding is disabled"},
		{"URL without url", rtmp(func(r *livekit.CreateIngressRequest) { r.InputType = livekit.IngressInput_URL_INPUT }), "url", "required"},
		{"URL bad scheme", rtmp(func(r *livekit.CreateIngressRequest) {
			r.InputType = livekit.IngressInput_URL_INPUT
			r.Url = "ftp://x/y.mp4"
		}), "url", `unsupported scheme "ftp"`},
	}
	for _, ca := range cases {
		t.Run(ca.name, func(t *testing.T) {
			_, err := c.CreateIngress(admin(t), ca.req)
			require.Equal(t, twirp.InvalidArgument, twirpCode(t, err), err.Error())
			require.Contains(t, err.Error(), ca.field+": ")
			require.Contains(t, err.Error(), ca.msg)
			require.Equal(t, ca.field, err.(twirp.Error).Meta("argument"))
		})
	}
	list, err := c.ListIngress(admin(t), &livekit.ListIngressRequest{})
	require.NoError(t, err)
	require.Empty(t, list.Items, "nothing is stored for an invalid request")

	// Every scheme the URL input pulls is accepted, rtsps:// (RTSP over
	// TLS, which the README documents) included.
	for _, u := range []string{"https://x/a.mp4", "http://x/a.m3u8", "srt://x:9000", "rtsp://x/cam", "rtsps://x/cam"} {
		require.NoError(t, validateInfo(&livekit.IngressInfo{InputType: livekit.IngressInput_URL_INPUT, Url: u, RoomName: "r", ParticipantIdentity: "p"}, validation{}), u)
	}
	// udp:// only with enable_udp_url_pull, as livekit-server has it.
	udp := &livekit.IngressInfo{InputType: livekit.IngressInput_URL_INPUT, Url: "udp://239.1.2.3:5000", RoomName: "r", ParticipantIdentity: "p"}
	require.ErrorContains(t, validateInfo(udp, validation{}), "url: udp:// URL pulls are off on this server (enable_udp_url_pull)")
	require.NoError(t, validateInfo(udp, validation{AllowUDP: true}))
}

func TestAPIRoundTrip(t *testing.T) {
	c, _ := newTestAPI(t)
	ctx := admin(t)
	rtmp, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_RTMP_INPUT, Name: "obs", RoomName: "live", ParticipantIdentity: "streamer",
		Video: &livekit.IngressVideoOptions{EncodingOptions: &livekit.IngressVideoOptions_Preset{Preset: livekit.IngressVideoEncodingPreset_H264_1080P_30FPS_3_LAYERS}},
	})
	require.NoError(t, err)
	require.Regexp(t, `^IN_\w{12}$`, rtmp.IngressId)
	require.Len(t, rtmp.StreamKey, 12)
	require.Equal(t, "rtmp://ingest.example/x", rtmp.Url)
	require.True(t, rtmp.Reusable)
	require.True(t, rtmp.GetEnableTranscoding())
	require.Equal(t, livekit.IngressState_ENDPOINT_INACTIVE, rtmp.State.Status)

	whip, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_WHIP_INPUT, RoomName: "other", ParticipantIdentity: "browser",
	})
	require.NoError(t, err)
	require.Equal(t, "http://ingest.example/w", whip.Url)
	require.False(t, whip.GetEnableTranscoding(), "WHIP forwards by default")
	require.True(t, whip.BypassTranscoding, "set for old clients")

	all, err := c.ListIngress(ctx, &livekit.ListIngressRequest{})
	require.NoError(t, err)
	require.Len(t, all.Items, 2)
	byRoom, err := c.ListIngress(ctx, &livekit.ListIngressRequest{RoomName: "live"})
	require.NoError(t, err)
	require.Len(t, byRoom.Items, 1)
	require.Equal(t, rtmp.IngressId, byRoom.Items[0].IngressId)
	byID, err := c.ListIngress(ctx, &livekit.ListIngressRequest{IngressId: whip.IngressId})
	require.NoError(t, err)
	require.Len(t, byID.Items, 1)
	require.Equal(t, "browser", byID.Items[0].ParticipantIdentity)

	f := false
	upd, err := c.UpdateIngress(ctx, &livekit.UpdateIngressRequest{IngressId: rtmp.IngressId, Name: "obs2", Enabled: &f})
	require.NoError(t, err)
	require.Equal(t, "obs2", upd.Name)
	require.False(t, upd.GetEnabled())
	require.Equal(t, rtmp.StreamKey, upd.StreamKey, "an update keeps the stream key")

	_, err = c.UpdateIngress(ctx, &livekit.UpdateIngressRequest{IngressId: "IN_doesnotexist"})
	require.Equal(t, twirp.NotFound, twirpCode(t, err))

	del, err := c.DeleteIngress(ctx, &livekit.DeleteIngressRequest{IngressId: rtmp.IngressId})
	require.NoError(t, err)
	require.Equal(t, rtmp.IngressId, del.IngressId)
	_, err = c.DeleteIngress(ctx, &livekit.DeleteIngressRequest{IngressId: rtmp.IngressId})
	require.Equal(t, twirp.NotFound, twirpCode(t, err))
	_, err = c.ListIngress(ctx, &livekit.ListIngressRequest{IngressId: rtmp.IngressId})
	require.Equal(t, twirp.NotFound, twirpCode(t, err))
}

// TestAPIRequestBounded: an authenticated client cannot make the API read
// an unbounded body (Twirp reads the whole body before decoding it).
func TestAPIRequestBounded(t *testing.T) {
	_, srv := newTestAPI(t)
	tok, err := auth.NewAccessToken("devkey", "secret").SetVideoGrant(&auth.VideoGrant{IngressAdmin: true}).SetValidFor(time.Minute).ToJWT()
	require.NoError(t, err)
	post := func(body io.Reader, length int64) (int, string) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/twirp/livekit.Ingress/ListIngress", body)
		require.NoError(t, err)
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	big := `{"room_name":"` + strings.Repeat("a", MaxRequestBytes) + `"}`
	code, msg := post(strings.NewReader(big), int64(len(big)))
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, msg, "larger than the 1048576 bytes an API request may have")
	// Unannounced length (chunked): cut at the bound.
	code, msg = post(io.MultiReader(strings.NewReader(big), strings.NewReader(strings.Repeat(" ", 8<<20))), -1)
	require.Equal(t, http.StatusBadRequest, code, msg)
	code, _ = post(strings.NewReader(`{"room_name":"r"}`), -1)
	require.Equal(t, http.StatusOK, code)
}
