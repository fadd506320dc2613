package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDrainTimeout(t *testing.T) {
	env := func(string) string { return "" }
	base := "api_key: k\napi_secret: 0123456789abcdef0123456789abcdef\nws_url: ws://localhost:7880\n"
	for _, tc := range []struct {
		name string
		yaml string
		want time.Duration
		err  string
	}{
		{name: "default", want: DefaultDrainTimeout},
		{name: "set", yaml: "drain_timeout: 90s\n", want: 90 * time.Second},
		{name: "negative", yaml: "drain_timeout: -1s\n", err: "drain_timeout"},
		{name: "not a duration", yaml: "drain_timeout: soon\n", err: "drain_timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(base+tc.yaml), env)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, c.DrainTimeout)
		})
	}
}

func TestTranscodeDelay(t *testing.T) {
	env := func(string) string { return "" }
	base := "api_key: k\napi_secret: 0123456789abcdef0123456789abcdef\nws_url: ws://localhost:7880\n"
	for _, tc := range []struct {
		name string
		yaml string
		want time.Duration
		err  string
	}{
		{name: "default adaptive", want: 0},
		{name: "pinned", yaml: "transcode_delay: 250ms\n", want: 250 * time.Millisecond},
		{name: "negative", yaml: "transcode_delay: -1ms\n", err: "transcode_delay"},
		{name: "too long", yaml: "transcode_delay: 3s\n", err: "transcode_delay"},
		{name: "not a duration", yaml: "transcode_delay: fast\n", err: "transcode_delay"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(base+tc.yaml), env)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, c.TranscodeDelay)
		})
	}
}
