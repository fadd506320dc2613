package simulcast

import (
	"errors"
	"fmt"
)

// ErrInvalidOptions is wrapped by every validation error of this package:
// errors.Is(err, ErrInvalidOptions) means the caller sent bad encoding
// options (an InvalidArgument-class error, not a server fault).
var ErrInvalidOptions = errors.New("invalid encoding options")

// FieldError reports one invalid field of the ingress encoding options.
// Retrieve it with errors.As.
type FieldError struct {
	// Field is the path of the offending field, in the JSON/proto names of
	// the API, rooted at the ingress: "video.preset",
	// "video.options.layers[1].width", "audio.options.channels", …
	Field string
	// Reason says what is wrong, and usually the value received:
	// "must be even (got 641)".
	Reason string
}

// Error implements error as "<field>: <reason>".
func (e *FieldError) Error() string {
	return e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalidOptions.
func (e *FieldError) Unwrap() error {
	return ErrInvalidOptions
}

// fieldErrorf returns a *FieldError for field with a formatted reason.
func fieldErrorf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
