package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"
	"github.com/twitchtv/twirp"
)

// TestIngressClientRoundTrip drives the real binary with server-sdk-go's
// IngressClient, as an application would, and checks that records survive
// both a clean restart and kill -9.
func TestIngressClientRoundTrip(t *testing.T) {
	tr := startTributary(t, tributaryOpts{})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	rtmp, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_RTMP_INPUT, Name: "obs", RoomName: "stage",
		ParticipantIdentity: "streamer", ParticipantName: "The Streamer",
	})
	require.NoError(t, err)
	require.Regexp(t, `^IN_[a-zA-Z0-9]{12}$`, rtmp.IngressId)
	require.Regexp(t, `^[a-zA-Z0-9]{12}$`, rtmp.StreamKey)
	require.Equal(t, "rtmp://ingest.test:1935/live", rtmp.Url)
	require.Equal(t, livekit.IngressState_ENDPOINT_INACTIVE, rtmp.State.GetStatus())

	whip, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_WHIP_INPUT, Name: "browser", RoomName: "stage", ParticipantIdentity: "cam",
	})
	require.NoError(t, err)
	require.Equal(t, "https://ingest.test/w", whip.Url)
	require.NotEqual(t, rtmp.StreamKey, whip.StreamKey)
	require.False(t, whip.GetEnableTranscoding())

	upd, err := c.UpdateIngress(ctx, &livekit.UpdateIngressRequest{IngressId: whip.IngressId, ParticipantName: "Camera 1"})
	require.NoError(t, err)
	require.Equal(t, "Camera 1", upd.ParticipantName)

	// Clean restart on the same store.
	tr.stop(t)
	tr = startTributary(t, tributaryOpts{StorePath: tr.StorePath})
	c = lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	list, err := c.ListIngress(ctx, &livekit.ListIngressRequest{RoomName: "stage"})
	require.NoError(t, err)
	require.Len(t, list.Items, 2)

	// kill -9 right after an API call returned: nothing is lost.
	url, err := c.CreateIngress(ctx, &livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_RTMP_INPUT, RoomName: "other", ParticipantIdentity: "late",
	})
	require.NoError(t, err)
	_, err = c.DeleteIngress(ctx, &livekit.DeleteIngressRequest{IngressId: rtmp.IngressId})
	require.NoError(t, err)
	tr.kill9(t)
	tr = startTributary(t, tributaryOpts{StorePath: tr.StorePath})
	c = lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	list, err = c.ListIngress(ctx, &livekit.ListIngressRequest{})
	require.NoError(t, err)
	ids := map[string]*livekit.IngressInfo{}
	for _, it := range list.Items {
		ids[it.IngressId] = it
	}
	require.Len(t, ids, 2)
	require.Contains(t, ids, url.IngressId)
	require.Contains(t, ids, whip.IngressId)
	require.Equal(t, "Camera 1", ids[whip.IngressId].ParticipantName)
	require.Equal(t, whip.StreamKey, ids[whip.IngressId].StreamKey)

	// Wrong secret and a bad request get the right Twirp codes.
	bad := lksdk.NewIngressClient(tr.APIURL, "devkey", "not-the-secret")
	_, err = bad.ListIngress(ctx, &livekit.ListIngressRequest{})
	requireTwirp(t, err, twirp.Unauthenticated, "invalid token")
	_, err = c.CreateIngress(ctx, &livekit.CreateIngressRequest{
		InputType: livekit.IngressInput_RTMP_INPUT, ParticipantIdentity: "x",
		Video: &livekit.IngressVideoOptions{EncodingOptions: &livekit.IngressVideoOptions_Options{Options: &livekit.IngressVideoEncodingOptions{
			Layers: []*livekit.VideoLayer{{Quality: livekit.VideoQuality_HIGH, Width: 1281, Height: 720}},
		}}},
	})
	requireTwirp(t, err, twirp.InvalidArgument, "video.options.layers[0].width: must be even (got 1281)")
}

func requireTwirp(t *testing.T, err error, code twirp.ErrorCode, msg string) {
	t.Helper()
	require.Error(t, err)
	var te twirp.Error
	require.True(t, errors.As(err, &te), "not a twirp error: %v", err)
	require.Equal(t, code, te.Code(), err.Error())
	require.Contains(t, te.Msg(), msg)
}

// TestConfigRefused checks that the binary refuses bad configuration at
// start, naming the key, and exits non-zero. Unknown keys are refused only
// with strict_config: true (see TestConfigUnknownKeyStarts).
func TestConfigRefused(t *testing.T) {
	cases := []struct {
		name string
		body string
		want string
	}{
		{"unknown key, strict_config", "api_key: k\napi_secret: s\nws_url: ws://x\nstrict_config: true\nrtmp_prot: 1\n", "rtmp_prot: unknown key, did you mean rtmp_port? (line 5)"},
		{"bad value", "api_key: k\napi_secret: s\nws_url: ws://x\nwhip_port: many\n", `whip_port: bad value "many"`},
		{"missing ws_url", "api_key: k\napi_secret: s\n", "ws_url: required"},
		{"short secret", "api_key: k\napi_secret: secret\nws_url: ws://x\n", "api_secret: must be at least 32 characters (got 6)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(path, []byte(c.body), 0o600))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, tributaryBin, "--config", path).CombinedOutput()
			var ee *exec.ExitError
			require.True(t, errors.As(err, &ee), "want a non-zero exit, got %v: %s", err, out)
			require.Contains(t, string(out), c.want)
		})
	}

	// The same through INGRESS_CONFIG_BODY, which is read before a file,
	// as the official worker reads them: the file's own mistake is never
	// seen.
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte("whip_port: many\n"), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tributaryBin, "--config", path)
	cmd.Env = append(os.Environ(), "INGRESS_CONFIG_BODY=api_key: k\napi_secret: s\nws_url: ws://x\nstrict_config: true\nbogus: 1\n")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "INGRESS_CONFIG_BODY: config: bogus: unknown key (line 5)")
	require.NotContains(t, string(out), "whip_port")
}

// TestConfigUnknownKeyStarts: a config with keys Tributary does not know
// (a typo, or a key of a newer official release) starts, with a warning
// naming each key and the known key it probably meant, as the official
// worker starts and ignores them.
func TestConfigUnknownKeyStarts(t *testing.T) {
	tr := startTributary(t, tributaryOpts{Extra: fmt.Sprintf("rtmp_prot: 1935\nrtc_config:\n  udp_port: %d\n  udp_prot: 7885\nsome_future_key: 1\n", freeUDPPort(t))})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.ListIngress(ctx, &livekit.ListIngressRequest{})
	require.NoError(t, err, "the server runs")
	log := tr.Tail(1 << 20)
	require.Contains(t, log, "rtmp_prot: unknown key, did you mean rtmp_port?")
	require.Contains(t, log, "rtc_config.udp_prot: unknown key, did you mean rtc_config.udp_port?")
	require.Contains(t, log, "some_future_key: unknown key (line")
	require.Contains(t, log, "strict_config: true refuses unknown keys")
}
