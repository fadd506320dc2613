package url

import (
	"net/url"
	"regexp"
	"strings"
)

// Redact drops the credentials, the query string (often a signed token,
// or an SRT streamid and passphrase) and the fragment from a URL, for
// logs, errors and the ingress state.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "(unparsable URL)"
	}
	u.User = nil
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = "…", false
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

func redact(raw string) string { return Redact(raw) }

// urlInText finds URLs in a message: a scheme, "://", and everything up to
// white space or a quote.
var urlInText = regexp.MustCompile("[A-Za-z][A-Za-z0-9+.-]*://[^\\s\"'<>`]+")

// redactText redacts every URL in a message. Punctuation that ends a
// sentence or a parenthesis right after a URL is kept outside it.
func redactText(s string) string {
	return urlInText.ReplaceAllStringFunc(s, func(m string) string {
		core := strings.TrimRight(m, ".,;:!?)]}")
		return Redact(core) + m[len(core):]
	})
}

// redactedError is an error whose message has its URLs redacted; it still
// unwraps to the original.
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactError redacts the URLs in an error's message, wherever they come
// from: the HLS demuxer's playlist and segment URLs, a library's error
// that quotes the URL it was given.
func redactError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if !strings.Contains(msg, "://") {
		return err
	}
	return &redactedError{err: err, msg: redactText(msg)}
}
