// Package ingress holds ingress records and their state: IDs and stream
// keys, request validation, the embedded store, the state machine media
// sessions report through, and the Twirp livekit.Ingress API of standalone
// mode. It knows nothing about media bytes.
package ingress
