package ingress

import "errors"

// Reasons a publish is refused or a session ends; callers branch on them
// with errors.Is, and the API maps them to Twirp codes.
var (
	// ErrDisabled: the ingress exists but enabled=false.
	ErrDisabled = errors.New("ingress is disabled")
	// ErrWrongInput: the stream key belongs to an ingress of another input type.
	ErrWrongInput = errors.New("stream key belongs to an ingress of another input type")
	// ErrNotReusable: URL ingresses run once and cannot be updated.
	ErrNotReusable = errors.New("ingress is not reusable and cannot be modified")
	// ErrReplaced: a new publisher on the same stream key took over.
	ErrReplaced = errors.New("replaced by a new publisher on the same stream key")
	// ErrUpdated: the ingress was updated; the encoder's reconnect picks up the new settings.
	ErrUpdated = errors.New("ingress was updated")
	// ErrDeleted: the ingress was deleted.
	ErrDeleted = errors.New("ingress was deleted")
	// ErrShutdown: the server is stopping.
	ErrShutdown = errors.New("server is shutting down")
)
