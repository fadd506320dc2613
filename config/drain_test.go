package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDurationKeys: drain_timeout and transcode_delay (0 = adaptive)
// take durations, within their bounds.
func TestDurationKeys(t *testing.T) {
	env := func(string) string { return "" }
	base := "api_key: k\napi_secret: 0123456789abcdef0123456789abcdef\nws_url: ws://localhost:7880\n"
	drain := func(c *Config) time.Duration { return c.DrainTimeout }
	delay := func(c *Config) time.Duration { return c.TranscodeDelay }
	for _, tc := range []struct {
		name string
		yaml string
		get  func(*Config) time.Duration
		want time.Duration
		err  string
	}{
		{name: "drain default", get: drain, want: DefaultDrainTimeout},
		{name: "drain set", yaml: "drain_timeout: 90s\n", get: drain, want: 90 * time.Second},
		{name: "drain negative", yaml: "drain_timeout: -1s\n", err: "drain_timeout"},
		{name: "drain not a duration", yaml: "drain_timeout: soon\n", err: "drain_timeout"},
		{name: "delay default adaptive", get: delay, want: 0},
		{name: "delay pinned", yaml: "transcode_delay: 250ms\n", get: delay, want: 250 * time.Millisecond},
		{name: "delay negative", yaml: "transcode_delay: -1ms\n", err: "transcode_delay"},
		{name: "delay too long", yaml: "transcode_delay: 3s\n", err: "transcode_delay"},
		{name: "delay not a duration", yaml: "transcode_delay: fast\n", err: "transcode_delay"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(base+tc.yaml), env)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, tc.get(c))
		})
	}
}
