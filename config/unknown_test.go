package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSource: the official worker reads a body before a file
// (cmd/server getConfig: --config-body / INGRESS_CONFIG_BODY, else
// --config / INGRESS_CONFIG_FILE), and a flag before its variable.
func TestSource(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file.yaml")
	require.NoError(t, os.WriteFile(file, []byte("from: file\n"), 0o600))
	envFile := filepath.Join(dir, "env.yaml")
	require.NoError(t, os.WriteFile(envFile, []byte("from: env file\n"), 0o600))

	for _, tc := range []struct {
		name             string
		flagPath, flagBd string
		env              map[string]string
		want, origin     string
	}{
		{"nothing", "", "", nil, "", ""},
		{"flag file", file, "", nil, "from: file\n", file},
		{"env file", "", "", map[string]string{"INGRESS_CONFIG_FILE": envFile}, "from: env file\n", envFile},
		{"flag file over env file", file, "", map[string]string{"INGRESS_CONFIG_FILE": envFile}, "from: file\n", file},
		{"env body over flag file", file, "", map[string]string{"INGRESS_CONFIG_BODY": "from: body\n"}, "from: body\n", "INGRESS_CONFIG_BODY"},
		{"env body over env file", "", "", map[string]string{"INGRESS_CONFIG_BODY": "from: body\n", "INGRESS_CONFIG_FILE": envFile}, "from: body\n", "INGRESS_CONFIG_BODY"},
		{"flag body over everything", file, "from: flag body\n", map[string]string{"INGRESS_CONFIG_BODY": "from: body\n", "INGRESS_CONFIG_FILE": envFile}, "from: flag body\n", "--config-body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, origin, err := Source(tc.flagPath, tc.flagBd, env(tc.env))
			require.NoError(t, err)
			require.Equal(t, tc.want, string(b))
			require.Equal(t, tc.origin, origin)
		})
	}

	_, _, err := Source(filepath.Join(dir, "missing.yaml"), "", env(nil))
	require.ErrorContains(t, err, "cannot read config file")
	// A body set means the file is never opened.
	_, _, err = Source(filepath.Join(dir, "missing.yaml"), "", env(map[string]string{"INGRESS_CONFIG_BODY": base}))
	require.NoError(t, err)
}

// TestUnknownKeys: keys Tributary does not know are reported with the
// key probably meant and ignored, so that a config for another release of
// the official worker starts; strict_config: true refuses the first.
func TestUnknownKeys(t *testing.T) {
	body := base + `rtmp_prot: 1935
health_prot: 9000
udp_port: 7885
completely_new_upstream_key: true
rtc_config:
  udp_prot: 7885
  stun_servers: [a]
logging:
  levle: debug
  component_levels:
    anything: debug
cpu_cost:
  rtmp_cpu_cots: 2
redis:
  adress: localhost:6379
rtmp_port: 1936
`
	c, err := Parse([]byte(body), env(nil))
	require.NoError(t, err)
	require.Equal(t, 1936, c.RTMPPort, "known keys still apply")
	var got []string
	for _, u := range c.UnknownKeys() {
		got = append(got, u.Error())
	}
	require.Equal(t, []string{
		"config: rtmp_prot: unknown key, did you mean rtmp_port? (line 4)",
		"config: health_prot: unknown key, did you mean health_port? (line 5)",
		"config: udp_port: unknown key, did you mean rtc_config.udp_port? (line 6)",
		"config: completely_new_upstream_key: unknown key (line 7)",
		"config: rtc_config.udp_prot: unknown key, did you mean rtc_config.udp_port? (line 9)",
		"config: logging.levle: unknown key, did you mean logging.level? (line 12)",
		"config: cpu_cost.rtmp_cpu_cots: unknown key, did you mean cpu_cost.rtmp_cpu_cost? (line 16)",
		"config: redis.adress: unknown key, did you mean redis.address? (line 18)",
	}, got)

	_, err = Parse([]byte(body+"strict_config: true\n"), env(nil))
	require.EqualError(t, err, "config: rtmp_prot: unknown key, did you mean rtmp_port? (line 4)")

	c, err = Parse([]byte(base+"strict_config: true\nrtc_config:\n  udp_port: 7885\n"), env(nil))
	require.NoError(t, err, "strict_config with known keys only")
	require.Empty(t, c.UnknownKeys())
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "ab", 2}, {"rtmp_port", "rtmp_port", 0},
		{"rtmp_prot", "rtmp_port", 1}, {"adress", "address", 1}, {"levle", "level", 1},
		{"kitten", "sitting", 3}, {"ab", "ba", 1}, {"ca", "abc", 3},
	} {
		require.Equal(t, tc.d, editDistance(tc.a, tc.b), "%q %q", tc.a, tc.b)
		require.Equal(t, tc.d, editDistance(tc.b, tc.a), "%q %q", tc.b, tc.a)
	}
}

// TestDrainTimeoutDefault: 0, wait for every session, as the official
// worker does on SIGTERM.
func TestDrainTimeoutDefault(t *testing.T) {
	c, err := Parse([]byte(base), env(nil))
	require.NoError(t, err)
	require.Zero(t, c.DrainTimeout)
}
