package url

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/logger"
)

// Limits and timeouts of the HTTP client.
const (
	// DialTimeout bounds connecting to the media server.
	DialTimeout = 10 * time.Second
	// HeaderTimeout bounds waiting for the response headers.
	HeaderTimeout = 15 * time.Second
	// IdleTimeout ends a response body (file, stream, HLS playlist or
	// segment) that delivers no byte for this long while it is being
	// read. Only time spent waiting inside a read counts: a pull that
	// reads slowly because the room plays in real time is not idle.
	IdleTimeout = 15 * time.Second
	// MaxRedirects is how many redirects are followed.
	MaxRedirects = 5
	// MaxHeaderBytes bounds the response headers a server may send.
	MaxHeaderBytes = 64 << 10
	// ProbeSize is how many bytes are read to recognize the container.
	ProbeSize = 4096
)

// Errors a user sees in the ingress state.
var (
	ErrHTTP           = errors.New("HTTP error")
	ErrNotMedia       = errors.New("not a media file Tributary can read")
	ErrPrivateAddress = errors.New("destination is a loopback, private, link-local or otherwise non-public address, which this server refuses (deny_private_urls)")
	ErrStalled        = errors.New("the origin sent nothing")
)

// Client is how pulls reach the network: the HTTP client of http(s) URLs
// and the dialer of srt:// and rtsp(s):// URLs, both behind the same
// address guard, and the spool of MP4 files served without range
// support. One Client serves every pull of a process: its spool budget is
// the process's. Set the fields, then call Initialize.
type Client struct {
	// AllowPrivate turns the address guard off (deny_private_urls: false):
	// pulls may then reach loopback, private, link-local and other
	// non-public addresses, and HTTP_PROXY / HTTPS_PROXY / NO_PROXY are
	// honoured. With the guard on (the zero value), the proxy variables
	// are not used: a proxy resolves the target itself, so only the
	// proxy's own address could be checked.
	AllowPrivate bool
	// IdleTimeout overrides IdleTimeout when positive.
	IdleTimeout time.Duration
	// SpoolDir is where MP4 files are spooled; empty means
	// DefaultSpoolDir().
	SpoolDir string
	// SpoolBudget bounds the bytes all spooled files may take together
	// (url_spool_budget); 0 means DefaultSpoolBudget, negative means no
	// spooling (such MP4 files are refused).
	SpoolBudget int64
	// Logger receives the start-up notes (spool files removed, proxy
	// variables ignored). Optional.
	Logger logger.Logger

	// Test hooks: the resolver, the dialer of address literals, and the
	// HLS retry delay.
	lookup        func(ctx context.Context, host string) ([]netip.Addr, error)
	dial          func(ctx context.Context, network, address string) (net.Conn, error)
	hlsRetryDelay time.Duration

	guard *guard
	http  *http.Client
	spool *spool
}

// Initialize builds the client, prepares the spool directory and removes
// the spool files that processes no longer running left behind. A spool
// directory that cannot be used is logged; only the pulls that need to
// spool then fail.
func (c *Client) Initialize() error {
	if c.Logger == nil {
		c.Logger = logger.GetLogger()
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = IdleTimeout
	}
	c.guard = newGuard(c.AllowPrivate, c.lookup, c.dial)
	tr := &http.Transport{
		DialContext:            c.guard.DialContext,
		TLSHandshakeTimeout:    DialTimeout,
		ResponseHeaderTimeout:  HeaderTimeout,
		MaxResponseHeaderBytes: MaxHeaderBytes,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConnsPerHost:    4,
	}
	if c.AllowPrivate {
		tr.Proxy = http.ProxyFromEnvironment
	} else if v := proxyVariables(); v != "" {
		c.Logger.Warnw("URL pulls connect directly and do not use the proxy: with deny_private_urls on, a proxy would resolve the target itself, out of reach of the address check", nil, "variables", v)
	}
	c.http = &http.Client{
		Transport: tr,
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) >= MaxRedirects {
				return fmt.Errorf("stopped after %d redirects", MaxRedirects)
			}
			return nil
		},
	}
	budget := c.SpoolBudget
	if budget == 0 {
		budget = DefaultSpoolBudget
	}
	dir := c.SpoolDir
	if dir == "" {
		dir = DefaultSpoolDir()
	}
	c.spool = openSpool(dir, max(budget, 0), c.Logger)
	return nil
}

// Close closes the idle connections.
func (c *Client) Close() {
	if c.http != nil {
		c.http.CloseIdleConnections()
	}
}

// proxyVariables names the proxy variables of the environment that are
// set.
func proxyVariables() string {
	var set []string
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		if os.Getenv(k) != "" {
			set = append(set, k)
		}
	}
	return strings.Join(set, ", ")
}

var defaultClient = sync.OnceValue(func() *Client {
	c := &Client{}
	_ = c.Initialize() // cannot fail
	return c
})

// do issues a GET (with an optional byte range) and returns the response
// whatever its status, its body under the idle deadline. Its errors do
// not name the URL: the caller does.
func (c *Client) do(ctx context.Context, u string, from, to int64) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		cancel(nil)
		return nil, errors.New("invalid URL")
	}
	if from > 0 || to >= 0 {
		if to >= 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", from, to))
		} else {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", from))
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		cancel(nil)
		// *url.Error repeats the URL with its query string.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, unquote(err)
	}
	resp.Body = newIdleBody(resp.Body, c.IdleTimeout, cancel)
	return resp, nil
}

// get is do for a 2xx answer: other statuses are an ErrHTTP.
func (c *Client) get(ctx context.Context, u string, from, to int64) (*http.Response, error) {
	resp, err := c.do(ctx, u, from, to)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", redact(u), err)
	}
	if resp.StatusCode/100 != 2 {
		resp.Body.Close()
		return nil, fmt.Errorf("%w %d (%s) fetching %s", ErrHTTP, resp.StatusCode, http.StatusText(resp.StatusCode), redact(u))
	}
	return resp, nil
}

// quoted is a Go-quoted string in an error message.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// unquote drops the quoted strings from a transport error: net/http
// quotes what a server sent when it is not HTTP ("malformed HTTP response
// \"-ERR unknown command\"", a malformed header line), which would let
// whoever reads the ingress state read a non-HTTP service's answer.
func unquote(err error) error {
	msg := err.Error()
	if !strings.Contains(msg, `"`) {
		return err
	}
	return &redactedError{err: err, msg: quoted.ReplaceAllString(msg, "(…)")}
}

// describeBody says what a response that is not media was, without
// quoting it: its media type and its length, never its bytes (an error
// that quoted them would let whoever reads the ingress state read what
// the server fetched).
func describeBody(resp *http.Response) string {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt == "" || len(mt) > 100 || strings.ContainsFunc(mt, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		mt = "unknown"
	}
	size := "length unknown"
	if resp.ContentLength >= 0 {
		size = fmt.Sprintf("%d bytes", resp.ContentLength)
	}
	return fmt.Sprintf("content-type %s, %s", mt, size)
}
