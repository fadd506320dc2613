package url

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// readAhead is how much a range request fetches beyond what was asked, so
// sequential reads of a large file cost one request per chunk, not per
// sample.
const readAhead = 1 << 20

// RangeReader is an io.ReaderAt over an HTTP resource that supports range
// requests. It keeps one read-ahead window.
type RangeReader struct {
	ctx    context.Context
	client *Client
	url    string
	size   int64

	mu     sync.Mutex
	winOff int64
	win    []byte
	// Requests and Fetched count the range requests and bytes fetched.
	Requests int
	Fetched  int64
}

// NewRangeReader asks for the first byte to learn the size and whether the
// server honours ranges. ok is false when it does not (the caller then
// streams the body instead). A nil c is a Client with its defaults.
func NewRangeReader(ctx context.Context, c *Client, u string) (r *RangeReader, ok bool, err error) {
	if c == nil {
		c = defaultClient()
	}
	resp, err := c.get(ctx, u, 0, 0)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent {
		return nil, false, nil
	}
	size := contentRangeSize(resp.Header.Get("Content-Range"))
	if size <= 0 {
		return nil, false, nil
	}
	return &RangeReader{ctx: ctx, client: c, url: u, size: size, Requests: 1}, true, nil
}

// contentRangeSize reads the total of "bytes 0-0/12345".
func contentRangeSize(h string) int64 {
	i := strings.LastIndexByte(h, '/')
	if i < 0 {
		return -1
	}
	n, err := strconv.ParseInt(h[i+1:], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// Size is the resource's length.
func (r *RangeReader) Size() int64 { return r.size }

// ReadAt implements io.ReaderAt.
func (r *RangeReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(p) && off < r.size {
		if off >= r.winOff && off < r.winOff+int64(len(r.win)) {
			c := copy(p[n:], r.win[off-r.winOff:])
			n += c
			off += int64(c)
			continue
		}
		want := int64(len(p)-n) + readAhead
		end := min(off+want, r.size) - 1
		resp, err := r.client.get(r.ctx, r.url, off, end)
		if err != nil {
			return n, err
		}
		if resp.StatusCode != http.StatusPartialContent {
			resp.Body.Close()
			return n, fmt.Errorf("%w: the server stopped honouring range requests", ErrHTTP)
		}
		buf := r.win[:0]
		if cap(buf) < int(end-off+1) {
			buf = make([]byte, 0, end-off+1)
		}
		buf = buf[:end-off+1]
		m, err := io.ReadFull(resp.Body, buf)
		resp.Body.Close()
		r.Requests++
		r.Fetched += int64(m)
		if err != nil {
			return n, fmt.Errorf("reading %s: %w", redact(r.url), err)
		}
		r.winOff, r.win = off, buf
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
