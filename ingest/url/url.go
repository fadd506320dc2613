// Package url is the pull input: it fetches media from an http(s) URL —
// files with range requests (an MP4 whose moov atom is at the end starts
// without downloading the whole file), streams, HLS playlists — recognizes
// the container from its first bytes rather than from the extension, and
// hands tracks and frames to a sink at the pace the sink takes them.
package url

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Limits and timeouts of the HTTP client.
const (
	// DialTimeout bounds connecting to the media server.
	DialTimeout = 10 * time.Second
	// HeaderTimeout bounds waiting for the response headers.
	HeaderTimeout = 15 * time.Second
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
	ErrPrivateAddress = errors.New("destination is a private, loopback or link-local address, which this server refuses")
)

// ClientConfig configures the HTTP client.
type ClientConfig struct {
	// DenyPrivate refuses destinations on loopback, private, link-local and
	// unspecified addresses (checked on the resolved address of every
	// connection, redirects included): for deployments that take URLs from
	// end users.
	DenyPrivate bool
}

// NewClient returns the HTTP client of the pull input.
func NewClient(c ClientConfig) *http.Client {
	d := &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}
	if c.DenyPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip := net.ParseIP(host)
			if ip == nil || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
				ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast() {
				return fmt.Errorf("%w (%s)", ErrPrivateAddress, host)
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            d.DialContext,
		TLSHandshakeTimeout:    DialTimeout,
		ResponseHeaderTimeout:  HeaderTimeout,
		MaxResponseHeaderBytes: MaxHeaderBytes,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConnsPerHost:    4,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= MaxRedirects {
				return fmt.Errorf("stopped after %d redirects", MaxRedirects)
			}
			return nil
		},
	}
}

// get issues a GET (with an optional byte range) and checks the status.
func get(ctx context.Context, c *http.Client, u string, from, to int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if from > 0 || to >= 0 {
		if to >= 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", from, to))
		} else {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", from))
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", redact(u), err)
	}
	if resp.StatusCode/100 != 2 {
		resp.Body.Close()
		return nil, fmt.Errorf("%w %d (%s) fetching %s", ErrHTTP, resp.StatusCode, http.StatusText(resp.StatusCode), redact(u))
	}
	return resp, nil
}

// redact drops credentials and the query string (often a signed token)
// from a URL for logs and errors.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.String()
}

// Format is a recognized container.
type Format string

// Containers the pull input reads.
const (
	FormatUnknown Format = ""
	FormatMP4     Format = "mp4" // MP4, MOV, M4A, fragmented MP4
	FormatMKV     Format = "mkv" // Matroska, WebM
	FormatOgg     Format = "ogg"
	FormatMP3     Format = "mp3"
	FormatTS      Format = "ts"
	FormatFLV     Format = "flv"
	FormatHLS     Format = "hls"
	FormatRTSP    Format = "rtsp" // RTP from an RTSP server, not a container
)

// Sniff recognizes the container from the first bytes; the content type
// and the path only break ties (an MP3 without ID3 tag, a playlist).
func Sniff(b []byte, contentType, path string) Format {
	switch {
	case len(b) >= 8 && isMP4Box(b[4:8]):
		return FormatMP4
	case len(b) >= 4 && b[0] == 0x1a && b[1] == 0x45 && b[2] == 0xdf && b[3] == 0xa3:
		return FormatMKV
	case len(b) >= 4 && string(b[:4]) == "OggS":
		return FormatOgg
	case len(b) >= 3 && string(b[:3]) == "FLV":
		return FormatFLV
	case len(b) >= 7 && strings.HasPrefix(strings.TrimLeft(string(b[:min(len(b), 64)]), "\ufeff \r\n\t"), "#EXTM3U"):
		return FormatHLS
	case isTS(b):
		return FormatTS
	case len(b) >= 3 && string(b[:3]) == "ID3":
		return FormatMP3
	case len(b) >= 2 && b[0] == 0xff && b[1]&0xe0 == 0xe0 && b[1]&0x06 != 0:
		return FormatMP3 // MPEG audio frame sync with a layer set
	}
	ct := strings.ToLower(contentType)
	switch {
	case strings.Contains(ct, "mpegurl"):
		return FormatHLS
	case strings.Contains(ct, "audio/mpeg") && !strings.HasSuffix(strings.ToLower(path), ".m3u8"):
		return FormatMP3
	}
	return FormatUnknown
}

func isMP4Box(t []byte) bool {
	switch string(t) {
	case "ftyp", "moov", "mdat", "free", "skip", "wide", "styp", "moof", "sidx", "pnot":
		return true
	}
	return false
}

// isTS checks the 0x47 sync byte every 188 bytes.
func isTS(b []byte) bool {
	if len(b) < 188*3 {
		return len(b) >= 188 && b[0] == 0x47 && (len(b) < 189 || b[188] == 0x47)
	}
	for i := 0; i < 3; i++ {
		if b[i*188] != 0x47 {
			return false
		}
	}
	return true
}
