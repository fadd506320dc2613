package e2e_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tributary-ingress/tributary/internal/testutil/e2e"
)

// lkCLI runs the real lk CLI against a Tributary API.
type lkCLI struct {
	bin, url string
}

func (c lkCLI) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	full := append([]string{"--url", c.url, "--api-key", "devkey", "--api-secret", "secret"}, args...)
	cmd := exec.CommandContext(ctx, c.bin, full...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user lk config
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c lkCLI) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.run(t, args...)
	require.NoError(t, err, "lk %s: %s", strings.Join(args, " "), out)
	return out
}

func writeJSON(t *testing.T, v string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "req.json")
	require.NoError(t, os.WriteFile(p, []byte(v), 0o600))
	return p
}

var reCreated = regexp.MustCompile(`IngressID: (IN_\w{12}) Status: (\w+)\s+URL: (\S+) Stream Key: (\w{12})`)

// listed is the part of `lk ingress list --json` the test reads.
type listed struct {
	Items []struct {
		IngressID string `json:"ingressId"`
		Name      string `json:"name"`
		StreamKey string `json:"streamKey"`
		URL       string `json:"url"`
		RoomName  string `json:"roomName"`
		InputType string `json:"inputType"`
		Enabled   *bool  `json:"enabled"`
		State     struct {
			Status string `json:"status"`
		} `json:"state"`
	} `json:"items"`
}

func (c lkCLI) list(t *testing.T, args ...string) listed {
	t.Helper()
	out := c.mustRun(t, append([]string{"ingress", "list", "--json"}, args...)...)
	var l listed
	require.NoError(t, json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &l), out)
	return l
}

// TestLKCLIRoundTrip manages ingresses with the real lk CLI (v2.18.2), as a
// user of LiveKit's own ingress would.
func TestLKCLIRoundTrip(t *testing.T) {
	lk := lkCLI{bin: e2e.LKBin(t)}
	tr := startTributary(t, tributaryOpts{})
	lk.url = tr.APIURL

	out := lk.mustRun(t, "ingress", "create", "--request", writeJSON(t, `{
		"input_type": "RTMP_INPUT", "name": "obs", "room_name": "show",
		"participant_identity": "host", "participant_name": "Host"}`))
	m := reCreated.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	rtmpID, rtmpKey := m[1], m[4]
	require.Equal(t, "ENDPOINT_INACTIVE", m[2])
	require.Equal(t, "rtmp://ingest.test:1935/live", m[3])

	out = lk.mustRun(t, "ingress", "create", "--request", writeJSON(t, `{
		"input_type": "WHIP_INPUT", "name": "cam", "room_name": "show", "participant_identity": "cam"}`))
	m = reCreated.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	whipID := m[1]
	require.Equal(t, "https://ingest.test/w", m[3])

	l := lk.list(t)
	require.Len(t, l.Items, 2)
	l = lk.list(t, "--id", whipID)
	require.Len(t, l.Items, 1)
	require.Equal(t, "WHIP_INPUT", l.Items[0].InputType)

	out = lk.mustRun(t, "ingress", "update", "--request", writeJSON(t, `{
		"ingress_id": "`+rtmpID+`", "name": "obs-renamed", "room_name": "show2", "enabled": false}`))
	require.Contains(t, out, "IngressID: "+rtmpID)
	require.Contains(t, out, "Stream Key: "+rtmpKey)
	l = lk.list(t, "--room", "show2")
	require.Len(t, l.Items, 1)
	require.Equal(t, "obs-renamed", l.Items[0].Name)
	require.NotNil(t, l.Items[0].Enabled)
	require.False(t, *l.Items[0].Enabled)

	// Still there after a restart.
	tr.stop(t)
	tr = startTributary(t, tributaryOpts{StorePath: tr.StorePath})
	lk.url = tr.APIURL
	l = lk.list(t)
	require.Len(t, l.Items, 2)
	for _, it := range l.Items {
		require.Contains(t, []string{rtmpID, whipID}, it.IngressID)
	}

	out = lk.mustRun(t, "ingress", "delete", rtmpID)
	require.Contains(t, out, "IngressID: "+rtmpID)
	l = lk.list(t)
	require.Len(t, l.Items, 1)
	require.Equal(t, whipID, l.Items[0].IngressID)

	// Errors come back as Twirp errors naming the problem; lk exits 1.
	out, err := lk.run(t, "ingress", "create", "--request", writeJSON(t, `{
		"input_type": "RTMP_INPUT", "participant_identity": "x",
		"video": {"options": {"layers": [{"quality": "HIGH", "width": 1280, "height": 719}]}}}`))
	require.Error(t, err)
	require.Contains(t, out, "invalid_argument")
	require.Contains(t, out, "video.options.layers[0].height: must be even (got 719)")

	out, err = lk.run(t, "ingress", "delete", rtmpID)
	require.Error(t, err)
	require.Contains(t, out, "not_found")

	bad := lkCLI{bin: lk.bin, url: tr.APIURL}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bad.bin, "--url", bad.url, "--api-key", "devkey", "--api-secret", "wrong", "ingress", "list")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	o, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(o), "unauthenticated")
}
