package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// reDevTools finds the DevTools address that Chromium prints when started
// with --remote-debugging-port=0.
var reDevTools = regexp.MustCompile(`DevTools listening on (ws://[^/\s]+)/devtools/browser/\S+`)

// cdpLogKeep bounds the page console messages kept for a failure report.
const cdpLogKeep = 500

// Page drives one tab of a Chromium started by [StartChromium] over the
// Chrome DevTools Protocol: it evaluates JavaScript in the page and takes
// screenshots. The page's console messages and uncaught exceptions are
// collected and logged if the test fails. It is closed by t.Cleanup.
type Page struct {
	conn *websocket.Conn

	wmu    sync.Mutex // serializes writes
	mu     sync.Mutex
	nextID int64
	calls  map[int64]chan cdpMessage
	logs   []string
	closed error

	done chan struct{} // closed when the reader has returned
}

type cdpMessage struct {
	ID     int64           `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// ConnectPage waits (until ctx is done) for the browser's DevTools
// endpoint, attaches to its first page and enables the Runtime and Page
// domains.
func ConnectPage(ctx context.Context, t testing.TB, browser *Process) (*Page, error) {
	t.Helper()
	base, err := devToolsAddress(ctx, browser)
	if err != nil {
		return nil, err
	}
	httpBase := "http://" + strings.TrimPrefix(base, "ws://")
	var wsURL string
	for wsURL == "" {
		var targets []struct {
			Type, URL, WebSocketDebuggerURL string
		}
		if err := getJSON(ctx, httpBase+"/json/list", &targets); err != nil {
			return nil, fmt.Errorf("DevTools target list: %w", err)
		}
		for _, tg := range targets {
			if tg.Type == "page" && tg.WebSocketDebuggerURL != "" {
				wsURL = tg.WebSocketDebuggerURL
				break
			}
		}
		if wsURL == "" {
			if err := pause(ctx, 50*time.Millisecond); err != nil {
				return nil, fmt.Errorf("no page target in the browser: %w", err)
			}
		}
	}
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		return nil, fmt.Errorf("DevTools websocket %s: %w", wsURL, err)
	}
	conn.SetReadLimit(64 << 20) // screenshots are large
	p := &Page{conn: conn, calls: map[int64]chan cdpMessage{}, done: make(chan struct{})}
	go p.read()
	t.Cleanup(func() {
		_ = p.conn.Close()
		<-p.done
		if t.Failed() {
			t.Logf("---- browser console ----\n%s\n---- end of browser console ----", strings.Join(p.Logs(), "\n"))
		}
	})
	for _, m := range []string{"Runtime.enable", "Page.enable"} {
		if err := p.Call(ctx, m, nil, nil); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// devToolsAddress reads ws://host:port from the browser's output.
func devToolsAddress(ctx context.Context, browser *Process) (string, error) {
	ctx, cancel := browser.WithExit(ctx)
	defer cancel()
	for {
		b, err := os.ReadFile(browser.LogPath)
		if err != nil {
			return "", err
		}
		if m := reDevTools.FindSubmatch(b); m != nil {
			return string(m[1]), nil
		}
		if err := pause(ctx, 50*time.Millisecond); err != nil {
			return "", fmt.Errorf("the browser printed no DevTools address: %w", err)
		}
	}
}

// pause waits d, or returns the cause of ctx's end.
func pause(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(d):
		return nil
	}
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

func (p *Page) read() {
	defer close(p.done)
	for {
		var m cdpMessage
		err := p.conn.ReadJSON(&m)
		if err != nil {
			p.mu.Lock()
			p.closed = fmt.Errorf("DevTools connection closed: %w", err)
			for id, ch := range p.calls {
				close(ch)
				delete(p.calls, id)
			}
			p.mu.Unlock()
			return
		}
		if m.ID != 0 {
			p.mu.Lock()
			ch := p.calls[m.ID]
			delete(p.calls, m.ID)
			p.mu.Unlock()
			if ch != nil {
				ch <- m // buffered
			}
			continue
		}
		if line := eventLine(m); line != "" {
			p.mu.Lock()
			if len(p.logs) < cdpLogKeep {
				p.logs = append(p.logs, line)
			}
			p.mu.Unlock()
		}
	}
}

// eventLine words a console message or an uncaught exception of the page.
func eventLine(m cdpMessage) string {
	switch m.Method {
	case "Runtime.consoleAPICalled":
		var ev struct {
			Type string `json:"type"`
			Args []struct {
				Value       any    `json:"value"`
				Description string `json:"description"`
			} `json:"args"`
		}
		if json.Unmarshal(m.Params, &ev) != nil {
			return ""
		}
		parts := []string{"console." + ev.Type + ":"}
		for _, a := range ev.Args {
			if a.Value != nil {
				parts = append(parts, fmt.Sprint(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		return strings.Join(parts, " ")
	case "Runtime.exceptionThrown":
		var ev struct {
			ExceptionDetails exceptionDetails `json:"exceptionDetails"`
		}
		if json.Unmarshal(m.Params, &ev) != nil {
			return ""
		}
		return "uncaught: " + ev.ExceptionDetails.String()
	}
	return ""
}

type exceptionDetails struct {
	Text      string `json:"text"`
	Exception *struct {
		Description string `json:"description"`
	} `json:"exception"`
}

func (e exceptionDetails) String() string {
	if e.Exception != nil && e.Exception.Description != "" {
		return e.Exception.Description
	}
	return e.Text
}

// Logs returns the page's console messages and uncaught exceptions so far.
func (p *Page) Logs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.logs...)
}

// Call sends a DevTools command and decodes its result into result (if
// not nil).
func (p *Page) Call(ctx context.Context, method string, params, result any) error {
	ch := make(chan cdpMessage, 1)
	p.mu.Lock()
	if p.closed != nil {
		p.mu.Unlock()
		return p.closed
	}
	p.nextID++
	id := p.nextID
	p.calls[id] = ch
	p.mu.Unlock()
	raw, err := json.Marshal(params)
	if err != nil {
		return err
	}
	if params == nil {
		raw = []byte("{}")
	}
	p.wmu.Lock()
	err = p.conn.WriteJSON(cdpMessage{ID: id, Method: method, Params: raw})
	p.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			p.mu.Lock()
			defer p.mu.Unlock()
			return fmt.Errorf("%s: %w", method, p.closed)
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		delete(p.calls, id)
		p.mu.Unlock()
		return fmt.Errorf("%s: %w", method, context.Cause(ctx))
	}
}

// ErrJSException is returned by [Page.Eval] when the expression throws.
var ErrJSException = errors.New("JavaScript exception")

// Eval evaluates a JavaScript expression in the page, awaiting it if it is
// a promise, and decodes its JSON-serializable value into result (if not
// nil).
func (p *Page) Eval(ctx context.Context, expr string, result any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *exceptionDetails `json:"exceptionDetails"`
	}
	err := p.Call(ctx, "Runtime.evaluate", map[string]any{
		"expression": expr, "awaitPromise": true, "returnByValue": true, "userGesture": true,
	}, &res)
	if err != nil {
		return err
	}
	if res.ExceptionDetails != nil {
		return fmt.Errorf("%w: %s in %q", ErrJSException, res.ExceptionDetails, expr)
	}
	if result != nil && len(res.Result.Value) > 0 {
		return json.Unmarshal(res.Result.Value, result)
	}
	return nil
}

// WaitEval evaluates expr every interval until it yields a value that
// done accepts, returning that value as JSON, or the error of the last
// attempt when ctx ends.
func (p *Page) WaitEval(ctx context.Context, expr string, interval time.Duration, done func(json.RawMessage) bool) (json.RawMessage, error) {
	var last json.RawMessage
	var lastErr error
	for {
		var v json.RawMessage
		lastErr = p.Eval(ctx, expr, &v)
		if lastErr == nil {
			last = v
			if done(v) {
				return v, nil
			}
		}
		if err := pause(ctx, interval); err != nil {
			return last, fmt.Errorf("%w (last value %s, last error %v)", err, last, lastErr)
		}
	}
}

// Screenshot returns a PNG of the page's viewport.
func (p *Page) Screenshot(ctx context.Context) ([]byte, error) {
	var res struct {
		Data string `json:"data"`
	}
	if err := p.Call(ctx, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &res); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(res.Data)
}
