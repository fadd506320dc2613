package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWebhookConfig: livekit-server's webhook keys; signed with api_key.
func TestWebhookConfig(t *testing.T) {
	c, err := Parse([]byte(base+"webhook:\n  urls: [\"http://hooks.example/lk\"]\n"), env(nil))
	require.NoError(t, err)
	require.Equal(t, []string{"http://hooks.example/lk"}, c.Webhook.URLs)
	require.Equal(t, "k", c.Webhook.APIKey, "api_key by default")
	require.Empty(t, c.NoEffect())

	c, err = Parse([]byte(base+"webhook:\n  api_key: k\n  urls: [\"https://a\", \"http://b\"]\n  filter_params:\n    include_events: [ingress_ended]\n"), env(nil))
	require.NoError(t, err)
	require.Equal(t, []string{"ingress_ended"}, c.Webhook.FilterParams.IncludeEvents)

	_, err = Parse([]byte(base+"webhook:\n  api_key: other\n  urls: [\"http://a\"]\n"), env(nil))
	require.EqualError(t, err, `config: webhook.api_key: "other" is not api_key: Tributary signs webhooks with api_key/api_secret`)
	_, err = Parse([]byte(base+"webhook:\n  urls: [\"ftp://a\"]\n"), env(nil))
	require.ErrorContains(t, err, "webhook.urls[0]")

	c, err = Parse([]byte(base+"webhook:\n  url: [http://x]\n"), env(nil))
	require.NoError(t, err)
	require.Equal(t, "config: webhook.url: unknown key, did you mean webhook.urls? (line 5)", c.UnknownKeys()[0].Error())

	c, err = Parse([]byte(base+"redis:\n  address: 127.0.0.1:6379\nwebhook:\n  urls: [\"http://a\"]\n"), env(nil))
	require.NoError(t, err)
	require.Equal(t, [][2]string{{"webhook", "in cluster mode livekit-server sends ingress_started/ingress_ended from the states this worker reports; Tributary does not send them too"}}, c.NoEffect())
}
