package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestURLPullKeys: the address guard is on unless deny_private_urls: false
// says otherwise, and url_spool_budget takes bytes, 0 or -1.
func TestURLPullKeys(t *testing.T) {
	for _, tc := range []struct {
		name   string
		yaml   string
		deny   bool
		budget int64
		err    string
	}{
		{name: "defaults", deny: true},
		{name: "guard off", yaml: "deny_private_urls: false\n", deny: false},
		{name: "guard on", yaml: "deny_private_urls: true\n", deny: true},
		{name: "budget", yaml: "url_spool_budget: 1073741824\n", deny: true, budget: 1 << 30},
		{name: "no spooling", yaml: "url_spool_budget: -1\n", deny: true, budget: -1},
		{name: "bad budget", yaml: "url_spool_budget: -2\n", err: "url_spool_budget"},
		{name: "not a bool", yaml: "deny_private_urls: maybe\n", err: "deny_private_urls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(base+tc.yaml), env(nil))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.deny, c.DenyPrivate())
			require.Equal(t, tc.budget, c.URLSpoolBudget)
		})
	}
}
