package e2e_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil"
	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// TestRTMPGStreamer publishes with GStreamer's rtmp2sink, a second real
// RTMP client, and checks the room gets the transcoded layers and Opus.
func TestRTMPGStreamer(t *testing.T) {
	gst := testutil.RequireTool(t, "", "", "run scripts/install-system-deps.sh", "gst-launch-1.0")
	lk := e2e.StartLiveKit(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	info := createRTMP(ctx, t, c, "gst", "gstreamer", true)
	sub := e2e.NewSubscriber(t, lk, "gst")

	url := fmt.Sprintf("rtmp://127.0.0.1:%d/live/%s", tr.RTMPPort, info.StreamKey)
	p := e2e.StartProcess(t, "gst-launch", gst, "-q",
		"videotestsrc", "is-live=true", "num-buffers=450", "pattern=ball", "!",
		"video/x-raw,width=640,height=360,framerate=30/1", "!",
		"x264enc", "tune=zerolatency", "speed-preset=ultrafast", "key-int-max=60", "!", "h264parse", "!",
		"flvmux", "name=m", "streamable=true", "!", "rtmp2sink", "location="+url,
		"audiotestsrc", "is-live=true", "wave=sine", "!", "audio/x-raw,rate=48000,channels=2", "!",
		"voaacenc", "!", "aacparse", "!", "m.")
	pctx, stop := p.WithExit(ctx)
	defer stop()

	st := waitState(pctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	require.Equal(t, uint32(640), st.State.Video.GetWidth())
	require.Equal(t, uint32(360), st.State.Video.GetHeight())
	require.Equal(t, uint32(48000), st.State.Audio.GetSampleRate())

	// A 640x360 source on the default preset: layers fitted, none upscaled,
	// the top one at the source size.
	vt, err := sub.WaitTrack(pctx, func(s e2e.TrackStats) bool {
		return s.MimeType == "video/H264" && s.Width > 0 && s.Window >= 2*time.Second
	})
	require.NoError(t, err)
	require.Equal(t, 640, vt.Width)
	require.Equal(t, 360, vt.Height)
	require.InDelta(t, 30, vt.FPS, 4)
	_, err = sub.WaitTrack(pctx, func(s e2e.TrackStats) bool { return s.MimeType == "audio/opus" && s.Frames > 50 })
	require.NoError(t, err)
}

// selfSigned writes a throwaway certificate and key for 127.0.0.1.
func selfSigned(t *testing.T) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	dir := t.TempDir()
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return certPath, keyPath
}

// TestRTMPS publishes with ffmpeg over RTMPS to a listener with a
// self-signed certificate.
func TestRTMPS(t *testing.T) {
	lk := e2e.StartLiveKit(t)
	cert, key := selfSigned(t)
	port := freePort(t)
	tr := startTributary(t, tributaryOpts{WsURL: lk.URL, Extra: fmt.Sprintf(
		"rtmps_port: %d\nrtmps_cert_file: %s\nrtmps_key_file: %s\n", port, cert, key)})
	c := lksdk.NewIngressClient(tr.APIURL, "devkey", "secret")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	info := createRTMP(ctx, t, c, "secure", "tls", false)
	sub := e2e.NewSubscriber(t, lk, "secure")

	// ffmpeg does not verify the certificate unless asked (tls_verify=0 is
	// its default), as encoders pointed at a self-signed endpoint do.
	ff := ffmpegRTMP(t, fmt.Sprintf("rtmps://127.0.0.1:%d/live/%s", port, info.StreamKey), 12, baseline...)
	fctx, stop := ff.WithExit(ctx)
	defer stop()
	waitState(fctx, t, c, info.IngressId, livekit.IngressState_ENDPOINT_PUBLISHING)
	vt, err := sub.WaitTrack(fctx, func(s e2e.TrackStats) bool {
		return s.MimeType == "video/H264" && s.Width > 0 && s.Window >= 2*time.Second
	})
	require.NoError(t, err)
	require.Equal(t, 1280, vt.Width)
	require.InDelta(t, 30, vt.FPS, 4)
}
